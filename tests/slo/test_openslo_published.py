"""The OpenSLO specification's own example files (tests/data/openslo/published, Apache-2.0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsnb.errors import ValidationError
from opsnb.slo.spec import load_paths

DATA = Path(__file__).resolve().parents[1] / "data" / "openslo" / "published"


@pytest.mark.parametrize(("name", "slo", "method", "target", "window"), [
    ("occurences-slo.yaml", "search-slo", "Occurrences", 0.99, "2w rolling"),
    ("ratio-timeslices.yaml", "main-page", "RatioTimeslices", 0.99, "2w rolling"),
])
def test_published_examples_load(name: str, slo: str, method: str, target: float, window: str) -> None:
    spec = load_paths([DATA / name]).slo(slo)
    assert (spec.method, spec.target, str(spec.window)) == (method, target, window)


def test_calendar_window_of_one_minute_is_refused_with_the_month_spelling() -> None:
    with pytest.raises(ValidationError, match="1m is a minute, 1M a month"):
        load_paths([DATA / "timeslices-slo.yaml"])


def test_service_imports_them_keeping_unknown_source_types(ops_sqlite) -> None:
    loaded = ops_sqlite.slos.import_file(DATA / "occurences-slo.yaml")
    assert list(loaded) == ["search-slo"]
    assert any("Any" in n for n in loaded.notes)  # a source type opsnb has no source for: kept, reported
