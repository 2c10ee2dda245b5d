"""``ops.deploys.suspects``: deploys before an instant, prod first, then the closest; rollbacks flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from opsnb.errors import ValidationError
from opsnb.workbench import Workbench

T = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # the instant the trouble began


def _deploy(ops: Workbench, id: str, *, minutes_before: float, env: str = "prod", service: str = "checkout",
            version: str = "2.0.0") -> None:
    at = T - timedelta(minutes=minutes_before)
    ops.deploys.create(id=id, service=service, env=env, version=version, started_at=at,
                       finished_at=at + timedelta(minutes=2))


def _world(ops: Workbench) -> None:
    _deploy(ops, "old-prod", minutes_before=7 * 60, version="1.8.0")  # outside a 6 h look-back
    _deploy(ops, "prev-prod", minutes_before=5 * 60, version="1.9.0")
    _deploy(ops, "stage", minutes_before=60, env="staging")
    _deploy(ops, "bad-prod", minutes_before=3)
    _deploy(ops, "late-stage", minutes_before=1, env="staging", version="2.0.1")
    _deploy(ops, "other", minutes_before=2, service="payments")
    ops.deploys.record_rollback("bad-prod", at=T + timedelta(minutes=20), new_id="rollback")  # after T


def test_prod_ranks_first_then_the_closest(ops: Workbench) -> None:
    _world(ops)
    df = ops.deploys.suspects(service="checkout", before=T, within="6h")
    assert df["id"].tolist() == ["bad-prod", "prev-prod", "late-stage", "stage"]
    assert df["rank"].tolist() == [1, 2, 3, 4]
    assert df["prod"].tolist() == [True, True, False, False]
    assert df["minutes_before"].tolist() == [3.0, 300.0, 1.0, 60.0]
    first = df.iloc[0]
    assert first["rolled_back"] and not first["is_rollback"] and first["status"] == "rolled_back"
    assert str(df["started_at"].dt.tz) == "UTC"


def test_rollbacks_are_flagged_and_the_window_is_honoured(ops: Workbench) -> None:
    _world(ops)
    after = ops.deploys.suspects(service="checkout", before=T + timedelta(minutes=30), within="1h")
    assert after["id"].tolist()[:2] == ["rollback", "bad-prod"]
    assert after.set_index("id").loc["rollback", "is_rollback"]
    assert not after.set_index("id").loc["bad-prod", "is_rollback"]
    every = ops.deploys.suspects(before=T.isoformat(), within="10m")  # every service, ISO text
    assert every["id"].tolist() == ["other", "bad-prod", "late-stage"]
    only_staging = ops.deploys.suspects(service="checkout", before=T, env="staging")
    assert set(only_staging["env"]) == {"staging"}
    assert ops.deploys.suspects(service="nobody", before=T).empty


def test_bad_arguments(ops: Workbench) -> None:
    with pytest.raises(ValidationError, match="within"):
        ops.deploys.suspects(service="checkout", before=T, within="6")  # a bare number
    with pytest.raises(ValidationError, match="before"):
        ops.deploys.suspects(service="checkout", before="yesterday-ish")


def test_the_demo_worlds_bad_checkout_deploy(ops: Workbench, demo_ops: Workbench) -> None:
    """The demo's deploys, recorded again on SQLite and PostgreSQL: INC-1's deploy is the suspect."""
    for d in demo_ops.deploys.list().sort_values(["started_at", "id"]).itertuples():
        ops.deploys.create(id=d.id, service=d.service, env=d.env, version=d.version,
                           previous_version=d.previous_version, commit=d.commit, actor=d.actor, status=d.status,
                           started_at=d.started_at.to_pydatetime(), finished_at=d.finished_at.to_pydatetime(),
                           rollback_of=None if pd.isna(d.rollback_of) else d.rollback_of)
    inc = demo_ops.incidents.get("INC-1")
    df = ops.deploys.suspects(service=inc.service, before=inc.started_at, within="6h")
    assert df.iloc[0]["id"] == inc.linked("deploy")[0]
    assert df.iloc[0]["env"] == "prod" and df.iloc[0]["rolled_back"]
    staged = df[df["env"] == "staging"]
    assert len(staged) and staged["version"].iloc[0] == df.iloc[0]["version"]  # the bad version, staged first
    assert df["prod"].tolist() == sorted(df["prod"], reverse=True)  # every prod deploy ranks ahead


def test_suspects_of_an_incident_rank_the_injected_bad_deploy_first(demo_ops: Workbench) -> None:
    """``suspects("INC-1")`` on the demo world: the bad checkout deploy first, with its reasons."""
    inc = demo_ops.incidents.get("INC-1")
    df = demo_ops.deploys.suspects("INC-1")
    top = df.iloc[0]
    assert top["id"] == inc.linked("deploy")[0] and top["rank"] == 1
    reasons = " | ".join(top["reasons"])
    assert "same service" in reasons and "prod" in reasons and "later rolled back" in reasons
    assert "error ratio stepped" in reasons  # the 5xx began right after it
    assert (df["at"] <= inc.started_at).all() and df["score"].is_monotonic_decreasing
    staged = df[(df["env"] == "staging") & (df["version"] == top["version"])]
    assert len(staged) and staged.index[0] > 0  # the same version on staging is evidence, ranked lower
    assert len(demo_ops.deploys.suspects("INC-1", within="1m")) < len(df)  # the window is honoured


def test_other_changes_are_suspects_too(ops: Workbench) -> None:
    _world(ops)
    inc = ops.incidents.create(title="checkout 5xx", service="checkout", impact_start=T,
                               detected_at=T + timedelta(minutes=2))
    flag = ops.changes.record(kind="feature_flag", service="checkout", summary="new-cart on",
                              at=T - timedelta(minutes=1))
    ops.changes.record(kind="config", service="payments", summary="timeout 5s -> 1s", at=T - timedelta(minutes=1))
    df = ops.deploys.suspects(inc.id, within="6h")
    ids = df["id"].tolist()
    assert flag.id in ids and ids.index(flag.id) < ids.index("prev-prod")
    assert ids.index("bad-prod") < ids.index("stage")  # prod before staging
    assert "rollback" not in ids  # after impact: not a suspect
    row = df.set_index("id").loc[flag.id]
    assert row["kind"] == "feature_flag" and "same service" in row["reasons"]


def test_cli_suspects(demo_workspace) -> None:
    from click.testing import CliRunner

    from opsnb.cli import cli

    res = CliRunner().invoke(cli, ["deploys", "suspects", "INC-1", "--format", "json", "-w", str(demo_workspace)])
    assert res.exit_code == 0, res.output
    import json

    rows = json.loads(res.stdout)
    assert rows[0]["rank"] == 1 and rows[0]["kind"] == "deploy" and rows[0]["reasons"]
