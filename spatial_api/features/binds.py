"""Bind parameters collected while SQL text is assembled, so values never enter the SQL."""

from __future__ import annotations

from typing import Any


class Binds(dict[str, Any]):
    def add(self, value: Any) -> str:
        """Register a value; returns its placeholder (never follow it with `::`)."""
        name = f"b{len(self)}"
        self[name] = value
        return f":{name}"
