"""Roles from the catalog and from a TOML file."""

from __future__ import annotations

import pytest

from layers import Catalog
from layers.access import Principal
from layers.errors import Forbidden
from layers.roles import RolesError, load_roles

CATALOG = Catalog()


def test_built_in_roles_follow_the_issue_table():
    roles = load_roles(CATALOG.values())
    assert roles["viewer"].reads == roles["viewer"].writes == frozenset()
    assert roles["planner"].writes == {"base_stations", "sectors"}
    # The pipe network, whom to call about it and whom it serves (later layers).
    network = {"pipelines", "pipe_nodes", "sensors", "owners", "service_connections"}
    assert roles["crew"].reads == roles["crew"].writes == network
    assert roles["emergency"].writes == {
        "incidents",
        "shelters",
        "hazard_sources",
        "protected_targets",
        "emergency_resources",  # a later layer: responders and what they hold
        "hazard_zones",  # an incident's recorded zones (issue 13)
    }
    assert roles["emergency"].reads == network | {"hazard_sources"}
    assert roles["admin"].admin and roles["admin"].writes == set(CATALOG)


def test_write_checks_name_the_role_and_layer():
    roles = load_roles(CATALOG.values())
    planner = Principal(roles["planner"], "p1")
    planner.refuse_unwritable(CATALOG["sectors"])
    with pytest.raises(Forbidden, match="role 'planner' may not write layer 'shelters'"):
        planner.refuse_unwritable(CATALOG["shelters"])
    with pytest.raises(Forbidden, match="restricted"):  # hidden first: no hint it exists
        planner.refuse_unwritable(CATALOG["pipelines"])


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[roles.x]\nreads = ["nowhere"]\n', "unknown ['nowhere']"),
        ('[roles.x]\nread = ["pipelines"]\n', "unknown keys ['read']"),
        ("[roles.admin]\nreads = []\n", "cannot be redefined"),
        ('[roles.viewer]\nwrites = ["roads"]\n', "cannot be redefined"),
        ("[roles.x\n", "roles file"),
    ],
)
def test_a_bad_roles_file_is_refused_saying_why(tmp_path, toml, message):
    path = tmp_path / "roles.toml"
    path.write_text(toml)
    with pytest.raises(RolesError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_roles(CATALOG.values(), path)


def test_a_roles_file_replaces_a_built_in_role(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text('[roles.crew]\nreads = ["pipelines"]\nwrites = []\n')
    roles = load_roles(CATALOG.values(), path)
    assert roles["crew"].reads == {"pipelines"} and roles["crew"].writes == frozenset()
    assert roles["emergency"].reads >= {"pipelines"}  # others untouched
