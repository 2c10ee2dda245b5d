"""Pattern diff over the lake's logs, and the ``patterns`` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner

from opsnb.errors import ValidationError
from opsnb.logs.patterns import patterns_frame
from opsnb.logs.patterns_cli import patterns_cmd
from opsnb.workbench import Workbench

T0 = datetime(2026, 4, 2, 10, tzinfo=UTC)
DEPLOY = T0 + timedelta(hours=2)


def _seed(ops: Workbench) -> None:
    rows = []
    for i in range(240):  # two hours before the deploy, one after
        t = T0 + timedelta(seconds=45 * i)
        rows.append({"Timestamp": t, "ServiceName": "checkout", "Body": f"GET /cart/{i} 200 in {i % 50}ms"})
        if t < DEPLOY:
            rows.append({"Timestamp": t, "ServiceName": "checkout", "Body": f"legacy pricing used for cart {i}"})
        else:
            rows.append({"Timestamp": t, "ServiceName": "checkout",
                         "Body": f"price service returned null for sku SKU-{i}"})
        rows.append({"Timestamp": t, "ServiceName": "search", "Body": f"reindexed shard {i % 4}"})
    ops.lake.write("logs", pd.DataFrame(rows))


def test_patterns_frame_before_after_deploy(ops_sqlite: Workbench) -> None:
    _seed(ops_sqlite)
    df = patterns_frame(ops_sqlite, DEPLOY, DEPLOY + timedelta(hours=1), T0, service="checkout")
    by = {r.template: r for r in df.itertuples()}
    new = [r for r in df.itertuples() if r.status == "new"]
    assert len(new) == 1 and new[0].template == "price service returned null for sku <ID>"
    assert new[0].example.startswith("price service returned null for sku SKU-")
    assert by["legacy pricing used for cart <NUM>"].status == "vanished"
    assert by["GET <PATH> <NUM> in <DUR>"].status == "steady"
    assert not any("reindexed" in t for t in by)  # other service filtered out
    with pytest.raises(ValidationError):
        patterns_frame(ops_sqlite, DEPLOY, DEPLOY, T0)


def test_patterns_command(ops_sqlite: Workbench) -> None:
    _seed(ops_sqlite)
    res = CliRunner().invoke(patterns_cmd, [
        "--workspace", str(ops_sqlite.workspace), "--since", DEPLOY.isoformat(),
        "--until", (DEPLOY + timedelta(hours=1)).isoformat(), "--baseline", T0.isoformat(), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0]["status"] == "new" and "price service" in rows[0]["template"]
