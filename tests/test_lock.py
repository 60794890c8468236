"""requirements.lock decides what is installed: it covers pyproject.toml, and the venv is it.

A dependency added to pyproject.toml without `./dev lock`, or a package upgraded in the venv
by hand (as pandas 3 once arrived unannounced), fails here instead of in a user's load.
"""

from __future__ import annotations

import os
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Installed beside the lock on purpose: the project itself, the venv's own installer, and
# the OGC suite that ./dev installs --no-deps (its pins are older than ours).
NOT_LOCKED = {"citygis", "pip", "setuptools", "wheel", "ogctests"}

pytestmark = pytest.mark.skipif(
    os.environ.get("CITYGIS_UNLOCKED") == "1", reason="CITYGIS_UNLOCKED: the newest versions"
)


def locked() -> dict[str, str]:
    """{name: version} pinned for this platform."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line := line.split("#", 1)[0].strip():
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==" and not req.extras, line
            if req.marker is None or req.marker.evaluate():
                pins[canonicalize_name(req.name)] = spec.version
    return pins


def direct() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    ]


def test_lock_pins_every_direct_dependency_within_its_range():
    pins = locked()
    missing = [str(r) for r in direct() if canonicalize_name(r.name) not in pins]
    assert missing == [], f"not in requirements.lock (run ./dev lock): {missing}"
    outside = [
        f"{r} but locked {pins[canonicalize_name(r.name)]}"
        for r in direct()
        if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert outside == [], f"run ./dev lock: {outside}"


def test_the_venv_holds_exactly_the_locked_versions():
    pins = locked()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {n: (installed.get(n), v) for n, v in pins.items() if installed.get(n) != v}
    assert drift == {}, f"installed vs locked (run ./dev install): {drift}"
    extra = sorted(set(installed) - set(pins) - NOT_LOCKED)
    assert extra == [], f"installed but not locked (add to pyproject.toml, ./dev lock): {extra}"
