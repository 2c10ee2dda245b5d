"""Fingerprints of the stack traces each runtime prints: JVM, .NET, Go, Node.js and Python.

The samples under tests/data/traces were written for these tests in the shapes the runtimes print,
often behind a logger's prefix, as they reach a log line.
"""

from __future__ import annotations

import json

import pytest

from opsnb.logs.fingerprints import fingerprint
from tests.conftest import TESTDATA

TRACES = TESTDATA / "traces"
EXPECTED: dict[str, list[str]] = {k: v for k, v in json.loads((TRACES / "expected.json").read_text()).items()
                                  if k != "README"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_type_and_top_frame(name: str) -> None:
    exc_type, top = EXPECTED[name]
    f = fingerprint((TRACES / name).read_text())
    assert f.exception_type == exc_type
    assert f.label == f"{exc_type} at {top}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stable_across_line_numbers_and_generated_names(name: str) -> None:
    import re

    text = (TRACES / name).read_text()
    moved = re.sub(r"(?<=[:e] )\d+|(?<=:)\d+", lambda m: str(int(m.group(0)) + 7), text)  # every line number
    moved = moved.replace("b__4_0", "b__5_1").replace("d__7", "d__9").replace("0xc0001a6000", "0xc0009f0000")
    assert moved != text
    assert fingerprint(moved).fp == fingerprint(text).fp


def test_different_runtimes_and_bugs_differ() -> None:
    fps = {fingerprint((TRACES / n).read_text()).fp for n in EXPECTED}
    assert len(fps) == len(EXPECTED)
