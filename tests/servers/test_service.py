"""The inventory through ops.fleet, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsnb.errors import Conflict, NotFound, ParseError, PermissionDenied, ValidationError
from opsnb.workbench import Workbench
from tests.servers.test_inventory import INI


def test_create_get_update_delete_audited(ops: Workbench) -> None:
    srv = ops.fleet.create(name="web-1", address="10.0.0.1", user="deploy", labels={"role": "web", "env": "prod"},
                           platform="debian-12", credential="key:~/.ssh/id_ed25519", reason="new box")
    assert ops.fleet.get("web-1") == srv
    assert srv.created_at is not None and srv.created_at.tzinfo is not None
    ops.fleet.create(name="db-1", address="10.0.0.2", port=2222, labels={"role": "db", "env": "prod"})
    upd = ops.fleet.update("web-1", labels={"role": "web", "env": "staging"}, port=2200)
    assert (upd.port, upd.labels["env"]) == (2200, "staging")
    assert [s.name for s in ops.fleet.select("env=prod")] == ["db-1"]
    df = ops.fleet.list()
    assert list(df["name"]) == ["db-1", "web-1"]
    assert str(df["created_at"].dtype).endswith("UTC]")
    assert list(ops.fleet.list("role=db")["name"]) == ["db-1"]
    ops.fleet.delete("db-1", reason="gone")
    with pytest.raises(NotFound):
        ops.fleet.get("db-1")
    audit = ops.audit.list(action="fleet.*")
    assert list(audit["action"])[::-1] == ["fleet.create", "fleet.create", "fleet.update", "fleet.delete"]
    assert audit.iloc[-1]["reason"] == "new box"
    assert ops.audit.verify().ok


def test_validation_lists_every_problem_and_writes_nothing(ops: Workbench) -> None:
    with pytest.raises(ValidationError) as ei:
        ops.fleet.create(name="-bad name", address="a b", port=70000, user="root;id",
                         labels={"ok": "1", "bad key!": "x", "nested": {"a": 1}},  # type: ignore[dict-item]
                         credential="hunter2", proxy_jump="a@@b")
    assert len(ei.value.problems) == 8
    assert ops.fleet.list().empty
    with pytest.raises(ValidationError, match="credential"):
        ops.fleet.create(name="x", address="1.2.3.4", credential="-----BEGIN OPENSSH PRIVATE KEY-----")
    ops.fleet.create(name="x", address="1.2.3.4")
    with pytest.raises(Conflict):
        ops.fleet.create(name="x", address="1.2.3.5")
    with pytest.raises(ValidationError, match="unknown fields"):
        ops.fleet.update("x", colour="red")
    with pytest.raises(NotFound):
        ops.fleet.update("nope", port=22)
    with pytest.raises(NotFound, match="no server matches"):
        ops.fleet.select("role=nothing")
    with pytest.raises(NotFound, match="'ghost'"):
        ops.fleet.select(["x", "ghost"])


def test_viewer_cannot_change_the_inventory(ops: Workbench) -> None:
    ops.access.grant("vic", "viewer")
    ops.fleet.create(name="x", address="1.2.3.4")
    ops.user = "vic"
    with pytest.raises(PermissionDenied):
        ops.fleet.create(name="y", address="1.2.3.4")
    with pytest.raises(PermissionDenied):
        ops.fleet.update("x", port=2)
    with pytest.raises(PermissionDenied):
        ops.fleet.delete("x")
    with pytest.raises(PermissionDenied):
        ops.fleet.run("x", ["reboot"])  # checked before any connection is tried
    assert ops.fleet.get("x").port == 22  # a viewer may still read


def test_import_ansible_then_export_round_trip(ops: Workbench, tmp_path: Path) -> None:
    p = tmp_path / "hosts.ini"
    p.write_text(INI)
    rep = ops.fleet.import_ansible(p, reason="initial")
    assert sorted(rep[rep.action == "created"]["name"]) == sorted(ops.fleet.list()["name"])
    assert len(ops.fleet.list()) == 6
    assert list(rep[rep.action == "warning"]["detail"].str.contains("ansible_password")) == [True]
    assert "hunter2" not in ops.fleet.list().to_string()
    assert [s.name for s in ops.fleet.select("group=db")] == ["db-1"]
    # Again: nothing changes.
    rep2 = ops.fleet.import_ansible(p)
    assert set(rep2[rep2.action.isin(["created", "updated", "unchanged"])]["action"]) == {"unchanged"}
    out = tmp_path / "export.yml"
    ops.fleet.export_yaml(path=out)
    before = ops.fleet.list().drop(columns=["created_at", "updated_at"])
    for name in list(before["name"]):
        ops.fleet.delete(name)
    ops.fleet.import_ansible(out)
    after = ops.fleet.list().drop(columns=["created_at", "updated_at"])
    assert after.to_dict(orient="records") == before.to_dict(orient="records")
    assert ops.audit.list(action="fleet.import").iloc[-1]["params"]["created"] == 6


def test_bad_inventory_imports_nothing_unless_lenient(ops: Workbench, tmp_path: Path) -> None:
    p = tmp_path / "bad.ini"
    p.write_text("[web]\nweb-1 ansible_port=http\nweb-2\nweb-3 ansible_host='-oProxyCommand=evil'\n")
    with pytest.raises(ParseError) as ei:
        ops.fleet.import_ansible(p)
    assert len(ei.value.problems) == 2
    assert ops.fleet.list().empty
    rep = ops.fleet.import_ansible(p, strict=False)
    assert list(ops.fleet.list()["name"]) == ["web-2"]
    assert (rep["action"] == "error").sum() == 2


def test_import_ssh_config(ops: Workbench, tmp_path: Path) -> None:
    from tests.servers.test_inventory import SSH_CONFIG

    p = tmp_path / "config"
    p.write_text(SSH_CONFIG)
    ops.fleet.import_ssh_config(p)
    assert ops.fleet.get("db-1").proxy_jump == "bastion"
    with pytest.raises(ValidationError, match="unknown inventory kind"):
        ops.fleet.import_file("chef", p)


def test_demo_seed(ops: Workbench) -> None:
    from opsnb.demo.world import DemoServer
    from opsnb.servers.demo import seed

    try:
        from opsnb.demo.plan import make_servers
        servers = make_servers()
    except ImportError:  # the demo planner is another domain's; the contract is DemoServer
        servers = [DemoServer(f"web-{i}", "127.0.0.1", 2200 + i, "opsnb", {"role": "web"}) for i in range(3)]

    class World:
        pass

    world = World()
    world.servers = servers  # type: ignore[attr-defined]
    ops.user = "nobody-yet"  # the demo builder runs before anyone holds a role
    seed(ops, world)  # type: ignore[arg-type]
    df = ops.fleet.list()
    assert sorted(df["name"]) == sorted(s.name for s in servers)
    first = servers[0]
    got = ops.fleet.get(first.name)
    assert (got.address, got.port, got.user, got.labels, got.platform) == (
        first.address, first.port, first.user, first.labels, first.platform)
    assert ops.audit.list(action="fleet.import").iloc[0]["target"] == "demo"
