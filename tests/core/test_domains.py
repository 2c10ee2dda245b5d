"""The domain table: every row's parts exist, and everything that lists domains is derived from it."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import click
import pytest

from opsnb import domains
from opsnb.domains import DOMAINS
from opsnb.errors import StoreError
from opsnb.workbench import SERVICES, Workbench, _Service

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("d", DOMAINS, ids=lambda d: d.package)
def test_every_row_has_its_parts(d: domains.Domain) -> None:
    pkg = REPO / "opsnb" / d.package
    assert pkg.is_dir() and (pkg / "__init__.py").is_file()
    assert (REPO / "tests" / d.package).is_dir(), f"tests/{d.package}/ is missing"
    if d.service_path:
        module, cls = d.service_path.split(":")
        service = getattr(importlib.import_module(module), cls)
        assert inspect.isclass(service)
        assert len(inspect.signature(service).parameters) == 1  # it takes the Workbench
    for name, target in d.command_paths().items():
        module, attr = target.split(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command), name
    if d.tables:
        assert (pkg / "models.py").is_file(), f"{d.package} has tables but no models.py"
        assert (pkg / "migrations").is_dir(), f"{d.package} has tables but no migrations/"
        importlib.import_module(f"opsnb.{d.package}.models")
    if d.api:
        routes = importlib.import_module(f"opsnb.web.{d.api}").routes()
        assert routes and all(p.startswith("/") for p, _ in routes)
    if d.demo:
        assert callable(importlib.import_module(f"opsnb.{d.package}.demo").seed)


def test_no_package_is_left_out_of_the_table() -> None:
    """A domain package (one with a service or models) has a row; helpers (viz, widgets) need none."""
    listed = {d.package for d in DOMAINS}
    for pkg in (REPO / "opsnb").iterdir():
        if pkg.is_dir() and ((pkg / "service.py").exists() or (pkg / "models.py").exists()):
            assert pkg.name in listed, f"opsnb/{pkg.name} has a service or models but no row in opsnb/domains.py"


def test_workbench_has_one_typed_property_per_service_row() -> None:
    props = {n for n, v in vars(Workbench).items() if isinstance(v, _Service)}
    assert props == set(SERVICES) == {d.attribute for d in DOMAINS if d.attribute}


def test_services_show_in_dir_and_are_created_once(ops_sqlite: Workbench) -> None:
    names = dir(ops_sqlite)
    for attr in SERVICES:
        assert attr in names
    assert ops_sqlite.incidents is ops_sqlite.incidents
    assert type(ops_sqlite.slos).__name__ == "SLOs"
    with pytest.raises(AttributeError):
        ops_sqlite.postmortem  # noqa: B018 - a typo is an AttributeError, not a lazy import


def test_derived_lists_follow_the_table() -> None:
    from opsnb.cli import COMMANDS
    from opsnb.store.schema import DOMAINS as TABLE_DOMAINS
    from opsnb.web import PRELOAD, ROUTE_MODULES

    assert set(COMMANDS) >= {"incident", "fleet", "slo", "runbook", "scheduler", "up", "demo", "lake", "user"}
    assert tuple(d.package for d in DOMAINS if d.tables) == TABLE_DOMAINS
    assert ROUTE_MODULES[0] == "opsnb.web.health"
    assert set(ROUTE_MODULES) == {f"opsnb.web.{d.api}" for d in DOMAINS if d.api}
    assert "opsnb.alerts.service" in PRELOAD and "opsnb.store.db" in PRELOAD
    # dependency order: tables refer only to rows above; the demo seeds in the same order
    assert TABLE_DOMAINS.index("access") < TABLE_DOMAINS.index("incidents") < TABLE_DOMAINS.index("alerts")


def test_nothing_guards_for_domains_the_package_ships() -> None:
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "opsnb").rglob("*.py")
                 if "module_exists" in p.read_text(encoding="utf-8")]
    assert offenders == []


# ------------------------------------------------------------------ unit of work


def test_a_nested_block_joins_the_outer_unit(ops: Workbench) -> None:
    with ops.db.session() as outer:
        with ops.db.session() as inner:
            assert inner is outer
        assert ops.db.current() is outer
    assert ops.db.current() is None


def test_a_failure_anywhere_rolls_the_whole_unit_back(ops: Workbench) -> None:
    before = len(ops.audit.list())
    with pytest.raises(RuntimeError), ops.db.session():
        ops.audit.record(action="x.first", target="t")
        with ops.db.session():
            ops.audit.record(action="x.second", target="t")
        raise RuntimeError("the change failed")
    assert len(ops.audit.list()) == before


def test_cross_domain_hooks_run_only_inside_a_unit(ops: Workbench) -> None:
    from opsnb.incidents import hooks

    with pytest.raises(StoreError, match="unit of work"):
        hooks.add_timeline(ops, "INC-1", kind="note", data={"text": "x"})


def test_a_hook_commits_with_its_callers_change(ops: Workbench) -> None:
    from opsnb.incidents import hooks

    inc = ops.incidents.create(title="t", service="checkout")
    with pytest.raises(RuntimeError), ops.db.session():
        hooks.add_timeline(ops, inc.id, kind="note", actor="opsnb-test", data={"text": "lost"})
        raise RuntimeError("the caller's change failed")
    assert "lost" not in str(ops.incidents.timeline(inc.id)["data"].tolist())
    with ops.db.session():
        hooks.add_timeline(ops, inc.id, kind="note", actor="opsnb-test", data={"text": "kept"})
    assert "kept" in str(ops.incidents.timeline(inc.id)["data"].tolist())
