"""Which sites a cluster's host takes as tenants (pure): the rule of `site_sharing`.

Host: the first site by structure (tower, then rooftop, then pole: a tower is built to
carry several operators' antennas, a roof's load and a pole's head are limited), then
height (the tallest: tenants mount below the host's own antennas), then the most
operators it already carries, then asset id. Tenants: nearest first, each site within
`max_distance_m` of the host whose operators it does not carry yet, while its structure's
`capacity` and a platform above ground remain (the k-th tenant mounts at host height −
k·`platform_spacing_m`). A single-linkage cluster can be a chain longer than
`max_distance_m`: the sites the host cannot take start over among themselves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from spatial_api.analysis.site_sharing_models import SiteSharingRequest

HOST_ORDER = ("tower", "rooftop", "pole")
RULE = (
    "host: tower before rooftop before pole, then the tallest, then the most operators "
    "carried, then asset_id; tenants: nearest first within max_distance_m, operators the "
    "host does not carry, within its structure's capacity and above ground at "
    "host height − k·platform_spacing_m"
)


@dataclass(frozen=True, eq=False)
class Site:
    asset_id: str
    props: dict[str, Any]
    operators: tuple[str, ...]
    sectors: dict[str, int]  # per operator
    lon: float
    lat: float
    component: int
    distances: dict[str, float]  # geodesic metres to the other sites of its component

    @property
    def structure(self) -> str | None:
        return self.props.get("structure")

    @property
    def height_m(self) -> float | None:
        h = self.props.get("height_m")
        return None if h is None else float(h)

    def summary(self) -> dict[str, Any]:
        keep = ("name", "site_code", "structure", "height_m", "shared", "owner", "status")
        return {"asset_id": self.asset_id, "operators": list(self.operators)} | {
            k: self.props.get(k) for k in keep
        }


@dataclass(frozen=True, eq=False)
class Tenant:
    site: Site
    distance_m: float
    platform_m: float | None  # the top its antennas may reach on the host (None: unknown)


@dataclass(frozen=True, eq=False)
class Group:
    host: Site
    tenants: list[Tenant]

    @property
    def members(self) -> list[Site]:
        return [self.host] + [t.site for t in self.tenants]


def host_key(s: Site) -> tuple[Any, ...]:
    rank = HOST_ORDER.index(s.structure) if s.structure in HOST_ORDER else len(HOST_ORDER)
    return (rank, s.height_m is None, -(s.height_m or 0.0), -len(s.operators), s.asset_id)


def _tenants(host: Site, others: list[Site], req: SiteSharingRequest) -> list[Tenant]:
    carried = set(host.operators)
    out: list[Tenant] = []
    capacity = req.capacity.get(host.structure or "", 0)
    for s in sorted(others, key=lambda s: (host.distances[s.asset_id], s.asset_id)):
        d = host.distances[s.asset_id]
        if d > req.max_distance_m:
            break
        platform = None
        if host.height_m is not None:
            platform = host.height_m - (len(out) + 1) * req.platform_spacing_m
        if (
            carried & set(s.operators)
            or len(carried) + len(s.operators) > capacity
            or (platform is not None and platform <= 0)
        ):
            continue
        out.append(Tenant(s, d, platform))
        carried |= set(s.operators)
    return out


def plan(sites: list[Site], req: SiteSharingRequest) -> list[Group]:
    """The groups the rule above makes, per component, hosts in rule order (pure)."""
    components: dict[int, list[Site]] = defaultdict(list)
    for s in sites:
        components[s.component].append(s)
    groups = []
    for members in components.values():
        remaining = sorted(members, key=host_key)
        while len(remaining) >= 2 and len({o for s in remaining for o in s.operators}) >= 2:
            host, remaining = remaining[0], remaining[1:]
            tenants = _tenants(host, remaining, req)
            if tenants:
                groups.append(Group(host, tenants))
                taken = {t.site.asset_id for t in tenants}
                remaining = [s for s in remaining if s.asset_id not in taken]
    return sorted(groups, key=lambda g: g.host.asset_id)
