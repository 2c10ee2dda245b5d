"""DORA figures (Four Keys definitions), rollback recognition, history and the environments view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import ValidationError
from opsnb.workbench import Workbench

D0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def _dep(ops: Workbench, id: str, version: str, *, day: float, lead_h: float | None = 2.0, env: str = "prod",
         service: str = "checkout") -> None:
    at = D0 + timedelta(days=day)
    ops.deploys.create(id=id, service=service, env=env, version=version, started_at=at,
                       finished_at=at + timedelta(minutes=5),
                       committed_at=None if lead_h is None else at + timedelta(minutes=5) - timedelta(hours=lead_h))


def _world(ops: Workbench) -> None:
    _dep(ops, "d1", "1.0.0", day=0, lead_h=1)
    _dep(ops, "d2", "1.1.0", day=1, lead_h=3)
    _dep(ops, "d3", "1.2.0", day=2, lead_h=5)
    # back to 1.1.0 40 minutes after d3 finished: recognised as a rollback of d3
    ops.deploys.create(id="d4", service="checkout", env="prod", version="1.1.0",
                       started_at=D0 + timedelta(days=2, minutes=40), finished_at=D0 + timedelta(days=2, minutes=45))
    _dep(ops, "d5", "1.3.0", day=3, lead_h=7)
    _dep(ops, "s1", "1.3.0", day=2.9, env="staging")
    inc = ops.incidents.create(title="checkout slow after 1.3.0", service="checkout",
                               impact_start=D0 + timedelta(days=3, minutes=10),
                               detected_at=D0 + timedelta(days=3, minutes=15))
    ops.incidents.link(inc.id, deploy="d5")
    ops.incidents.set_milestone(inc.id, "mitigated", D0 + timedelta(days=3, minutes=125))


def test_a_version_seen_before_is_a_rollback(ops: Workbench) -> None:
    _world(ops)
    assert ops.deploys.get("d4").rollback_of == "d3"
    assert ops.deploys.get("d3").status == "rolled_back"
    assert ops.deploys.get("d2").status == "succeeded"  # the first 1.1.0 stays what it was
    assert ops.deploys.get("d5").rollback_of is None  # a new version is no rollback
    hist = ops.deploys.history("checkout", env="prod")
    assert hist.set_index("id").loc["d4", "kind"] == "rollback"
    assert hist.loc[hist["live"], "id"].tolist() == ["d5"]
    env = ops.deploys.environments().set_index("service")
    assert env.loc["checkout", "prod"] == "1.3.0" and env.loc["checkout", "staging"] == "1.3.0"


def test_dora_by_the_four_keys_definitions(ops: Workbench) -> None:
    _world(ops)
    df = ops.deploys.dora(start=D0, end=D0 + timedelta(days=4))
    prod = df.set_index(["service", "env"]).loc[("checkout", "prod")]
    assert prod["deploys"] == 5  # d1-d5: d3 took effect until its rollback; d4 is a deploy too
    assert prod["deploys_per_day"] == pytest.approx(1.25)
    assert prod["lead_time_median_h"] == pytest.approx(4.0)  # median of 1, 3, 5, 7 (d4 has no commit time)
    assert prod["failures"] == 2 and prod["change_failure_rate"] == pytest.approx(0.4)  # d3 rolled back, d5 INC
    # d3: finished 00:05, rollback finished 00:45 -> 40 min; d5: finished 00:05, mitigated 02:05 -> 120 min
    assert prod["recovery_median_min"] == pytest.approx(80.0)
    assert prod["recovery_p90_min"] == pytest.approx(112.0)
    staging = df.set_index(["service", "env"]).loc[("checkout", "staging")]
    assert staging["deploys"] == 1 and staging["failures"] == 0 and pd_isna(staging["recovery_median_min"])
    only = ops.deploys.dora(start=D0 + timedelta(days=2.5), end=D0 + timedelta(days=4), env="prod")
    assert only["deploys"].tolist() == [1] and only["change_failure_rate"].tolist() == [1.0]
    with pytest.raises(ValidationError, match="start"):
        ops.deploys.dora(start="last quarter")


def pd_isna(v: object) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def test_cli_dora_history_environments_and_freeze_hint(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    env = {"OPSNB_USER": "tester"}
    run = CliRunner()
    assert run.invoke(cli, ["user", "grant", "tester", "admin", "-w", ws], env=env).exit_code == 0
    for v in ("1.0.0", "1.1.0"):
        assert run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", v, "-w", ws],
                          env=env).exit_code == 0
    res = run.invoke(cli, ["deploys", "dora", "--since", "1d", "--format", "json", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)[0]
    assert row["deploys"] == 2 and row["change_failure_rate"] == 0
    res = run.invoke(cli, ["deploys", "environments", "-w", ws], env=env)
    assert res.exit_code == 0 and "1.1.0" in res.output
    res = run.invoke(cli, ["deploys", "history", "checkout", "--format", "json", "-w", ws], env=env)
    assert [r["live"] for r in json.loads(res.stdout)] == [True, False]
    run.invoke(cli, ["deploys", "freeze", "checkout", "--reason", "budget gone", "-w", ws], env=env)
    res = run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", "1.2.0", "-w", ws], env=env)
    assert res.exit_code == 1 and "--override-freeze --reason" in res.output and "override_freeze=" not in res.output
    res = run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", "1.2.0", "--override-freeze",
                           "--reason", "hotfix", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
