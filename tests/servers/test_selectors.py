from __future__ import annotations

import pytest

from opsnb.errors import ValidationError
from opsnb.servers.models import Server
from opsnb.servers.selectors import Selector, select

SERVERS = [
    Server("web-1", "10.0.0.1", labels={"role": "web", "env": "prod", "region": "eu-1", "groups": "front,prod"}),
    Server("web-2", "10.0.0.2", labels={"role": "web", "env": "staging", "region": "eu-2"}),
    Server("db-1", "10.0.0.3", port=2222, labels={"role": "db", "env": "prod", "rack": "r1"}),
    Server("cache-1", "10.0.0.4", platform="alpine", labels={"role": "cache", "env": "prod", "groups": "prod"}),
]


def names(sel: object) -> list[str]:
    return [s.name for s in select(SERVERS, sel)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("sel", "expected"), [
    ("role=web,env=prod", ["web-1"]),
    ("role==web", ["web-1", "web-2"]),
    ("env!=prod", ["web-2"]),
    ("name~web-*", ["web-1", "web-2"]),
    ("name!~web-*", ["db-1", "cache-1"]),
    ("region in (eu-1, eu-2)", ["web-1", "web-2"]),
    ("role notin (db,cache)", ["web-1", "web-2"]),
    ("has(rack)", ["db-1"]),
    ("!has(rack),env=prod", ["web-1", "cache-1"]),
    ("group=prod", ["web-1", "cache-1"]),
    ("group in (front)", ["web-1"]),
    ("group!=prod", ["web-2", "db-1"]),
    ("port=2222", ["db-1"]),
    ("platform=alpine", ["cache-1"]),
    ("db-1", ["db-1"]),
    ("*-1", ["web-1", "db-1", "cache-1"]),
    ("*", ["web-1", "web-2", "db-1", "cache-1"]),
    ("", ["web-1", "web-2", "db-1", "cache-1"]),
    (None, ["web-1", "web-2", "db-1", "cache-1"]),
    ("role=nothing", []),
    ("role=web;id", []),
    (["db-1", "web-2", "db-1", "ghost"], ["db-1", "web-2"]),
])
def test_selector_matches(sel: object, expected: list[str]) -> None:
    assert names(sel) == expected


@pytest.mark.parametrize("bad", [
    "role=web,,env=prod", "role in ()", "role in (a", "role)", "name~", "a b c", "role=$(reboot)",
    "x" * 5000, "; rm -rf /",
])
def test_bad_selectors_name_the_problem(bad: str) -> None:
    with pytest.raises(ValidationError) as ei:
        Selector.parse(bad)
    assert ei.value.fields["field"] == "selector"


def test_selector_round_trips_to_text() -> None:
    sel = Selector.parse("role=web, region in (eu-1,eu-2),!has(rack)")
    assert Selector.parse(str(sel)) == sel
    assert str(sel) == "role=web,region in (eu-1, eu-2),!has(rack)"
