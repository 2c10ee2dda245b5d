"""Tables and value objects of the servers domain: the inventory and fact snapshots."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime, utcnow


class ServerRow(Base):
    """One server of the inventory."""

    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=22)
    user: Mapped[str] = mapped_column(String(100), default="")
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    platform: Mapped[str] = mapped_column(String(100), default="")
    credential: Mapped[str] = mapped_column(String(500), default="")  # a reference, never a secret
    proxy_jump: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FactRow(Base):
    """Facts gathered from one server at one time (a snapshot; history is kept)."""

    __tablename__ = "server_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(200), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    os: Mapped[str] = mapped_column(String(200), default="")
    kernel: Mapped[str] = mapped_column(String(200), default="")
    uptime_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    load1: Mapped[float | None] = mapped_column(Float, nullable=True)
    load5: Mapped[float | None] = mapped_column(Float, nullable=True)
    load15: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_total: Mapped[float | None] = mapped_column(Float, nullable=True)  # bytes
    mem_available: Mapped[float | None] = mapped_column(Float, nullable=True)
    disks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failed_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class Server:
    """A server of the inventory (a value: change it with ``ops.fleet.update``).

    Attributes:
        name: Unique inventory name.
        address: Host name or IP address to connect to.
        port: SSH port.
        user: Login user ("" means the local user name).
        labels: Free labels (role, env, region, ...), matched by selectors.
        platform: e.g. ``debian-12``.
        credential: Where the credential comes from (``agent``, ``key:PATH``,
            ``password-env:NAME``, ``password-file:PATH``; "" = settings default).
        proxy_jump: Jump hosts, ``name`` of another server or ``[user@]host[:port]``, comma separated.
    """

    name: str
    address: str
    port: int = 22
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    platform: str = ""
    credential: str = ""
    proxy_jump: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: ServerRow) -> Server:
        return cls(row.name, row.address, row.port, row.user, dict(row.labels or {}), row.platform,
                   row.credential, row.proxy_jump, row.created_at, row.updated_at)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        labels = " ".join(f"<code>{html.escape(k)}={html.escape(v)}</code>" for k, v in sorted(self.labels.items()))
        via = f" via {html.escape(self.proxy_jump)}" if self.proxy_jump else ""
        return (f"<b>{html.escape(self.name)}</b> {html.escape(self.user)}@{html.escape(self.address)}:"
                f"{self.port}{via} <i>{html.escape(self.platform)}</i> {labels}")


FIELDS = ("name", "address", "port", "user", "labels", "platform", "credential", "proxy_jump")
