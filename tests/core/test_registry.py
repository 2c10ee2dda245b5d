"""The one registry idiom: register, case-insensitive get with did-you-mean, list, lazy targets,
entry points of third-party distributions, duplicates."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from opsnb.errors import ConfigError, Conflict, NotFound, ValidationError
from opsnb.registry import Registry, instance_of


class _Dist:
    """What an EntryPoint needs of its distribution: a name."""

    def __init__(self, name: str) -> None:
        self.name = name


def _ep(name: str, value: str, group: str, dist: str) -> EntryPoint:
    ep = EntryPoint(name=name, value=value, group=group)
    return ep._for(_Dist(dist))  # type: ignore[arg-type]  # how importlib.metadata binds one


def test_register_get_list_and_case() -> None:
    reg: Registry[Any] = Registry("widget", group=None)
    reg.register("Alpha", 1)

    @reg.register("beta")
    def beta() -> str:
        return "b"

    assert beta() == "b" and reg.get("beta") is beta  # the decorator returns what it decorates
    assert reg.get("ALPHA") == 1 and reg["alpha"] == 1 and "aLpHa" in reg and "gamma" not in reg
    assert reg.names() == ["Alpha", "beta"] and list(reg) == ["Alpha", "beta"] and len(reg) == 2
    assert reg.canonical("ALPHA") == "Alpha"
    entries = reg.list()
    assert [(e.name, e.origin, e.loaded) for e in entries] == [("Alpha", "code", True), ("beta", "code", True)]
    assert entries[1].target.endswith(":test_register_get_list_and_case.<locals>.beta")
    with pytest.raises(ValidationError):
        reg.register("bad name", 3)
    with pytest.raises(ValidationError, match="module:attr"):
        reg.register("lazy", "not a target")


def test_unknown_name_suggests_and_lists() -> None:
    reg: Registry[int] = Registry("log format", group="opsnb.test_nothing_here")
    for n in ("jsonl", "logfmt", "syslog5424"):
        reg.register(n, 1)
    with pytest.raises(NotFound) as ei:
        reg.get("jsnol")
    msg = str(ei.value)
    assert "unknown log format 'jsnol' (did you mean 'jsonl'?)" in msg
    assert "known: jsonl, logfmt, syslog5424" in msg and "opsnb.test_nothing_here" in msg
    assert ei.value.fields["kind"] == "log format" and ei.value.fields["key"] == "jsnol"
    with pytest.raises(NotFound) as far:
        reg.get("zzzzzz")
    assert "did you mean" not in str(far.value)


def test_duplicates_conflict_unless_replaced() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("one", 1)
    with pytest.raises(Conflict, match="already registered"):
        reg.register("ONE", 2)  # the same name in another case is the same name
    reg.register("One", 3, replace=True)
    assert reg.get("one") == 3 and reg.names() == ["One"]
    reg.unregister("one")
    with pytest.raises(NotFound):
        reg.unregister("one")


def test_lazy_targets_import_on_first_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "opsnb_lazy_plugin.py").write_text("IMPORTED = True\nVALUE = {'x': 1}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[Any] = Registry("thing")
    reg.register("lazy", "opsnb_lazy_plugin:VALUE")
    assert "opsnb_lazy_plugin" not in sys.modules
    assert reg.list()[0].loaded is False and reg.list()[0].target == "opsnb_lazy_plugin:VALUE"
    assert reg.get("lazy") == {"x": 1} and "opsnb_lazy_plugin" in sys.modules and reg.list()[0].loaded
    reg.register("missing", "opsnb_lazy_plugin:NOPE")
    with pytest.raises(ConfigError, match=r"cannot load thing 'missing' \('opsnb_lazy_plugin:NOPE'\)"):
        reg.get("missing")
    sys.modules.pop("opsnb_lazy_plugin", None)


def test_entry_points_load_on_lookup_and_bad_ones_name_their_distribution(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "opsnb_ep_plugin.py").write_text(textwrap.dedent("""
        class Source:
            pass
        class Mine(Source):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    group = "opsnb.test_sources"
    eps = [_ep("mine", "opsnb_ep_plugin:Mine", group, "opsnb-mine"),
           _ep("broken", "opsnb_ep_plugin_missing:Thing", group, "opsnb-broken"),
           _ep("wrong", "opsnb_ep_plugin:Source", group, "opsnb-wrong")]
    import importlib.metadata as md

    calls: list[str] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        calls.append(group)
        return [e for e in eps if e.group == group]

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    mod = __import__("opsnb_ep_plugin")
    reg: Registry[Any] = Registry("slo source", group=group, adapt=instance_of(mod.Mine))
    reg.register("builtin", mod.Mine(), origin="opsnb")
    assert calls == []  # nothing is read before the first lookup
    assert reg.names() == ["broken", "builtin", "mine", "wrong"] and calls == [group]
    origins = {e.name: e.origin for e in reg.list()}
    assert origins == {"broken": "opsnb-broken", "builtin": "opsnb", "mine": "opsnb-mine", "wrong": "opsnb-wrong"}
    assert isinstance(reg.get("MINE"), mod.Mine)  # a class is instantiated by adapt
    with pytest.raises(ConfigError) as ei:
        reg.get("broken")
    msg = str(ei.value)
    assert "entry point 'broken'" in msg and "distribution 'opsnb-broken'" in msg and "ModuleNotFoundError" in msg
    with pytest.raises(ConfigError, match="distribution 'opsnb-wrong'.*does not fit"):
        reg.get("wrong")
    reg.get("mine")
    assert calls == [group]  # scanned once


def test_two_distributions_declaring_one_name_conflict() -> None:
    group = "opsnb.test_clash"
    reg: Registry[Any] = Registry("channel kind", group=None)
    reg.register("teams", "json:dumps", origin="opsnb")
    reg.add_entry_point(_ep("teams", "json:dumps", group, "opsnb"))  # the same target twice: fine
    assert reg.get("teams").__name__ == "dumps"
    reg.add_entry_point(_ep("teams", "json:loads", group, "opsnb-teams"))
    with pytest.raises(Conflict, match="declared twice.*opsnb-teams"):
        reg.get("teams")


def test_the_real_registries_use_their_groups_and_import_opsnb_stays_lazy() -> None:
    code = textwrap.dedent("""
        import sys
        import opsnb
        heavy = [m for m in ("opsnb.registry", "opsnb.logs.formats", "opsnb.runbooks.executors",
                             "distributed", "duckdb", "pyarrow") if m in sys.modules]
        assert not heavy, heavy
        from opsnb.logs.formats import FORMATS
        from opsnb.logs.sources import SOURCES as LOG_SOURCES
        from opsnb.notify.channels import CHANNELS
        from opsnb.runbooks.executors import EXECUTORS
        from opsnb.slo.sources import SOURCES
        from opsnb.store.lake import TABLES
        assert "distributed" not in sys.modules  # the Dask executor imports it when built
        groups = {r.group for r in (FORMATS, LOG_SOURCES, CHANNELS, EXECUTORS, SOURCES, TABLES)}
        assert groups == {"opsnb.log_formats", "opsnb.log_sources", "opsnb.channels", "opsnb.executors",
                          "opsnb.slo_sources", "opsnb.lake_tables"}, groups
        assert SOURCES.canonical("Prometheus") == "prometheus"
        assert {"slack", "smtp", "webhook"} <= set(CHANNELS.names())
        assert {"logs", "spans", "metrics", "quarantine"} <= set(TABLES.names())
        assert "jsonl" in FORMATS and "file" in LOG_SOURCES and "dask" in EXECUTORS
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
