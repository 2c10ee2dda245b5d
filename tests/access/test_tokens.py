"""API tokens and webhook senders in the library and the CLI: hashed, scoped, expiring, revocable, audited."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from opsnb.access.models import ApiToken
from opsnb.cli import cli as main
from opsnb.errors import PermissionDenied, ValidationError
from opsnb.store.types import utcnow


def test_token_is_shown_once_stored_hashed_and_authenticates(ops) -> None:
    made = ops.access.tokens.create(user="tester", scopes="read,alerts:write", expires="30d", name="laptop")
    assert made.token.startswith(f"opsnb_{made.id}_") and made.scopes == ("read", "alerts:write")
    with ops.db.session() as s:
        row = s.scalars(select(ApiToken)).one()
        stored = json.dumps([str(getattr(row, c.name)) for c in ApiToken.__table__.columns])
    assert made.token.split("_", 2)[2] not in stored  # only its hash
    ident = ops.access.tokens.authenticate(made.token)
    assert ident is not None and ident.user == "tester" and ident.via == f"token:{made.id}"
    assert ops.access.tokens.authenticate(made.token[:-2] + "xx") is None
    listed = ops.access.tokens.list()
    assert listed["id"].tolist() == [made.id] and listed["last_used_at"].notna().all()
    rec = ops.audit.list(action="token.create").iloc[0]
    assert rec["target"] == f"token:{made.id}" and rec["params"]["scopes"] == ["read", "alerts:write"]


def test_expiry_revocation_and_bad_input(ops) -> None:
    tokens = ops.access.tokens
    made = tokens.create(user="tester", scopes="*", expires="1h")
    with ops.db.session() as s:
        s.get(ApiToken, made.id).expires_at = utcnow() - timedelta(seconds=1)
    assert tokens.authenticate(made.token) is None
    assert tokens.list()["status"].tolist() == ["expired"]
    live = tokens.create(user="tester", scopes="read")
    tokens.revoke(live.id, reason="lost")
    assert tokens.authenticate(live.token) is None
    assert ops.audit.list(action="token.revoke").iloc[0]["reason"] == "lost"
    with pytest.raises(ValidationError, match="unknown scope"):
        tokens.create(user="tester", scopes="read,root")
    with pytest.raises(ValidationError, match="bare number|duration"):
        tokens.create(user="tester", scopes="read", expires="30")
    with pytest.raises(ValidationError, match="366 days"):
        tokens.create(user="tester", scopes="read", expires="400d")


def test_only_admins_make_tokens_for_others(ops) -> None:
    ops.access.grant("vic", "viewer")
    ops.user = "vic"
    mine = ops.access.tokens.create(user="vic", scopes="read")  # for yourself: any role
    with pytest.raises(PermissionDenied):
        ops.access.tokens.create(user="tester", scopes="*")
    assert ops.access.tokens.list()["id"].tolist() == [mine.id]
    with pytest.raises(PermissionDenied):
        ops.access.tokens.list(user="tester")


def test_sender_signature_window_and_replay(ops, tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("sekrit")
    tokens = ops.access.tokens
    with pytest.raises(ValidationError, match="reference"):
        tokens.add_sender("ci", secret_ref="sekrit")  # a value, not a reference: never stored
    tokens.add_sender("ci", secret_ref=f"file:{secret}")
    body = b'{"a": 1}'

    def sig(ts: str, b: bytes = body) -> str:
        return "sha256=" + hmac.new(b"sekrit", ts.encode() + b"." + b, hashlib.sha256).hexdigest()

    now = str(int(time.time()))
    ident = tokens.verify_signature(sender="ci", timestamp=now, delivery="1", body=body, signature=sig(now))
    assert ident.user == "webhook:ci" and ident.scopes == ("alerts:write",)
    with pytest.raises(PermissionDenied, match="seen before"):
        tokens.verify_signature(sender="ci", timestamp=now, delivery="1", body=body, signature=sig(now))
    old = str(int(time.time()) - 301)
    with pytest.raises(PermissionDenied, match="from the server's clock"):
        tokens.verify_signature(sender="ci", timestamp=old, delivery="2", body=body, signature=sig(old))
    with pytest.raises(PermissionDenied, match="does not match"):
        tokens.verify_signature(sender="ci", timestamp=now, delivery="3", body=b"{}", signature=sig(now))
    tokens.remove_sender("ci")
    with pytest.raises(PermissionDenied, match="no webhook sender"):
        tokens.verify_signature(sender="ci", timestamp=now, delivery="4", body=body, signature=sig(now))


def test_cli_create_list_revoke(ops_sqlite, monkeypatch: pytest.MonkeyPatch) -> None:
    ops = ops_sqlite
    monkeypatch.setenv("OPSNB_WORKSPACE", str(ops.workspace))
    monkeypatch.setenv("OPSNB_USER", "tester")
    r = CliRunner().invoke(main, ["token", "create", "--user", "tester", "--scopes", "read", "--expires", "7d"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[0]
    assert token.startswith("opsnb_") and "shown only now" in r.stderr
    r = CliRunner().invoke(main, ["token", "list", "--format", "json"])
    rows = json.loads(r.stdout)
    assert r.exit_code == 0 and len(rows) == 1 and token not in r.stdout
    r = CliRunner().invoke(main, ["token", "revoke", rows[0]["id"], "--reason", "test"])
    assert r.exit_code == 0 and ops.access.tokens.authenticate(token) is None
    r = CliRunner().invoke(main, ["token", "create", "--scopes", "read", "--expires", "30"])
    assert r.exit_code != 0 and "expires" in r.output
