"""Hostile YAML and JSON at every entry point that reads definitions or bodies: a clear ParseError
naming the source, quickly, and nothing written. (Issue: an alias bomb hung past 60 s; deep
nesting gave RecursionError tracebacks and 500s.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from opsnb.bounded import MAX_DEPTH, check_depth, load_json, load_yaml, load_yaml_all
from opsnb.errors import ParseError, ValidationError
from opsnb.workbench import Workbench


def alias_bomb(levels: int = 9) -> str:
    """The 'billion laughs' shape: each level is a list of nine aliases to the one before (9^9 leaves)."""
    names = [f"l{i}" for i in range(levels)]
    lines = [f'{names[0]}: &{names[0]} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


DEEP_YAML = "[" * 20_000 + "]" * 20_000
DEEP_BLOCK_YAML = "".join("  " * i + "-\n" for i in range(300)) + "  " * 300 + "- x\n"


@pytest.mark.parametrize("text, what", [
    (alias_bomb(), "expand"),
    ("a: &a [*a]\n", "expand"),
    (DEEP_YAML, "deeper than"),
    (DEEP_BLOCK_YAML, "deeper than"),
    ("a: [1, 2\n", "not valid YAML"),
    ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
])
def test_hostile_yaml_is_a_parse_error_in_bounded_time(text: str, what: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(ParseError, match=what) as exc:
        load_yaml_all(text, source="slo.yaml")
    assert exc.value.fields["source"] == "slo.yaml" and "slo.yaml" in str(exc.value)
    assert time.monotonic() - t0 < 10


def test_good_yaml_with_shared_anchors_still_loads() -> None:
    text = "base: &b {region: eu, tier: 1}\nweb: {<<: *b, role: web}\ndb: *b\n"
    assert load_yaml(text, source="x")["web"] == {"region": "eu", "tier": 1, "role": "web"}
    assert load_yaml_all("a: 1\n---\nb: 2\n", source="x") == [{"a": 1}, {"b": 2}]
    with pytest.raises(ParseError, match="2 YAML documents"):
        load_yaml("a: 1\n---\nb: 2\n", source="x")


def test_size_limit_names_the_source() -> None:
    with pytest.raises(ParseError, match="exceeds the limit"):
        load_yaml("a: " + "x" * 100, source="big.yaml", max_bytes=50)


@pytest.mark.parametrize("body, what", [
    ("[" * 50_000 + "]" * 50_000, "deeper than"),
    ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "deeper than"),
    ('{"n": 1' + "0" * 5000 + "}", "not JSON"),  # more digits than int() accepts
    (b"\xff\xfe", "not UTF-8"),
    ("{", "not JSON"),
])
def test_hostile_json_is_a_parse_error(body: str | bytes, what: str) -> None:
    with pytest.raises(ParseError, match=what):
        load_json(body, source="request body")


def test_depth_at_the_limit_is_accepted() -> None:
    value = json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    check_depth(value, source="x")
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, source="x") == value


# ------------------------------------------------------------------ the entry points


def test_slo_load_refuses_an_alias_bomb_and_writes_nothing(ops: Workbench, tmp_path: Path) -> None:
    bad = tmp_path / "bomb.yaml"
    bad.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\n" + alias_bomb())
    before = ops.audit.list()
    t0 = time.monotonic()
    with pytest.raises(ValidationError, match="bomb.yaml: YAML aliases expand"):  # listed with the other files' problems
        ops.slos.load(bad)
    assert time.monotonic() - t0 < 10
    assert len(ops.audit.list()) == len(before) and ops.slos.list().empty


def test_oncall_and_inventory_imports_refuse_deep_yaml(ops: Workbench, tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(DEEP_YAML)
    with pytest.raises(ParseError, match="deeper than"):
        ops.oncall.import_yaml(deep)
    with pytest.raises(ParseError, match="deeper than"):
        ops.fleet.import_ansible(deep)
    assert ops.fleet.list().empty
