"""Alert triggers: label rules run runbooks with parameters mapped from the alert."""

from __future__ import annotations

from typing import Any

import pytest

from opsnb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from opsnb.runbooks.triggers import render


def _alert(**labels: str) -> dict[str, Any]:
    return {"fingerprint": "fp-" + "-".join(sorted(labels.values())), "status": "firing",
            "labels": {"alertname": "HighErrorRate", **labels}, "annotations": {"summary": "errors up"}}


def test_render_templates() -> None:
    a = _alert(service="checkout")
    assert render("{labels.service}", a) == "checkout" and render("x-{fingerprint}", a).startswith("x-fp-")
    assert render(5, a) == 5
    with pytest.raises(KeyError):
        render("{labels.host}", a)


def test_trigger_runs_dry_by_default_with_mapped_params_and_cooldown(rops: Any) -> None:
    t = rops.runbooks.triggers.create("fix-on-alert", "fix-thing", match={"alertname": "HighErrorRate",
                                      "service": "~check.*"}, params={"host": "{labels.service}"})
    assert t["dry_run"] is True
    with pytest.raises(Conflict):
        rops.runbooks.triggers.create("fix-on-alert", "fix-thing", match={"a": "b"})
    assert rops.runbooks.trigger_for_alert(_alert(service="search")) == []  # no match
    assert rops.runbooks.trigger_for_alert({**_alert(service="checkout"), "status": "resolved"}) == []
    ids = rops.runbooks.trigger_for_alert(_alert(service="checkout"))
    assert len(ids) == 1
    run = rops.runbooks.get_run(ids[0]).wait(60)
    assert run.ok and run.dry_run and run.trigger == "alert" and run.params["host"] == "checkout"
    assert run.trigger_ref.endswith("fp-checkout") and run.results["mode"] == "dry"
    assert rops.runbooks.trigger_for_alert(_alert(service="checkout")) == []  # cooldown: the re-sent alert
    rops.runbooks.triggers.delete("fix-on-alert")
    with pytest.raises(NotFound):
        rops.runbooks.triggers.delete("fix-on-alert")


def test_trigger_creation_is_validated_and_real_triggers_need_role_and_reason(rops_sqlite: Any) -> None:
    tr = rops_sqlite.runbooks.triggers
    with pytest.raises(ValidationError, match="no parameter"):
        tr.create("t1", "fix-thing", match={"a": "b"}, params={"nope": "{labels.x}"})
    with pytest.raises(ValidationError, match="match"):
        tr.create("t1", "fix-thing", match={})
    with pytest.raises(ValidationError, match="does not compile"):
        tr.create("t1", "fix-thing", match={"a": "~("})
    with pytest.raises(ValidationError, match="needs a reason"):
        tr.create("t1", "fix-thing", match={"a": "b"}, dry_run=False)
    rops_sqlite.access.grant("rita", "responder")
    rops_sqlite.user = "rita"
    with pytest.raises(PermissionDenied):
        tr.create("t1", "fix-thing", match={"a": "b"}, dry_run=False, reason="auto-fix")
    rops_sqlite.user = "tester"
    tr.create("t1", "fix-thing", match={"a": "b"}, params={"host": "{labels.host}"}, dry_run=False, reason="auto")
    # the alert lacks the label the mapping needs: nothing runs, nothing raises
    assert rops_sqlite.runbooks.trigger_for_alert({"fingerprint": "f", "labels": {"a": "b"}}) == []
    ids = rops_sqlite.runbooks.trigger_for_alert({"fingerprint": "f2", "labels": {"a": "b", "host": "h1"}})
    run = rops_sqlite.runbooks.get_run(ids[0]).wait(60)
    assert run.ok and not run.dry_run and run.actor == "tester" and run.results["mode"] == "real"
    for hostile in (None, "x", {"labels": "nope"}, {"labels": {"a": "b"}, "status": 5}):
        assert rops_sqlite.runbooks.trigger_for_alert(hostile) == []  # type: ignore[arg-type]


def test_alert_run_lands_on_the_incident_timeline(rops_sqlite: Any) -> None:
    inc_svc = rops_sqlite.incidents
    if not hasattr(inc_svc, "timeline"):
        pytest.skip("incidents domain has no timeline reader")
    inc = inc_svc.create(title="checkout errors", severity="SEV2", service="checkout")
    inc_id = getattr(inc, "id", inc)
    rops_sqlite.runbooks.triggers.create("t", "trivial", match={"service": "checkout"}, params={"x": 3})
    ids = rops_sqlite.runbooks.trigger_for_alert({**_alert(service="checkout"), "incident_id": inc_id})
    run = rops_sqlite.runbooks.get_run(ids[0]).wait(60)
    assert run.ok and run.incident_id == inc_id
    tl = inc_svc.timeline(inc_id)
    entries = tl[tl["kind"] == "runbook_run"]
    assert len(entries) == 2  # queued, then how it ended
    assert any("succeeded" in str(d) for d in entries["data"])
