"""Grouping accuracy on the Loghub samples must match or beat Drain's published figure.

Honest by construction: the RAW log file goes through the real command
(``opsnb logs templates FILE``, header recognition included, default settings),
and only afterwards is its CSV compared with the ground-truth ``EventId``
column. No per-data-set setting, regex or header pattern is passed.
"""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from opsnb.logs.patterns import grouping_accuracy
from opsnb.logs.patterns_cli import templates_cmd
from tests.logs._logdata import LOGHUB

# Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019 (loghub README).
DRAIN = {"HDFS": 0.998, "Apache": 1.000, "OpenSSH": 0.788, "Linux": 0.690, "Zookeeper": 0.967,
         "Hadoop": 0.948, "Spark": 0.920, "BGL": 0.963}


def _truth(name: str) -> list[str]:
    with open(LOGHUB / name / f"{name}_2k.log_eventids.csv", encoding="utf-8", newline="") as fh:
        return [row["EventId"] for row in csv.DictReader(fh)]


@pytest.mark.parametrize("name", sorted(DRAIN))
def test_grouping_accuracy_at_least_drain(name: str) -> None:
    log = LOGHUB / name / f"{name}_2k.log"
    res = CliRunner().invoke(templates_cmd, [str(log)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    truth = _truth(name)
    assert [int(r["line"]) for r in rows] == list(range(1, len(truth) + 1))  # every line, in order
    acc = grouping_accuracy([r["template_id"] for r in rows], truth)
    assert acc >= DRAIN[name], f"{name}: grouping accuracy {acc:.4f} < Drain's {DRAIN[name]}"
