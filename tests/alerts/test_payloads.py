"""Strict parsing of Alertmanager v4, Events v2 and SLO alerts (reference: "Payloads")."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from opsnb.alerts.matchers import Matcher, parse_matcher, parse_matchers
from opsnb.alerts.payloads import (
    fingerprint,
    load_json,
    parse_alertmanager,
    parse_events,
    parse_slo,
    parse_time,
)
from opsnb.errors import ParseError, ValidationError
from tests.alerts.factory import am_alert, am_body, event


def test_alertmanager_v4_body_normalizes_every_field() -> None:
    a = am_alert({"alertname": "DiskFull", "instance": "web-1", "service": "checkout"}, summary="disk")
    a["startsAt"] = "2025-03-01T12:00:00.123456789Z"
    out = parse_alertmanager(am_body([a]))
    assert len(out) == 1
    n = out[0]
    assert n.status == "firing" and n.ends_at is None and n.source == "alertmanager"
    assert n.starts_at == datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert n.labels["instance"] == "web-1" and n.annotations == {"summary": "disk"}
    assert n.fingerprint == a["fingerprint"] and n.raw is a


def test_fingerprint_is_alertmanagers_fnv64a() -> None:
    # model.LabelSet{}.Fingerprint() is the FNV-64a offset basis; one label changes it deterministically
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})
    assert fingerprint({"a": "b"}) != fingerprint({"a": "c"})
    assert len(fingerprint({"alertname": "x"})) == 16


def test_missing_fingerprint_is_derived_from_labels() -> None:
    a = am_alert({"alertname": "X"})
    del a["fingerprint"]
    assert parse_alertmanager(am_body([a]))[0].fingerprint == fingerprint({"alertname": "X"})


@pytest.mark.parametrize("mutate, needle", [
    (lambda b: b.update(version="3"), "version"),
    (lambda b: b.pop("version"), "version"),
    (lambda b: b.update(status="weird"), "status"),
    (lambda b: b.pop("receiver"), "receiver: missing"),
    (lambda b: b.update(alerts=[]), "alerts: is empty"),
    (lambda b: b.update(alerts={}), "alerts: must be an array"),
    (lambda b: b["alerts"][0].pop("startsAt"), "alerts[0].startsAt: missing"),
    (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
    (lambda b: b["alerts"][0].update(labels={"bad-name": "x"}), "not a valid label name"),
    (lambda b: b["alerts"][0].update(labels={"a": 5}), "alerts[0].labels.a: must be a string"),
    (lambda b: b["alerts"][0].update(labels={"a": "x\x00y"}), "NUL"),
    (lambda b: b["alerts"][0].update(labels={"a": "\ud800"}), "Unicode"),
    (lambda b: b["alerts"][0].update(labels={"a": "x" * 5000}), "more than the 4096"),
    (lambda b: b["alerts"][0].update(labels={f"l{i}": "v" for i in range(100)}), "labels"),
    (lambda b: b["alerts"][0].update(fingerprint="zz'; DROP TABLE alerts;--"), "hexadecimal"),
    (lambda b: b["alerts"][0].update(status=None), "alerts[0].status: missing"),
    (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts"),
])
def test_bad_alertmanager_bodies_name_the_field(mutate, needle: str) -> None:
    b = am_body([am_alert({"alertname": "X", "instance": "a"})])
    mutate(b)
    with pytest.raises(ValidationError) as ei:
        parse_alertmanager(b)
    assert needle in str(ei.value)


def test_every_problem_is_listed_not_just_the_first() -> None:
    b = am_body([am_alert({"alertname": "X"}), am_alert({"alertname": "Y"})])
    b["alerts"][0]["status"] = "nope"
    b["alerts"][1]["startsAt"] = "never"
    with pytest.raises(ValidationError) as ei:
        parse_alertmanager(b)
    assert len(ei.value.problems) == 2
    assert "alerts[0].status" in ei.value.problems[0] and "alerts[1].startsAt" in ei.value.problems[1]


def test_load_json_refuses_non_json_and_non_utf8() -> None:
    with pytest.raises(ParseError):
        load_json(b"{not json", "alertmanager")
    with pytest.raises(ParseError):
        load_json(b"\xff\xfe{}", "alertmanager")
    obj, raw = load_json('{"a": 1}', "x")
    assert obj == {"a": 1} and raw == '{"a": 1}'


def test_events_v2_trigger_ack_resolve() -> None:
    t = parse_events(event("trigger", group="payments", **{"class": "disk"}))[0]
    assert t.status == "firing" and t.fingerprint == "disk-web-1"
    assert t.labels == {"alertname": "disk", "severity": "critical", "source": "web-1", "component": "checkout",
                        "group": "payments", "class": "disk", "service": "checkout"}
    assert "routing_key" not in t.raw and "routing_key" not in json.dumps(t.labels)
    assert parse_events(event("acknowledge"))[0].status == "acknowledged"
    assert parse_events(event("resolve"))[0].status == "resolved"
    generated = parse_events(event("trigger", dedup_key=None))[0].fingerprint
    assert len(generated) == 32


@pytest.mark.parametrize("mutate, needle", [
    (lambda e: e.pop("routing_key"), "routing_key: missing"),
    (lambda e: e.update(routing_key="  "), "routing_key: is empty"),
    (lambda e: e.update(event_action="escalate"), "event_action"),
    (lambda e: e["payload"].update(severity="fatal"), "severity"),
    (lambda e: e["payload"].pop("summary"), "payload.summary: missing"),
    (lambda e: e["payload"].update(timestamp="soon"), "payload.timestamp"),
    (lambda e: e.update(payload="text"), "payload: must be an object"),
    (lambda e: e.update(dedup_key="k" * 300), "dedup_key"),
    (lambda e: e["payload"].update(custom_details={"a": "\x00"}), "NUL"),
])
def test_bad_events_are_refused_with_the_field(mutate, needle: str) -> None:
    e = event("trigger")
    mutate(e)
    with pytest.raises(ValidationError) as ei:
        parse_events(e)
    assert needle in str(ei.value)


def test_resolve_needs_dedup_key_and_one_bad_event_refuses_the_batch() -> None:
    with pytest.raises(ValidationError, match="dedup_key: missing"):
        parse_events(event("resolve", dedup_key=None))
    with pytest.raises(ValidationError, match=r"\[1\]"):
        parse_events([event("trigger"), {"event_action": "trigger"}])
    with pytest.raises(ValidationError, match="empty"):
        parse_events([])


def test_deeply_nested_custom_details_are_refused() -> None:
    deep: dict = {}
    cur = deep
    for _ in range(40):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(ValidationError, match="nested deeper"):
        parse_events(event("trigger", custom_details=deep))


def test_slo_alert_labels_and_validation() -> None:
    a = parse_slo(slo="checkout-availability", tier="page", burn_rate=14.4, window="1h/5m", firing=True,
                  service="checkout")
    assert a.labels == {"alertname": "SLOBurnRate", "slo": "checkout-availability", "tier": "page",
                        "window": "1h/5m", "severity": "critical", "service": "checkout"}
    assert a.status == "firing" and a.fingerprint == fingerprint(a.labels)
    assert parse_slo(slo="s", tier="ticket", burn_rate=1, window="3d", firing=False).status == "resolved"
    with pytest.raises(ValidationError) as ei:
        parse_slo(slo="bad name!", tier="", burn_rate=float("nan"), window="forever", firing="yes")
    assert len(ei.value.problems) == 5


def test_parse_time_offsets_and_zero() -> None:
    probs: list[str] = []
    assert parse_time("2025-03-01T13:00:00+01:00", "t", probs) == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z", "t", probs, allow_zero=True) is None
    assert parse_time("2025-02-30T00:00:00Z", "t", probs) is None and "not a valid time" in probs[-1]


def test_matchers_semantics() -> None:
    labels = {"service": "checkout", "severity": "critical"}
    assert parse_matcher('service="checkout"').matches(labels)
    assert parse_matcher("service!=search").matches(labels)
    assert parse_matcher('severity=~"crit.*"').matches(labels)
    assert not parse_matcher('severity=~"crit"').matches(labels)  # anchored
    assert parse_matcher('team!~".+"').matches(labels)  # missing label is ""
    assert parse_matcher({"name": "service", "value": "check.*", "isRegex": True, "isEqual": True}).matches(labels)
    ms = parse_matchers('{service="checkout", alertname=~"A,B|C"}')
    assert [m.name for m in ms] == ["service", "alertname"] and ms[1].value == "A,B|C"
    assert parse_matchers({"service": "checkout"}) == (Matcher("service", "=", "checkout"),)


@pytest.mark.parametrize("bad", ["service", 'service=~"("', "1abc=x", {"name": "a", "op": "<>", "value": "x"},
                                 "a=" + "x" * 2000, 42])
def test_bad_matchers_are_refused(bad) -> None:
    with pytest.raises(ValidationError):
        parse_matchers([bad]) if not isinstance(bad, str) else parse_matchers(bad)


def test_matchers_that_match_everything_are_refused_for_silences() -> None:
    with pytest.raises(ValidationError, match="empty string"):
        parse_matchers('service=~".*"', require_non_empty=True)
    assert parse_matchers('service=~".+"', require_non_empty=True)


def _pd_example() -> dict:
    from pathlib import Path

    return json.loads((Path(__file__).parents[1] / "data" / "pagerduty" / "trigger.json").read_text())


def test_pagerduty_published_example_is_accepted() -> None:
    n = parse_events(_pd_example())[0]
    assert n.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)  # "+0000", ISO 8601 basic offset
    assert n.labels["service"] == "postgres" and n.labels["alertname"] == "deploy"
    assert n.annotations["custom_details"] == {"ping time": "1500ms", "load avg": 0.75}
    assert "routing_key" not in n.raw


@pytest.mark.parametrize("mutate, needle", [
    (lambda e: e["images"][0].pop("src"), "images[0].src: missing"),
    (lambda e: e["links"][0].pop("href"), "links[0].href: missing"),
    (lambda e: e["payload"].update(custom_details="ping 1500ms"), "custom_details: must be an object"),
    (lambda e: e.update(images={"src": "x"}), "images: must be an array"),
    (lambda e: e.update(links=["https://example.com"]), "links[0]: must be an object"),
])
def test_pagerduty_bodies_the_schema_forbids_are_refused(mutate, needle) -> None:
    e = _pd_example()
    mutate(e)
    with pytest.raises(ValidationError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_events(e)
