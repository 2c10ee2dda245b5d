"""An in-process opsnb API server (tornado, on its own thread and loop) for fast HTTP tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.error
import urllib.request
from typing import Any

from opsnb.workbench import Workbench


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiServer:
    """Serve ``opsnb.web.all_routes()`` for ``ops`` on 127.0.0.1 until :meth:`stop`."""

    def __init__(self, ops: Workbench) -> None:
        self.ops = ops
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/opsnb/api/v1"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from tornado.web import Application

        from opsnb.web import all_routes
        from opsnb.web.base import ApiState

        app = Application(all_routes(), opsnb=ApiState(self.ops))
        server = app.listen(self.port, address="127.0.0.1")
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        server.stop()
        state = app.settings["opsnb"]
        ticker = getattr(state, "_alerts_ticker", None)
        if ticker is not None:
            ticker.stop()

    def start(self) -> ApiServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def call(url: str, body: Any = None, *, token: str | None = None, method: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One HTTP request; returns (status, parsed JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def headers_only(url: str, *, content_length: int, token: str | None = None, timeout: float = 10.0) -> int:
    """Send a POST's headers announcing ``content_length`` bytes, no body; return the status the server
    answers with. A server that buffered bodies before deciding would wait (and time out) instead."""
    from urllib.parse import urlparse

    u = urlparse(url)
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 80), timeout=timeout) as s:
        head = [f"POST {u.path}{'?' + u.query if u.query else ''} HTTP/1.1", f"Host: {u.netloc}",
                "Content-Type: application/json", f"Content-Length: {content_length}"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        status_line = s.makefile("rb").readline().decode()
    return int(status_line.split()[1])
