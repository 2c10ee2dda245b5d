"""Ansible inventories read as the real ``ansible-inventory --list`` reads them (ansible-core)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsnb.servers.inventory import parse_ansible, split_host_port
from tests.conftest import need_program

DATA = Path(__file__).parents[1] / "data" / "ansible"
CASES = sorted(p.name for p in DATA.iterdir() if p.suffix in (".ini", ".yml") and not p.name.startswith("bad-"))
BAD = sorted(p.name for p in DATA.iterdir() if p.name.startswith("bad-"))


def run_ansible(path: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    exe = need_program(str(Path(sys.executable).parent / "ansible-inventory"), "ansible-inventory")
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp), "ANSIBLE_HOME": str(tmp),
           "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([exe, "-i", str(path), "--list"], capture_output=True, text=True, timeout=120, env=env)


def ansible_list(path: Path, tmp: Path) -> dict[str, Any]:
    out = run_ansible(path, tmp)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def ansible_groups(listing: dict[str, Any]) -> dict[str, set[str]]:
    """host -> every group it belongs to (through children too), without all/ungrouped."""
    children = {g: set(v.get("children", [])) for g, v in listing.items() if g != "_meta"}
    direct = {g: set(v.get("hosts", [])) for g, v in listing.items() if g != "_meta"}

    def hosts_of(g: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out = set(direct.get(g, set()))
        for c in children.get(g, set()) - seen:
            out |= hosts_of(c, seen | {g})
        return out

    member: dict[str, set[str]] = {}
    for g in children:
        if g in ("all", "ungrouped"):
            continue
        for h in hosts_of(g):
            member.setdefault(h, set()).add(g)
    return member


@pytest.mark.parametrize("name", CASES)
def test_reads_like_ansible_inventory(name: str, tmp_path: Path) -> None:
    listing = ansible_list(DATA / name, tmp_path)
    hostvars: dict[str, dict[str, Any]] = listing["_meta"]["hostvars"]
    want_hosts = set(hostvars) | {h for v in listing.values() if isinstance(v, dict) for h in v.get("hosts", [])}
    inv = parse_ansible(DATA / name)
    assert inv.problems == []
    got = {s["name"]: s for s in inv.servers}
    assert set(got) == want_hosts
    member = ansible_groups(listing)
    for host, srv in got.items():
        hv = hostvars.get(host, {})
        assert srv["address"] == str(hv.get("ansible_host", host)), host
        assert srv["port"] == int(hv.get("ansible_port", 22)), host
        assert srv["user"] == str(hv.get("ansible_user", "")), host
        groups = set(filter(None, srv["labels"].get("groups", "").split(",")))
        assert groups == member.get(host, set()), host
        for k, v in hv.items():
            if not k.startswith("ansible_"):
                assert srv["labels"].get(k) == str(v), (host, k, srv["labels"].get(k), v)


@pytest.mark.parametrize("name", BAD)
def test_what_ansible_refuses_is_a_problem_with_its_line(name: str, tmp_path: Path) -> None:
    real = run_ansible(DATA / name, tmp_path)
    assert real.returncode != 0 and "undefined group" in real.stderr
    inv = parse_ansible(DATA / name)
    assert inv.problems and "undefined group: northeast" in inv.problems[0][1] and inv.problems[0][0] == 6


def test_group_priority_and_depth_decide_between_group_vars() -> None:
    srv = next(s for s in parse_ansible(DATA / "priority.ini").servers if s["name"] == "testhost")
    assert srv["labels"]["testvar"] == "a"  # a_group (priority 10) over b_group and its parent prod
    assert srv["labels"]["tier"] == "gold"  # from the parent, not overridden


@pytest.mark.parametrize("pattern, want", [
    ("badwolf.example.com:5309", ("badwolf.example.com", 5309)),
    ("[2001:db8::1]:2222", ("2001:db8::1", 2222)),
    ("2001:db8::1", ("2001:db8::1", None)),
    ("www[01:03].example.com:22", ("www[01:03].example.com", 22)),
    ("plain", ("plain", None)),
])
def test_host_port_patterns(pattern: str, want: tuple[str, int | None]) -> None:
    assert split_host_port(pattern) == want
