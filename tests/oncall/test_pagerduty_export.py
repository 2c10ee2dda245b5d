"""On-call schedules exported as PagerDuty REST API v2 Schedule objects.

The structure is checked against a JSON Schema of the ``POST /schedules`` body
(tests/data/pagerduty-schedule, written from PagerDuty's API reference, and shown to accept
the reference's own example). The hand-offs the export implies, read back the way PagerDuty
turns a layer, are compared with opsnb's own rotation over months that cross both DST changes.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.oncall import rotation as rot
from opsnb.oncall.pagerduty import pagerduty_handoffs, pagerduty_who, schedule_object
from tests.conftest import make_ops

DATA = Path(__file__).resolve().parents[1] / "data" / "pagerduty-schedule"
SCHEMA = json.loads((DATA / "schedule-request.schema.json").read_text())
NY = "America/New_York"
T0 = datetime(2026, 2, 23, tzinfo=UTC)  # two weeks before spring-forward (2026-03-08)
T1 = datetime(2026, 11, 30, tzinfo=UTC)  # past fall-back (2026-11-01)


def check(body: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(body)


def z(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_schema_accepts_the_reference_example_and_refuses_broken_ones() -> None:
    example = json.loads((DATA / "example-schedule.json").read_text())
    check(example)
    for breaks in (lambda s: s["schedule_layers"][0].pop("rotation_virtual_start"),
                   lambda s: s["schedule_layers"][0]["restrictions"][0].pop("duration_seconds"),
                   lambda s: s["schedule_layers"][0].update(rotation_turn_length_seconds=86400 * 400),
                   lambda s: s["schedule_layers"][0]["users"][0]["user"].update(type="team"),
                   lambda s: s["schedule_layers"][0].update(start="2015-11-06 20:00")):
        bad = copy.deepcopy(example)
        breaks(bad["schedule"])
        with pytest.raises(jsonschema.ValidationError):
            check(bad)


LAYERS = [
    {"name": "weekly", "members": ["alice", "bob", "carol"], "rotation": "weekly",
     "first_handoff": "2026-03-02T09:00"},
    {"name": "office-hours", "members": ["dave", "erin"], "rotation": "daily", "first_handoff": "2026-03-02T09:00",
     "window": ["09:00", "17:00"], "start": "2026-03-04T00:00:00Z", "end": "2026-10-30T00:00:00Z"},
    {"name": "night", "members": ["frank"], "rotation": "custom", "every": "3d", "first_handoff": "2026-02-20T22:00",
     "window": ["22:00", "06:00"]},
]


@pytest.fixture
def wb(ops):
    ops.oncall.create_schedule(name="primary", timezone=NY, layers=LAYERS, description="Payments primary")
    return ops


def test_export_has_the_published_shape_and_opsnb_values(wb) -> None:
    out = wb.oncall.export_pagerduty("primary", user_ids={"alice": "PXPGF42", "bob": "PB0B000"})
    check(out.body)
    s = out.body["schedule"]
    assert (s["type"], s["name"], s["time_zone"], s["description"]) == ("schedule", "primary", NY, "Payments primary")
    weekly, office, night = s["schedule_layers"]
    assert weekly["rotation_virtual_start"] == weekly["start"] == "2026-03-02T09:00:00-05:00"
    assert weekly["rotation_turn_length_seconds"] == 7 * 86400 and weekly["end"] is None
    assert [u["user"]["id"] for u in weekly["users"]] == ["PXPGF42", "PB0B000", "carol"]
    assert weekly["users"][0]["user"] == {"id": "PXPGF42", "type": "user_reference", "summary": "alice"}
    assert weekly["restrictions"] == []
    # the layer starts after its first handoff: start is the layer's, the rotation keeps its virtual start
    assert office["rotation_virtual_start"] == "2026-03-02T09:00:00-05:00"
    assert office["start"] == "2026-03-03T19:00:00-05:00" and office["end"] == "2026-10-29T20:00:00-04:00"
    assert office["restrictions"] == [{"type": "daily_restriction", "start_time_of_day": "09:00:00",
                                       "duration_seconds": 8 * 3600}]
    assert night["rotation_turn_length_seconds"] == 3 * 86400
    assert night["restrictions"][0] == {"type": "daily_restriction", "start_time_of_day": "22:00:00",
                                        "duration_seconds": 8 * 3600}
    assert "carol, dave, erin, frank" in " ".join(out.notes)


def test_handoffs_round_trip_across_both_dst_changes(wb) -> None:
    spec = wb.oncall.spec("primary")
    body = schedule_object(spec).body
    for layer, pd_layer in zip(spec.layers, body["schedule"]["schedule_layers"], strict=True):
        ours = [(t, layer.members[k % len(layer.members)]) for k, t in rot.handoffs(layer, NY, T0, T1)]
        theirs = pagerduty_handoffs(pd_layer, NY, T0, T1)
        assert theirs == ours and len(ours) > 10
    weekly = [t for t, _ in pagerduty_handoffs(body["schedule"]["schedule_layers"][0], NY, T0, T1)]
    hours = {t.date().isoformat(): (b - t).total_seconds() / 3600 for t, b in zip(weekly, weekly[1:], strict=False)}
    assert hours["2026-03-02"] == 167 and hours["2026-10-26"] == 169  # the weeks holding the DST changes
    assert set(hours.values()) == {167.0, 168.0, 169.0}
    assert weekly[0] == z("2026-03-02T14:00:00Z") and weekly[1] == z("2026-03-09T13:00:00Z")


def test_who_is_on_call_matches_opsnb_everywhere(wb) -> None:
    spec = rot.ScheduleSpec("primary", NY, wb.oncall.spec("primary").layers)
    body = schedule_object(spec).body
    pts = [datetime.fromtimestamp(int(p) / 1e9, UTC) for p in rot.boundaries(spec, T0, T1)]
    probes = sorted({*pts, *(p + timedelta(seconds=1) for p in pts), *(p - timedelta(seconds=1) for p in pts),
                     *(T0 + timedelta(hours=7 * h) for h in range(int((T1 - T0).total_seconds() // 25200)))})
    ours = rot.who(spec, probes)
    mismatched = [(t, ours.iloc[i], pagerduty_who(body, t)) for i, t in enumerate(probes)
                  if ours.iloc[i] != pagerduty_who(body, t)]
    assert not mismatched[:5] and len(probes) > 1000
    assert {ours.iloc[i] for i in range(len(probes))} >= {"alice", "bob", "carol", "dave", "erin", "frank", None}


def test_overrides_are_left_out_of_the_schedule_and_exported_apart(wb) -> None:
    wb.oncall.add_override("primary", person="zoe", start="2026-03-10T00:00:00Z", end="2026-03-11T00:00:00Z")
    out = wb.oncall.export_pagerduty("primary", user_ids={"zoe": "PZ0E000"})
    assert "1 override(s) are not part of a Schedule object" in " ".join(out.notes)
    assert out.overrides == {"overrides": [{"start": "2026-03-09T20:00:00-04:00", "end": "2026-03-10T20:00:00-04:00",
                                            "user": {"id": "PZ0E000", "type": "user_reference", "summary": "zoe"}}]}
    check(out.body)


def test_cli_export(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ops = make_ops(ws)
    ops.oncall.create_schedule(name="primary", timezone=NY, layers=LAYERS[:1])
    ops.close()

    def run(*args: str):
        return CliRunner().invoke(cli, ["--workspace", str(ws), "oncall", "export", *args])

    r = run("primary", "--format", "pagerduty", "--user-id", "alice=PXPGF42", "--user-id", "bob=PB0B000",
            "--user-id", "carol=PC4R0L0")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    check(body)
    assert [u["user"]["id"] for u in body["schedule"]["schedule_layers"][0]["users"]] == [
        "PXPGF42", "PB0B000", "PC4R0L0"]
    assert r.stderr == ""
    r = run("primary", "--format", "pagerduty")
    assert r.exit_code == 0 and "note: users without a PagerDuty id" in r.stderr
    r = run("primary", "--format", "pagerduty", "--user-id", "alice")
    assert r.exit_code == 2 and "NAME=PID" in r.output
    r = run("primay", "--format", "pagerduty")
    assert r.exit_code != 0 and "did you mean 'primary'" in r.output + str(r.exception)
    r = run("primary", "--format", "pagerduty", "--overrides")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"overrides": []}
