"""Identity and roles: who is acting, and may they do this."""

from __future__ import annotations

import shlex
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from opsnb.access.models import ROLES, UserRole
from opsnb.errors import PermissionDenied, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.access.tokens import Tokens
    from opsnb.workbench import Workbench


def rank(role: str) -> int:
    """Position of a role in the order of power."""
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", field="role", value=role)
    return ROLES.index(role)


class Access:
    """Roles of users in a workbench (``ops.access``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    @cached_property
    def tokens(self) -> Tokens:
        """API tokens and webhook senders (``ops.access.tokens``)."""
        from opsnb.access.tokens import Tokens

        return Tokens(self._wb)

    def role(self, user: str | None = None) -> str:
        """The role of ``user`` (default: the acting user), read in the caller's unit of work if one is open."""
        who = user or self._wb.user
        with self._wb.db.session() as s:
            row = s.get(UserRole, who)
        return row.role if row else str(self._wb.settings.default_role)

    def require(self, required: str, *, action: str) -> str:
        """Fail with :class:`PermissionDenied` unless the acting user has at least ``required``.

        Inside a unit of work (``ops.db.session()``) the role is read in it, so a change and
        the check that allowed it see the same state.

        Returns:
            The acting user's role.
        """
        have = self.role()
        if rank(have) < rank(required):
            raise PermissionDenied(
                f"{self._wb.user} is {have}; {action} needs {required}{self._first_admin_hint()}",
                user=self._wb.user, role=have, required=required, action=action,
            )
        return have

    def _first_admin_hint(self) -> str:
        """How to become admin, while a fresh workspace has none (after that, only an admin can say)."""
        with self._wb.db.session() as s:
            if s.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == "admin")):
                return ""
        user = shlex.quote(self._wb.user)
        return (f". This workspace has no admin yet; make yourself its first admin with "
                f"`opsnb user grant {user} admin` (in Python: ops.access.grant({self._wb.user!r}, \"admin\"))")

    def grant(self, user: str, role: str, *, reason: str = "") -> None:
        """Give ``user`` a role. Needs admin, except to name the first admin of a workspace."""
        rank(role)
        with self._wb.db.session() as s:
            admins = s.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == "admin"))
            if admins:
                self.require("admin", action="access.grant")
            elif role != "admin" or user != self._wb.user:
                raise PermissionDenied(
                    "this workspace has no admin yet: the first grant must make yourself admin",
                    user=self._wb.user, required="admin", action="access.grant",
                )
            row = s.get(UserRole, user)
            if row is None:
                s.add(UserRole(user=user, role=role, granted_by=self._wb.user, granted_at=utcnow()))
            else:
                row.role, row.granted_by, row.granted_at = role, self._wb.user, utcnow()
            self._wb.audit.record(action="access.grant", target=user, params={"role": role}, reason=reason)

    def list(self) -> pd.DataFrame:
        """Every user with a granted role."""
        import pandas as pd

        with self._wb.db.session() as s:
            rows = [{"user": r.user, "role": r.role, "granted_by": r.granted_by, "granted_at": r.granted_at}
                    for r in s.scalars(select(UserRole).order_by(UserRole.user))]
        return pd.DataFrame(rows, columns=["user", "role", "granted_by", "granted_at"])
