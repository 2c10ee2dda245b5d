"""Deploy freezes: refuse deploys, let rollbacks through, lift, expire, audit; and the SLO policy step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from opsnb.workbench import Workbench


def test_freeze_blocks_deploys_but_not_rollbacks(ops: Workbench) -> None:
    first = ops.deploys.create(service="checkout", version="1.0.0")
    fid = ops.deploys.freeze(service="checkout", reason="budget exhausted")
    with pytest.raises(Conflict, match=r"deploys of checkout to prod are frozen .* budget exhausted") as info:
        ops.deploys.create(service="checkout", version="1.1.0")
    assert info.value.key == str(fid)
    ops.deploys.create(service="checkout", version="1.0.0", rollback_of=first.id)  # the remedy passes
    ops.deploys.create(service="checkout", version="1.1.0", env="staging")  # other envs are not frozen
    ops.deploys.create(service="search", version="2.0.0")  # other services neither
    with pytest.raises(ValidationError, match="override_freeze needs a reason"):
        ops.deploys.create(service="checkout", version="1.2.0", override_freeze=True)
    ops.deploys.create(service="checkout", version="1.2.0", override_freeze=True, reason="hotfix for INC-9")
    assert list(ops.deploys.freezes()["id"]) == [fid]
    assert ops.deploys.unfreeze(service="checkout", reason="recovered") == 1
    ops.deploys.create(service="checkout", version="1.3.0")
    assert ops.deploys.freezes().empty and len(ops.deploys.freezes(active=False)) == 1
    actions = list(ops.audit.list(action="deploy.*")["action"])
    assert actions.count("deploy.freeze") == 1 and actions.count("deploy.unfreeze") == 1
    assert ops.audit.verify().ok


def test_freeze_all_services_and_expiry(ops: Workbench) -> None:
    ops.deploys.freeze(service="*", reason="holiday", until=datetime.now(UTC) + timedelta(seconds=1))
    with pytest.raises(Conflict, match="holiday"):
        ops.deploys.create(service="auth", version="3.0.0")
    later = datetime.now(UTC) + timedelta(seconds=2)
    from opsnb.deploys import freezes

    with ops.db.session() as s:
        assert freezes.active(s, service="auth", env="prod", at=later) is None


def test_bad_freezes_and_roles(ops: Workbench) -> None:
    with pytest.raises(ValidationError) as info:
        ops.deploys.freeze(service="", reason=" ", until=datetime(2020, 1, 1, tzinfo=UTC))
    assert len(info.value.problems) == 3
    with pytest.raises(NotFound):
        ops.deploys.unfreeze(id=999)
    ops.access.grant("rita", "responder")
    ops.user = "rita"
    with pytest.raises(PermissionDenied):
        ops.deploys.freeze(service="checkout", reason="x")


def test_cli(ops_sqlite: Workbench) -> None:
    ws = str(ops_sqlite.workspace)
    run = CliRunner()
    env = {"OPSNB_USER": "tester"}
    out = run.invoke(cli, ["deploys", "freeze", "checkout", "--reason", "budget", "-w", ws], env=env)
    assert out.exit_code == 0 and "refused" in out.output
    out = run.invoke(cli, ["deploys", "freezes", "--format", "json", "-w", ws], env=env)
    assert '"service": "checkout"' in out.output
    out = run.invoke(cli, ["deploys", "unfreeze", "checkout", "-w", ws], env=env)
    assert "1 freeze(s) lifted" in out.output


def test_each_face_names_its_own_override(ops_sqlite: Workbench) -> None:
    """The library says the argument, the CLI the flags; neither tells the other's user the wrong way."""
    ops_sqlite.deploys.create(service="checkout", version="1.0.0")
    ops_sqlite.deploys.freeze(service="checkout", reason="budget gone")
    with pytest.raises(Conflict) as info:
        ops_sqlite.deploys.create(service="checkout", version="1.1.0")
    assert "override_freeze=True with a reason" in str(info.value) and "--override-freeze" not in str(info.value)
    ws = str(ops_sqlite.workspace)
    run = CliRunner()
    env = {"OPSNB_USER": "tester"}
    out = run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", "1.1.0", "-w", ws], env=env)
    assert out.exit_code == 1
    assert '--override-freeze --reason "..."' in out.output and "override_freeze=True" not in out.output
    assert "budget gone" in out.output
    out = run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", "1.1.0", "--override-freeze",
                           "--reason", "hotfix", "-w", ws], env=env)
    assert out.exit_code == 0, out.output
    assert list(ops_sqlite.deploys.list()["version"]) == ["1.1.0", "1.0.0"]
