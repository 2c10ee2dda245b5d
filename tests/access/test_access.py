"""Identity and roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsnb.access.identity import current_user
from opsnb.errors import PermissionDenied, ValidationError
from opsnb.workbench import Workbench
from tests.conftest import make_ops


def test_identity_order() -> None:
    assert current_user("alice", {"JUPYTERHUB_USER": "bob"}) == "alice"
    assert current_user("", {"JUPYTERHUB_USER": "bob"}) == "bob"
    assert current_user("", {}) != ""


def test_user_setting_comes_from_opsnb_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSNB_USER", "carol")
    monkeypatch.setenv("JUPYTERHUB_USER", "dave")
    ops = make_ops(tmp_path / "ws", admin=None)
    assert ops.user == "carol"
    ops.close()


def test_roles_order_and_require(ops: Workbench) -> None:
    ops.access.grant("rita", "responder", reason="on-call")
    assert ops.access.role("rita") == "responder"
    assert ops.access.role("nobody") == "viewer"
    ops.user = "rita"
    assert ops.access.require("viewer", action="x.read") == "responder"
    with pytest.raises(PermissionDenied, match="rita is responder; fleet.run needs operator") as info:
        ops.access.require("operator", action="fleet.run")
    assert info.value.required == "operator" and info.value.user == "rita"


def test_only_admins_grant_and_grants_are_audited(ops: Workbench) -> None:
    ops.access.grant("olga", "operator")
    ops.user = "olga"
    with pytest.raises(PermissionDenied):
        ops.access.grant("olga", "admin")
    ops.user = "tester"
    with pytest.raises(ValidationError, match="unknown role 'root'"):
        ops.access.grant("olga", "root")
    audit = ops.audit.list(action="access.grant")
    assert list(audit["target"]) == ["olga", "tester"]
    assert ops.access.list().set_index("user").loc["olga", "role"] == "operator"


def test_first_grant_must_be_self_admin(tmp_path: Path) -> None:
    ops = make_ops(tmp_path / "ws", admin=None)
    ops.user = "eve"
    with pytest.raises(PermissionDenied, match="no admin yet"):
        ops.access.grant("mallory", "admin")
    with pytest.raises(PermissionDenied, match="no admin yet"):
        ops.access.grant("eve", "operator")
    ops.access.grant("eve", "admin")
    assert ops.access.role("eve") == "admin"
    ops.close()
