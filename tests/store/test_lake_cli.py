"""``opsnb lake`` through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.workbench import connect


def test_stats_compact_retain(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ops = connect(ws)
    run = CliRunner()
    refused = run.invoke(cli, ["lake", "retain", "--days", "30", "-w", str(ws)])
    assert refused.exit_code == 1 and "lake.retain needs operator" in str(refused.exception)
    ops.access.grant("tester", "admin", reason="test")
    old = datetime.now(UTC) - timedelta(days=40)
    for i in range(3):
        ops.lake.write("logs", pa.table({"Timestamp": pa.array([old + timedelta(minutes=i)],
                                                               pa.timestamp("us", tz="UTC")), "Body": ["x"]}))
    ops.lake.write("logs", pa.table({"Timestamp": pa.array([old + timedelta(days=35)],
                                                           pa.timestamp("us", tz="UTC")), "Body": ["y"]}))
    out = run.invoke(cli, ["lake", "stats", "--format", "json", "-w", str(ws)])
    logs = next(r for r in json.loads(out.output) if r["table"] == "logs")
    assert logs == {"table": "logs", "rows": 4, "segments": 4, "days": 2, "bytes": logs["bytes"]}
    out = run.invoke(cli, ["lake", "compact", "--min-segments", "2", "-w", str(ws)])
    assert out.exit_code == 0 and "logs: 1 days compacted" in out.output
    assert len(ops.lake.files("logs")) == 2
    out = run.invoke(cli, ["lake", "retain", "--days", "30", "-w", str(ws)])
    assert "logs: 1 days deleted" in out.output
    assert ops.lake.count("logs") == 1
    audited = ops.audit.list(action="lake.*")
    assert list(audited["action"]) == ["lake.retain", "lake.compact"]  # newest first; deleting data is audited
    assert audited.iloc[0]["params"]["deleted"]["logs"] == [old.date().isoformat()]
    bad = run.invoke(cli, ["lake", "compact", "--table", "nope", "-w", str(ws)])
    assert bad.exit_code == 1 and "unknown lake table 'nope'" in str(bad.exception)
