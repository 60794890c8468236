"""`citygis demo`: the Qingdao demo city loaded once, then served."""

from __future__ import annotations

import logging

import psycopg
from rich.console import Console
from rich.progress import Progress

log = logging.getLogger(__name__)
console = Console(stderr=True)


def loaded_sources(url: str) -> set[str]:
    from loaders.load import libpq_url

    with psycopg.connect(libpq_url(url)) as conn:
        return {s for (s,) in conn.execute("SELECT DISTINCT source FROM city.load_runs")}


def load_demo(url: str, seed: int, scale: float, reload: bool = False) -> None:
    """Load every demo layer not loaded before (same source label); each in one transaction."""
    from citygis.demo_zones import demo_zones
    from loaders import LoadOptions, load_frames
    from loaders.demo_city import demo_readings, demo_sources
    from loaders.demo_city.sources import demo_zone_plans
    from loaders.load import libpq_url
    from loaders.readings import load_readings

    log.info("building the Qingdao demo (seed %s, scale %g)", seed, scale)
    sources = demo_sources(seed=seed, scale=scale)
    done = set() if reload else loaded_sources(url)
    todo = [s for s in sources if s.source not in done or reload]
    skipped = len(sources) - len(todo)
    if skipped:
        log.info("%d demo layers already loaded; set --reload to load them again", skipped)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("loading the demo city", total=len(todo))
        for src in todo:
            bar.update(task, description=f"loading {src.layer}")
            report = load_frames(
                url, {src.layer: src.frame}, source=src.source, options=LoadOptions()
            )
            layer = report.layers[0]
            log.info(
                "%s: %d new, %d changed, %d unchanged from %s in %.1f s",
                src.layer,
                layer.new,
                layer.changed,
                layer.unchanged,
                src.source,
                report.seconds,
            )
            bar.advance(task)
    plans, zones_label = demo_zone_plans(sources, seed)
    if reload or zones_label not in done:  # drawn by the API's hazard code, so loaded last
        zones = load_frames(
            url, {"hazard_zones": demo_zones(url, plans)}, source=zones_label, options=LoadOptions()
        )
        log.info("hazard_zones: %d versions from %s", zones.layers[0].rows_read, zones_label)
    frame, label = demo_readings(sources, seed)
    if reload or label not in done:
        readings = load_readings(libpq_url(url), frame, name="demo readings", source=label)
        log.info(
            "sensor readings: %d new, %d replaced from %s in %.1f s",
            readings.inserted,
            readings.replaced,
            label,
            readings.seconds,
        )
