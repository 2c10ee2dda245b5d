"""A mistyped schedule or policy name gets a did-you-mean (or the names there are), on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import NotFound
from opsnb.workbench import Workbench


def test_schedule_and_policy_names_suggest(ops: Workbench) -> None:
    with pytest.raises(NotFound, match="no schedule 'primary'; there are no schedules yet"):
        ops.oncall.get("primary")
    ops.oncall.create_schedule(name="primary", timezone="UTC", members=["alice", "bob"], rotation="weekly",
                               first_handoff="2025-03-03T09:00")
    ops.oncall.create_schedule(name="secondary", timezone="UTC", members=["bob", "alice"], rotation="weekly",
                               first_handoff="2025-03-03T09:00")
    with pytest.raises(NotFound, match=r"no schedule 'primay'; did you mean 'primary'\?"):
        ops.oncall.who_is_on_call("primay")
    with pytest.raises(NotFound, match="no schedule 'zzz'; schedules: primary, secondary"):
        ops.oncall.final_shifts("zzz", "2025-03-03T00:00Z", "2025-03-04T00:00Z")
    ops.oncall.create_policy(name="sre-default", levels=[{"targets": ["schedule:primary"], "delay": "10m"}])
    with pytest.raises(NotFound, match=r"did you mean 'sre-default'\?"):
        ops.oncall.policy("sre-defualt")
    with pytest.raises(NotFound, match=r"did you mean 'sre-default'\?"):
        ops.oncall.update_policy("sre_default", repeat=1)


def test_cli_says_did_you_mean(demo_workspace: Path) -> None:
    out = CliRunner().invoke(cli, ["oncall", "who", "primay", "--workspace", str(demo_workspace)])
    assert out.exit_code != 0
    assert "did you mean 'primary'" in out.output + str(out.exception)
