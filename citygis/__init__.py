"""citygis: the platform core (settings, embedded PostGIS, migrations, CLI)."""

__version__ = "0.1.0"
