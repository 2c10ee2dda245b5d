"""Real local receivers for notification tests: an HTTP receiver and an aiosmtpd SMTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every POST; answers ``statuses`` in turn (then 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@contextmanager
def http_receiver(statuses: list[int] | None = None) -> Iterator[HttpReceiver]:
    rec = HttpReceiver(url="", statuses=list(statuses or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            with lock:
                rec.requests.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
                status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"receiver says no")

        def log_message(self, *args: Any) -> None:
            return

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    rec.url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        yield rec
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Any] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    box = SmtpServer("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            msg = message_from_bytes(envelope.content, policy=policy.default)
            box.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "msg": msg})
            return "250 Message accepted for delivery"

    ctl = Controller(Handler(), hostname=box.host, port=box.port, ready_timeout=10)
    ctl.start()
    try:
        yield box
    finally:
        ctl.stop()
        asyncio.set_event_loop(None)


def dead_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    return free_port()
