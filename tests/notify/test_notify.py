"""Notifications through real local receivers: HTTP on loopback and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from opsnb.errors import Conflict, NotFound, NotifyError, PermissionDenied, ValidationError
from opsnb.notify.channels import CHANNELS, ChannelKind, verify
from opsnb.notify.service import backoff
from opsnb.workbench import Workbench, connect
from tests.conftest import make_ops
from tests.notify.servers import dead_port, http_receiver, smtp_server

T0 = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


def all_text(ops: Workbench) -> str:
    """Every row of every notify/audit table, as text (to prove secrets are not stored)."""
    out = []
    with ops.db.engine.connect() as c:
        for t in ("notify_channels", "notify_deliveries", "notify_attempts", "audit_records"):
            out += [repr(tuple(r)) for r in c.execute(text(f"SELECT * FROM {t}"))]
    return "\n".join(out)


def test_slack_webhook_delivers_and_records(ops: Workbench) -> None:
    with http_receiver() as rx:
        ops.notify.create_channel(name="ops-slack", kind="slack", target=rx.url + "/hook")
        did = ops.notify.send(channel="ops-slack", subject="disk full on web-1", body="/var at 97%")
    assert len(rx.requests) == 1
    assert rx.requests[0].path == "/hook"
    assert rx.requests[0].json() == {"text": "*disk full on web-1*\n/var at 97%"}
    d = ops.notify.get(did)
    assert d["status"] == "sent" and d["attempts"] == 1 and d["sent_at"] is not None
    log = d["attempt_log"]
    assert [a["status"] for a in log] == ["ok"] and "HTTP 200" in log[0]["detail"]
    assert d["summary"].startswith("disk full on web-1 | /var at 97%")
    assert ops.audit.list(action="notify.*")["action"].tolist() == ["notify.send", "notify.create_channel"]


def test_slack_text_cannot_mention_everyone(ops: Workbench) -> None:
    with http_receiver() as rx:
        ops.notify.create_channel(name="s", kind="slack", target=rx.url)
        ops.notify.send(channel="s", subject="<!channel> p99 > 2s & rising", body="<https://evil.example|click>")
    assert rx.requests[0].json()["text"] == "*&lt;!channel&gt; p99 &gt; 2s &amp; rising*\n&lt;https://evil.example|click&gt;"


def test_signed_webhook_and_secret_never_stored(ops: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-signing-key-value"
    monkeypatch.setenv("OPSNB_TEST_HOOK_KEY", secret)
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="webhook", target=rx.url, secret_ref="env:OPSNB_TEST_HOOK_KEY")
        did = ops.notify.send(channel="hook", subject="page", body="INC-7 needs you", dedup_key="INC-7:1",
                              context={"incident": "INC-7", "api_token": "hunter2hunter2"})
    req = rx.requests[0]
    h = {k.lower(): v for k, v in req.headers.items()}
    assert verify(secret, h["x-opsnb-timestamp"], req.body, h["x-opsnb-signature"])
    assert not verify("wrong", h["x-opsnb-timestamp"], req.body, h["x-opsnb-signature"])
    assert not verify(secret, str(int(h["x-opsnb-timestamp"]) + 1), req.body, h["x-opsnb-signature"])
    payload = req.json()
    assert payload["id"] == did == int(h["x-opsnb-delivery"])
    assert payload["context"] == {"incident": "INC-7", "api_token": "***"}
    assert payload["dedup_key"] == "INC-7:1"
    stored = all_text(ops)
    assert secret not in stored and "hunter2hunter2" not in stored
    assert "env:OPSNB_TEST_HOOK_KEY" in stored


def test_smtp_email_through_real_server(ops: Workbench) -> None:
    with smtp_server() as box:
        ops.notify.create_channel(name="mail", kind="smtp", target="oncall@example.com",
                                  config={"host": box.host, "port": box.port, "sender": "opsnb@example.com"})
        did = ops.notify.send(channel="mail", subject="SEV2 checkout\r\nBcc: evil@example.com",
                              body="error rate 12%\nsee INC-3")
        did2 = ops.notify.send(channel="mail", target="alice@example.com, bob@example.com", subject="hi")
    assert [m["to"] for m in box.messages] == [["oncall@example.com"], ["alice@example.com", "bob@example.com"]]
    msg = box.messages[0]["msg"]
    # CR/LF in a subject cannot inject a header.
    assert msg["Subject"] == "SEV2 checkout Bcc: evil@example.com" and msg["Bcc"] is None
    assert msg["X-Opsnb-Delivery"] == str(did)
    assert "error rate 12%" in msg.get_content()
    assert ops.notify.get(did)["status"] == ops.notify.get(did2)["status"] == "sent"


def test_failing_receiver_retries_with_backoff(ops: Workbench) -> None:
    with http_receiver(statuses=[500, 503]) as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        did = ops.notify.send(channel="hook", subject="flaky", now=T0)
        d = ops.notify.get(did)
        assert d["status"] == "retrying" and d["attempts"] == 1 and "HTTP 500" in d["last_error"]
        first = backoff(1, 30.0)
        assert d["next_attempt_at"] == T0 + timedelta(seconds=first)
        assert ops.notify.tick(now=T0 + timedelta(seconds=first - 1)).empty  # not due yet
        t1 = T0 + timedelta(seconds=first)
        out = ops.notify.tick(now=t1)
        assert out["id"].tolist() == [did] and out["status"].tolist() == ["retrying"]
        d = ops.notify.get(did)
        assert d["next_attempt_at"] == t1 + timedelta(seconds=backoff(2, 30.0)) and backoff(2, 30.0) == 2 * first
        t2 = t1 + timedelta(seconds=backoff(2, 30.0))
        assert ops.notify.tick(now=t2)["status"].tolist() == ["sent"]
    log = ops.notify.attempts(did)
    assert log["status"].tolist() == ["error", "error", "ok"]
    assert log["n"].tolist() == [1, 2, 3]
    assert [e[:8] for e in log["error"]] == ["HTTP 500", "HTTP 503", ""]
    assert len(rx.requests) == 3
    assert ops.notify.tick(now=t2 + timedelta(hours=5)).empty  # sent means done


def test_permanent_failure_and_giving_up(tmp_path: Path, db_url: str) -> None:
    ops = make_ops(tmp_path / "ws", db_url if "postgres" in db_url else "", notify_max_attempts=2,
                   notify_timeout_seconds=2.0)
    try:
        with http_receiver(statuses=[404]) as rx:
            ops.notify.create_channel(name="gone", kind="slack", target=rx.url)
            did = ops.notify.send(channel="gone", subject="x", now=T0)
        d = ops.notify.get(did)
        assert d["status"] == "failed" and d["next_attempt_at"] is None and "HTTP 404" in d["last_error"]
        ops.notify.create_channel(name="down", kind="slack", target=f"http://127.0.0.1:{dead_port()}/")
        did = ops.notify.send(channel="down", subject="x", now=T0)
        assert ops.notify.get(did)["status"] == "retrying"
        ops.notify.tick(now=T0 + timedelta(hours=2))
        d = ops.notify.get(did)
        assert d["status"] == "failed" and d["attempts"] == 2 and "cannot reach 127.0.0.1" in d["last_error"]
    finally:
        ops.close()


def test_restart_mid_retry_loses_nothing(tmp_path: Path, db_url: str) -> None:
    url = db_url if "postgres" in db_url else ""
    ops = make_ops(tmp_path / "ws", url)
    with http_receiver(statuses=[502]) as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        did = ops.notify.send(channel="hook", subject="survives restarts", now=T0)
        assert ops.notify.get(did)["status"] == "retrying"
        ops.close()  # the process goes away between attempts
        again = connect(tmp_path / "ws", database_url=url or None)
        try:
            again.notify.tick(now=T0 + timedelta(minutes=5))
            assert again.notify.get(did)["status"] == "sent"
        finally:
            again.close()
    assert [r.json()["text"] for r in rx.requests] == ["*survives restarts*"] * 2


class _Crash(ChannelKind):
    """A kind whose delivery kills the 'process' mid-attempt (BaseException escapes)."""

    kind = "test-crash"
    crash = True

    def deliver(self, **kw: Any) -> str:
        if _Crash.crash:
            raise KeyboardInterrupt
        return "delivered after the crash"


@pytest.fixture
def crash_kind() -> Iterator[None]:
    CHANNELS.register("test-crash", _Crash)  # as a third party registers a kind
    yield
    CHANNELS.unregister("test-crash")


def test_claimed_delivery_of_dead_process_is_retried_after_lease(ops: Workbench, crash_kind: None) -> None:
    _Crash.crash = True
    ops.notify.create_channel(name="c", kind="test-crash")
    from opsnb.notify import hooks

    with ops.db.session():  # record only, as another domain does inside its unit of work
        did = hooks.record(ops, channel="c", subject="x", now=T0)
    assert ops.notify.get(did)["status"] == "pending"
    with pytest.raises(KeyboardInterrupt):
        ops.notify.tick(now=T0)
    d = ops.notify.get(did)
    assert d["status"] == "pending" and d["attempts"] == 1 and d["next_attempt_at"] > T0  # claimed, lease held
    assert ops.notify.tick(now=T0 + timedelta(seconds=10)).empty  # lease still held: nobody else tries
    _Crash.crash = False
    out = ops.notify.tick(now=T0 + timedelta(minutes=10))
    assert out["status"].tolist() == ["sent"] and out["attempts"].tolist() == [2]


def test_dedup_key_sends_once(ops: Workbench) -> None:
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        a = ops.notify.send(channel="hook", subject="group A firing", dedup_key="grp-A:1")
        b = ops.notify.send(channel="hook", subject="group A firing", dedup_key="grp-A:1")
        c = ops.notify.send(channel="hook", subject="group A firing", dedup_key="grp-A:2")
    assert a == b != c
    assert len(rx.requests) == 2
    assert len(ops.notify.deliveries()) == 2


def test_bad_input_is_refused_and_nothing_written(ops: Workbench) -> None:
    bad_channels: list[dict[str, Any]] = [
        {"name": "x", "kind": "pigeon"},
        {"name": "bad name!", "kind": "slack", "target": "https://h.example/x"},
        {"name": "x", "kind": "slack", "target": "ftp://h.example/x"},
        {"name": "x", "kind": "slack"},
        {"name": "x", "kind": "webhook", "target": "https://h.example/x"},  # unsigned
        {"name": "x", "kind": "webhook", "target": "https://h.example/x", "secret_ref": "hunter2"},
        {"name": "x", "kind": "smtp", "target": "not-an-address", "config": {"port": 99999}},
        {"name": "x", "kind": "slack", "target": "https://h.example/x", "config": {"bogus": 1}},
        {"name": "x" * 500, "kind": "slack", "target": "https://h.example/x"},
    ]
    for kw in bad_channels:
        with pytest.raises(ValidationError):
            ops.notify.create_channel(**kw)
    with pytest.raises(ValidationError) as e:
        ops.notify.create_channel(name="m", kind="smtp", target="nope", config={"port": 0})
    assert len(e.value.problems) >= 3  # host, port, sender, target: every problem at once
    assert ops.notify.channels().empty
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        with pytest.raises(Conflict):
            ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        with pytest.raises(NotFound):
            ops.notify.send(channel="nope", subject="x")
        circular: dict[str, Any] = {}
        circular["me"] = circular
        for kw in ({"subject": ""}, {"subject": "x" * 5000}, {"subject": "x", "body": "y" * 200_000},
                   {"subject": "x", "context": circular}, {"subject": "x", "context": ["not", "a", "dict"]},
                   {"subject": "x", "target": "javascript:alert(1)"}, {"subject": "x", "dedup_key": ""},
                   {"subject": "x", "context": {"big": "z" * 100_000}}):
            with pytest.raises(ValidationError):
                ops.notify.send(channel="hook", **kw)
        ops.notify.update_channel("hook", enabled=False)
        with pytest.raises(NotifyError):
            ops.notify.send(channel="hook", subject="x")
    assert ops.notify.deliveries().empty and rx.requests == []


def test_roles(ops: Workbench) -> None:
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        ops.access.grant("rita", "responder")
        ops.access.grant("vic", "viewer")
        ops.user = "vic"
        with pytest.raises(PermissionDenied):
            ops.notify.send(channel="hook", subject="x")
        with pytest.raises(PermissionDenied):
            ops.notify.create_channel(name="h2", kind="slack", target=rx.url)
        ops.user = "rita"
        ops.notify.send(channel="hook", subject="x")
        with pytest.raises(PermissionDenied):
            ops.notify.update_channel("hook", enabled=False)
    assert len(rx.requests) == 1


def test_target_reference_resolved_at_send_time(ops: Workbench, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="slack", target="env:OPSNB_TEST_SLACK_URL")
        did = ops.notify.send(channel="hook", subject="x", now=T0)
        d = ops.notify.get(did)
        assert d["status"] == "retrying" and "env:OPSNB_TEST_SLACK_URL is not set" in d["last_error"]
        monkeypatch.setenv("OPSNB_TEST_SLACK_URL", rx.url + "/T000/B000/XXXXSECRET")
        ops.notify.tick(now=T0 + timedelta(minutes=1))
        assert ops.notify.get(did)["status"] == "sent"
        f = tmp_path / "url"
        f.write_text(rx.url + "/from-file\n")
        ops.notify.update_channel("hook", target=f"file:{f}")
        ops.notify.send(channel="hook", subject="y")
    assert [r.path for r in rx.requests] == ["/T000/B000/XXXXSECRET", "/from-file"]
    assert "XXXXSECRET" not in all_text(ops)


def test_cli(ops_sqlite: Workbench) -> None:
    from click.testing import CliRunner

    from opsnb.cli import cli

    ws = str(ops_sqlite.workspace)
    r = CliRunner()
    with http_receiver() as rx:
        out = r.invoke(cli, ["notify", "add-channel", "hook", "--kind", "slack", "--target", rx.url, "-w", ws])
        assert out.exit_code == 0, out.output
        out = r.invoke(cli, ["notify", "send", "hook", "--subject", "from cli", "--format", "json", "-w", ws])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)[0]["status"] == "sent"
        out = r.invoke(cli, ["notify", "add-channel", "m", "--kind", "smtp", "--option", "port=70000", "-w", ws])
        assert out.exit_code != 0 and "port" in str(out.exception)
        out = r.invoke(cli, ["notify", "deliveries", "--format", "json", "-w", ws])
        assert [d["summary"] for d in json.loads(out.output)] == ["from cli"]
    assert rx.requests[0].json()["text"] == "*from cli*"


def test_unknown_channel_kind_suggests_the_closest(ops_sqlite: Workbench) -> None:
    with pytest.raises(ValidationError, match=r"unknown channel kind 'slak' \(did you mean 'slack'\?\)"):
        ops_sqlite.notify.create_channel(name="typo", kind="slak", target="https://example.invalid/hook")
