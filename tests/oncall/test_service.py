"""On-call state on SQLite and PostgreSQL: schedules, overrides, roles, audit, plans, iCalendar, YAML."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from opsnb.errors import Conflict, NotFound, ParseError, PermissionDenied, ValidationError
from opsnb.workbench import Workbench

NY = "America/New_York"


def z(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def make_primary(ops: Workbench) -> None:
    ops.oncall.create_schedule(name="primary", timezone=NY, members=["alice", "bob", "carol"], rotation="weekly",
                               first_handoff="2025-03-03T09:00")


def test_reference_example_through_the_service(ops: Workbench) -> None:
    make_primary(ops)
    answers = [ops.oncall.who_is_on_call("primary", t) for t in
               ("2025-03-03T13:59:59Z", "2025-03-03T14:00:00Z", "2025-03-10T12:59:59Z", "2025-03-10T13:00:00Z")]
    assert answers == [None, "alice", "alice", "bob"]
    info = ops.oncall.get("primary")
    assert info.timezone == NY and info.layers[0].members == ("alice", "bob", "carol")
    assert "primary" in info._repr_html_()
    listed = ops.oncall.list()
    assert listed["name"].tolist() == ["primary"] and listed["members"][0] == ["alice", "bob", "carol"]
    audit = ops.audit.list(action="oncall.*")
    assert audit["action"].tolist() == ["oncall.create_schedule"] and audit["actor"][0] == "tester"


def test_layers_and_overrides_in_the_database(ops: Workbench) -> None:
    ops.oncall.create_schedule(name="s", timezone=NY, layers=[
        {"name": "base", "rotation": "weekly", "first_handoff": "2025-03-03T09:00", "members": ["alice", "bob"]},
        {"name": "day", "rotation": "daily", "first_handoff": "2025-03-03T09:00", "members": ["dave", "erin"],
         "window": ["09:00", "17:00"]},
    ])
    assert ops.oncall.who_is_on_call("s", "2025-03-04T15:00Z") == "erin"
    assert ops.oncall.who_is_on_call("s", "2025-03-04T23:00Z") == "alice"
    oid = ops.oncall.add_override("s", person="zed", start="2025-03-04T14:00Z", end="2025-03-04T16:00Z",
                                  reason="swap")
    assert ops.oncall.who_is_on_call("s", "2025-03-04T15:00Z") == "zed"
    idx = pd.date_range("2025-03-04T13:00Z", periods=5, freq="1h")
    assert ops.oncall.who_is_on_call("s", idx).tolist() == ["alice", "zed", "zed", "erin", "erin"]
    shifts = ops.oncall.final_shifts("s", "2025-03-04T12:00Z", "2025-03-04T23:00Z")
    assert shifts[["person", "source"]].values.tolist() == [["alice", "base"], ["zed", "override"],
                                                            ["erin", "day"], ["alice", "base"]]
    assert ops.oncall.overrides("s")["id"].tolist() == [oid]
    ops.oncall.remove_override("s", oid)
    assert ops.oncall.who_is_on_call("s", "2025-03-04T15:00Z") == "erin"
    ops.oncall.update("s", layers=[{"name": "base", "rotation": "daily", "first_handoff": "2025-03-03T09:00",
                                    "members": ["bob"]}])
    assert ops.oncall.who_is_on_call("s", "2025-03-04T15:00Z") == "bob"
    actions = ops.audit.list(action="oncall.*")["action"].tolist()
    assert actions == ["oncall.update_schedule", "oncall.remove_override", "oncall.add_override",
                       "oncall.create_schedule"]


def test_roles(ops: Workbench) -> None:
    make_primary(ops)
    ops.access.grant("rita", "responder")
    ops.access.grant("vic", "viewer")
    ops.user = "vic"
    assert ops.oncall.who_is_on_call("primary", "2025-03-04T00:00Z") == "alice"  # reading needs nothing
    with pytest.raises(PermissionDenied):
        ops.oncall.add_override("primary", person="vic", start="2025-03-04", end="2025-03-05")
    ops.user = "rita"
    ops.oncall.add_override("primary", person="rita", start="2025-03-04", end="2025-03-05")
    with pytest.raises(PermissionDenied):
        ops.oncall.create_schedule(name="x", timezone="UTC", members=["a"], first_handoff="2025-01-01T00:00")
    with pytest.raises(PermissionDenied):
        ops.oncall.create_policy(name="p", levels=[{"targets": ["a"], "delay": "5m"}])
    with pytest.raises(PermissionDenied):
        ops.oncall.update("primary", description="mine now")
    assert ops.oncall.who_is_on_call("primary", "2025-03-04T12:00Z") == "rita"


def test_bad_input_changes_nothing(ops: Workbench) -> None:
    make_primary(ops)
    bad = [
        {"name": "x", "timezone": "Mars/Base", "members": ["a"], "first_handoff": "2025-01-01T00:00"},
        {"name": "x y", "timezone": "UTC", "members": ["a"], "first_handoff": "2025-01-01T00:00"},
        {"name": "x", "timezone": "UTC", "members": [], "first_handoff": "2025-01-01T00:00"},
        {"name": "x", "timezone": "UTC"},
        {"name": "x", "timezone": "UTC", "layers": [{"name": "l", "members": ["a"], "first_handoff": "2025-01-01T00:00"}] * 2},
        {"name": "x", "timezone": "UTC", "layers": "weekly"},
    ]
    for kw in bad:
        with pytest.raises(ValidationError):
            ops.oncall.create_schedule(**kw)
    with pytest.raises(Conflict):
        make_primary(ops)
    with pytest.raises(NotFound):
        ops.oncall.who_is_on_call("nope", "2025-03-04")
    for kw in ({"person": "", "start": "2025-03-04", "end": "2025-03-05"},
               {"person": "a", "start": "2025-03-05", "end": "2025-03-04"},
               {"person": "a", "start": "2025-03-04", "end": "2027-03-05"},
               {"person": "a", "start": "tomorrow", "end": "2025-03-05"}):
        with pytest.raises(ValidationError):
            ops.oncall.add_override("primary", **kw)
    assert ops.oncall.list()["name"].tolist() == ["primary"]
    assert ops.oncall.overrides("primary").empty
    assert ops.audit.list(action="oncall.*")["action"].tolist() == ["oncall.create_schedule"]


def test_plan_through_the_service_resolves_schedules_at_firing_time(ops: Workbench) -> None:
    make_primary(ops)
    ops.oncall.create_policy(name="default", repeat=1, levels=[
        {"targets": [{"schedule": "primary"}], "delay": "30m"},
        {"targets": [{"person": "carol"}], "delay": "30m"}])
    # Triggered 30 minutes before the Monday handoff (13:00Z): round 2 goes to bob.
    df = ops.oncall.plan("default", "2025-03-10T12:30Z")
    prim = df[df["target"] == "primary"]
    assert prim["person"].tolist() == ["alice", "bob"]
    assert prim["at"].tolist() == [pd.Timestamp("2025-03-10T12:30Z"), pd.Timestamp("2025-03-10T13:30Z")]
    assert df.iloc[-1]["action"] == "exhausted"
    acked = ops.oncall.plan("default", "2025-03-10T12:30Z", ack_at="2025-03-10T12:40Z")
    assert acked["action"].tolist() == ["notify", "ack"]
    with pytest.raises(NotFound):
        ops.oncall.plan("nope")
    assert ops.notify.deliveries().empty  # a plan sends nothing


def test_ical_round_trip(ops: Workbench) -> None:
    make_primary(ops)
    ops.oncall.add_override("primary", person="Zoë, the \"cover\"; long name " + "x" * 60,
                            start="2025-03-05T00:00Z", end="2025-03-06T00:00Z")
    text = ops.oncall.export_ical("primary", "2025-03-01", "2025-03-20")
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    for line in text.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75
    assert "DTSTART:20250303T140000Z" in text and "DTSTART:20250310T130000Z" in text
    assert "\\;" in text and "\\," in text
    shifts = ops.oncall.final_shifts("primary", "2025-03-01", "2025-03-20")
    ops.oncall.create_schedule(name="copy", timezone="UTC", members=["nobody"], first_handoff="2030-01-01T00:00")
    ids = ops.oncall.import_ical("copy", text)
    assert len(ids) == len(shifts) == 5
    got = ops.oncall.final_shifts("copy", "2025-03-01", "2025-03-20")
    assert got[["start", "end", "person"]].values.tolist() == shifts[["start", "end", "person"]].values.tolist()


def test_ical_export_with_tzid_and_vtimezone(ops_sqlite: Workbench) -> None:
    ops = ops_sqlite
    make_primary(ops)
    text = ops.oncall.export_ical("primary", "2025-03-01", "2025-11-10", tzid=True)
    assert "DTSTART;TZID=America/New_York:20250303T090000" in text
    assert "DTSTART;TZID=America/New_York:20251103T090000" in text  # 09:00 local after fall back too
    tzblock = text[text.index("BEGIN:VTIMEZONE"):text.index("END:VTIMEZONE")]
    assert ("BEGIN:DAYLIGHT\r\nDTSTART:20250309T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
            "TZNAME:EDT") in tzblock
    assert ("BEGIN:STANDARD\r\nDTSTART:20251102T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
            "TZNAME:EST") in tzblock
    ops.oncall.create_schedule(name="copy", timezone="UTC", members=["x"], first_handoff="2030-01-01T00:00")
    ops.oncall.import_ical("copy", text)  # the VTIMEZONE is skipped, TZID read as the IANA zone
    want = ops.oncall.final_shifts("primary", "2025-03-01", "2025-11-10")
    got = ops.oncall.final_shifts("copy", "2025-03-01", "2025-11-10")
    assert got[["start", "end", "person"]].values.tolist() == want[["start", "end", "person"]].values.tolist()


def test_ical_import_of_foreign_calendars(ops: Workbench) -> None:
    ops.oncall.create_schedule(name="s", timezone=NY, members=["alice"], first_handoff="2025-01-06T09:00")
    cal = ("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nSUMMARY:On call: bob\n"
           "DTSTART;TZID=America/New_York:20250309T023000\nDTEND;TZID=America/New_York:20250309T120000\n"
           "END:VEVENT\nBEGIN:VEVENT\nUID:2\nSUMMARY:carol\nDTSTART;VALUE=DATE:20250401\nDURATION:P1D\n"
           "END:VEVENT\nEND:VCALENDAR\n")
    ops.oncall.import_ical("s", cal)
    ov = ops.oncall.overrides("s")
    assert ov["person"].tolist() == ["bob", "carol"]
    assert ov["start"].tolist() == [pd.Timestamp("2025-03-09T07:30Z"), pd.Timestamp("2025-04-01T04:00Z")]
    assert ov["end"].tolist() == [pd.Timestamp("2025-03-09T16:00Z"), pd.Timestamp("2025-04-02T04:00Z")]


@pytest.mark.parametrize("cal", [
    "",
    "hello",
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART:20250101T000000Z\nEND:VEVENT\nEND:VCALENDAR",
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART:2025-01-01\nDTEND:20250102T000000Z\nEND:VEVENT\nEND:VCALENDAR",
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART:20250102T000000Z\nDTEND:20250101T000000Z\nEND:VEVENT\n"
    "END:VCALENDAR",
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART;TZID=Mars/Base:20250101T000000\nDURATION:PT1H\n"
    "END:VEVENT\nEND:VCALENDAR",
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20250101T000000Z\nDURATION:PT1H\nEND:VEVENT\nEND:VCALENDAR",
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART:20250101T000000Z\nDURATION:PT1H\n",
    "BEGIN:VCALENDAR\nno colon here\nEND:VCALENDAR",
    "BEGIN:VCALENDAR\n" + "BEGIN:VEVENT\nSUMMARY:x\nDTSTART:20250101T000000Z\nDURATION:PT1H\nEND:VEVENT\n" * 10_001
    + "END:VCALENDAR",
])
def test_hostile_ical_imports_nothing(ops_sqlite: Workbench, cal: str) -> None:
    ops = ops_sqlite
    ops.oncall.create_schedule(name="s", timezone="UTC", members=["alice"], first_handoff="2025-01-06T09:00")
    good = "BEGIN:VEVENT\nSUMMARY:ok\nDTSTART:20250101T000000Z\nDURATION:PT1H\nEND:VEVENT\n"
    # Good events before the bad part are not kept either: all or nothing.
    text = cal.replace("BEGIN:VCALENDAR\n", "BEGIN:VCALENDAR\n" + good, 1)
    with pytest.raises(ParseError):
        ops.oncall.import_ical("s", text)
    assert ops.oncall.overrides("s").empty


def test_yaml_import(ops: Workbench, tmp_path: Path) -> None:
    f = tmp_path / "oncall.yaml"
    f.write_text("""
people:
  - name: alice
    contacts: [{channel: mail, target: alice@example.com}]
schedules:
  - name: primary
    timezone: America/New_York
    layers:
      - {name: weekly, rotation: weekly, first_handoff: "2025-03-03T09:00", members: [alice, bob, carol]}
    overrides:
      - {person: dave, start: "2025-03-05T00:00Z", end: "2025-03-06T00:00Z"}
  - name: secondary
    timezone: Europe/Berlin
    members: [erin, frank]
    rotation: custom
    every: 3d
    first_handoff: "2025-03-01T08:00"
escalation_policies:
  - name: default
    repeat: 1
    ack_timeout: 30m
    levels:
      - {targets: [{schedule: primary}], delay: 15m}
      - {targets: [{schedule: secondary}, {person: carol}], delay: 15m}
""")
    done = ops.oncall.import_yaml(f)
    assert done == {"people": ["alice"], "schedules": ["primary", "secondary"], "escalation_policies": ["default"]}
    assert ops.oncall.who_is_on_call("primary", "2025-03-05T12:00Z") == "dave"
    assert ops.oncall.who_is_on_call("secondary", "2025-03-04T12:00Z") == "frank"
    assert ops.oncall.policies()["repeat"].tolist() == [1]
    assert ops.oncall.people()["contacts"][0] == [{"channel": "mail", "target": "alice@example.com"}]


@pytest.mark.parametrize("text,error", [
    ("schedules: [\n", ParseError),
    ("- just a list\n", ValidationError),
    ("teams: []\n", ValidationError),
    ("!!python/object/apply:os.system ['true']\n", ParseError),
    ("schedules:\n  - {name: a, timezone: Mars/Base, members: [x], first_handoff: '2025-01-01T00:00'}\n",
     ValidationError),
    ("escalation_policies:\n  - {name: p, levels: []}\n", ValidationError),
    # Valid up front, fails late (unknown member-less layer in the 2nd schedule): the 1st is undone.
    ("schedules:\n  - {name: a, timezone: UTC, members: [x], first_handoff: '2025-01-01T00:00'}\n"
     "  - {name: b, timezone: UTC, members: [], first_handoff: '2025-01-01T00:00'}\n", ValidationError),
])
def test_bad_yaml_creates_nothing(ops_sqlite: Workbench, tmp_path: Path, text: str, error: type) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(error):
        ops_sqlite.oncall.import_yaml(f)
    assert ops_sqlite.oncall.list().empty and ops_sqlite.oncall.policies().empty


def test_cli(ops_sqlite: Workbench, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from opsnb.cli import cli

    make_primary(ops_sqlite)
    ops_sqlite.oncall.create_policy(name="default", levels=[{"targets": [{"schedule": "primary"}], "delay": "5m"}])
    ws = ["-w", str(ops_sqlite.workspace)]
    r = CliRunner()
    out = r.invoke(cli, ["oncall", "who", "primary", "--at", "2025-03-10T13:00:00Z", "--format", "json", *ws])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["person"] == "bob"
    out = r.invoke(cli, ["oncall", "shifts", "primary", "--start", "2025-03-01", "--end", "2025-03-20",
                         "--format", "json", *ws])
    assert [s["person"] for s in json.loads(out.stdout)] == ["alice", "bob", "carol"]
    out = r.invoke(cli, ["oncall", "plan", "default", "--at", "2025-03-10T12:00Z", "--format", "json", *ws])
    assert [p["person"] for p in json.loads(out.stdout) if p["action"] == "notify"] == ["alice"]
    ics = tmp_path / "p.ics"
    out = r.invoke(cli, ["oncall", "export-ical", "primary", "--start", "2025-03-01", "--end", "2025-03-20",
                         "-o", str(ics), *ws])
    assert out.exit_code == 0 and ics.read_bytes().count(b"BEGIN:VEVENT") == 3
    out = r.invoke(cli, ["oncall", "who", "nope", *ws])
    assert out.exit_code != 0 and isinstance(out.exception, NotFound)
    out = r.invoke(cli, ["oncall", "who", "primary", "--at", "someday", *ws])
    assert out.exit_code == 2 and "--at: 'someday' is not a time" in out.stderr


def test_export_uses_utc_and_escapes(ops_sqlite: Workbench) -> None:
    make_primary(ops_sqlite)
    text = ops_sqlite.oncall.export_ical("primary", datetime(2025, 3, 1, tzinfo=UTC), "2025-03-04")
    assert text.count("BEGIN:VEVENT") == 1 and "X-OPSNB-PERSON:alice" in text


def test_cli_tick_loop_fires_due_pages(ops_sqlite: Workbench, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from opsnb.cli import cli
    from tests.notify.servers import http_receiver

    ops = ops_sqlite
    make_primary(ops)
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        ops.oncall.create_policy(name="p", channel="hook", levels=[{"targets": [{"person": "zoe"}], "delay": "1m"}])
        with ops.db.session() as s:  # a timer already due, as left behind by a stopped process
            from opsnb.oncall.models import Escalation, Policy, Timer
            from opsnb.store.types import utcnow

            pid = s.query(Policy.id).scalar()
            e = Escalation(incident_id="INC-5", policy_id=pid, policy_name="p", status="active", subject="s", body="",
                           context={}, generation=0, started_at=utcnow(), created_by="t")
            s.add(e)
            s.flush()
            s.add(Timer(escalation_id=e.id, kind="page", due_at=utcnow(), round=0, level=0, generation=0,
                        status="pending", result=[]))
        out = CliRunner().invoke(cli, ["oncall", "tick", "--every", "1s", "--times", "2", "--format", "json",
                                       "-w", str(ops.workspace)])
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout.splitlines()[0])[0]["incident_id"] == "INC-5"
    assert len(rx.requests) == 1


def test_ical_import_expands_recurrence_with_exceptions_and_embedded_zones(ops: Workbench) -> None:
    """12 weekly occurrences, 2 EXDATEs left out, one moved by RECURRENCE-ID: 10 overrides, as calendar
    programs read it; the TZID is a Windows name defined only by the file's VTIMEZONE."""
    ops.oncall.create_schedule(name="s", timezone="UTC", members=["alice"], first_handoff="2025-01-06T09:00")
    text = (Path(__file__).parents[1] / "data" / "ical" / "weekly-exdate-vtimezone.ics").read_bytes()
    ids = ops.oncall.import_ical("s", text)
    ov = ops.oncall.overrides("s").sort_values("start")
    assert len(ids) == 10 and len(ov) == 10 and ids.notes == []
    starts = ov["start"].tolist()
    assert starts[0] == pd.Timestamp("2025-03-03T14:00Z")  # 09:00 EST
    assert starts[1] == pd.Timestamp("2025-03-10T13:00Z")  # 09:00 EDT: the embedded zone's DST rule
    assert pd.Timestamp("2025-03-17T13:00Z") not in starts and pd.Timestamp("2025-03-24T13:00Z") not in starts
    moved = ov[ov["start"] == pd.Timestamp("2025-04-07T14:00Z")]
    assert moved["person"].tolist() == ["carol"]
    assert set(ov["person"]) == {"bob", "carol"}


def test_ical_rule_without_end_is_expanded_to_a_horizon_and_says_so(ops: Workbench) -> None:
    ops.oncall.create_schedule(name="s", timezone="UTC", members=["alice"], first_handoff="2025-01-06T09:00")
    cal = ("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:forever\nSUMMARY:dave\n"
           "DTSTART:20250106T090000Z\nDTEND:20250106T170000Z\nRRULE:FREQ=MONTHLY\nEND:VEVENT\nEND:VCALENDAR\n")
    ids = ops.oncall.import_ical("s", cal)
    assert len(ids) > 12 and ids.notes and "repeats without end" in ids.notes[0]
