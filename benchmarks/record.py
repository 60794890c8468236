"""Write one benchmark's section into BENCHMARKS.md, between its own markers."""

from __future__ import annotations

import os
import time
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
SHARED_MACHINE = "The machine is shared, so expect ±30 % between runs."


def provenance(command: str, repeat: int, beside: str = "servers and client") -> str:
    """How and where a section's figures were measured: command, date, machine, runs."""
    return (
        f"`{command}`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, PostgreSQL, "
        f"{beside} on one machine; median of {repeat} interleaved runs"
    )


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) `<!-- name:start -->…<!-- name:end -->`; other sections stay."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
