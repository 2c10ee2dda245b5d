"""A pool of SSH connections: one handshake per host, reused by every command after it.

* Idle connections are kept per endpoint (address, port, user, credential, jumps)
  and handed out one command at a time; dead or long-idle ones are dropped.
* At most ``per_host`` handshakes run at once against one ``address:port``
  (OpenSSH's ``MaxStartups`` drops concurrent unauthenticated connections past ten).
* Jump hosts are shared: many targets tunnel through one jump connection.

paramiko is not imported here; :mod:`opsnb.servers.ssh` is.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from opsnb.servers.ssh import (
    Connection,
    Endpoint,
    KeyStore,
    KnownHosts,
    SshOptions,
    open_connection,
)


class Pool:
    """Pooled SSH connections.

    Args:
        options: Connection settings.
        per_host: Handshakes allowed at once per ``address:port``.
        idle_timeout: Seconds an idle connection is kept.
        max_idle: Idle connections kept per endpoint.
    """

    def __init__(self, options: SshOptions, *, per_host: int = 4, idle_timeout: float = 300.0,
                 max_idle: int = 8) -> None:
        self.options = options
        self.per_host = max(1, per_host)
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.known = KnownHosts(options.known_hosts)
        self.keys = KeyStore()
        self._lock = threading.Lock()
        self._idle: dict[tuple[Any, ...], list[Connection]] = {}
        self._gates: dict[tuple[str, int], threading.BoundedSemaphore] = {}
        self._jumps: dict[tuple[Any, ...], Connection] = {}
        self._jump_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self.handshakes = 0  # counted for tests and benchmarks
        self.closed = False

    def _gate(self, ep: Endpoint) -> threading.BoundedSemaphore:
        with self._lock:
            g = self._gates.get((ep.address, ep.port))
            if g is None:
                g = self._gates[(ep.address, ep.port)] = threading.BoundedSemaphore(self.per_host)
            return g

    def _new(self, ep: Endpoint, *, pooled: bool) -> Connection:
        jump = self._jump(ep.jumps) if ep.jumps else None
        with self._gate(ep):
            conn = open_connection(ep, self.options, known=self.known, keys=self.keys, jump=jump)
        with self._lock:
            self.handshakes += 1
        if pooled:
            conn._on_close = self.release
        return conn

    def _jump(self, jumps: tuple[Endpoint, ...]) -> Connection:
        """The shared connection to the last hop of ``jumps`` (each hop through the one before)."""
        last = jumps[-1]
        key = tuple(j.key for j in jumps)
        with self._lock:
            lock = self._jump_locks.setdefault(key, threading.Lock())
        with lock:
            conn = self._jumps.get(key)
            if conn is not None and conn.alive:
                return conn
            hop = Endpoint(last.name, last.address, last.port, last.user, last.credential, jumps[:-1])
            conn = self._new(hop, pooled=False)
            self._jumps[key] = conn
            return conn

    def acquire(self, ep: Endpoint) -> Connection:
        """A connection for one user at a time: an idle one, else a new one. Give it back with ``close()``."""
        if self.closed:
            raise RuntimeError("the SSH pool is closed")
        now = time.monotonic()
        stale: list[Connection] = []
        found = None
        with self._lock:
            idle = self._idle.get(ep.key, [])
            while idle:
                c = idle.pop()
                if c.alive and now - c.last_used < self.idle_timeout:
                    found = c
                    break
                stale.append(c)
        for c in stale:
            c._really_close()
        return found if found is not None else self._new(ep, pooled=True)

    def release(self, conn: Connection) -> None:
        """Return a connection to the pool (closed instead if dead, or the pool is full or closed)."""
        if not conn.alive or self.closed:
            conn._really_close()
            return
        with self._lock:
            idle = self._idle.setdefault(conn.endpoint.key, [])
            if len(idle) < self.max_idle:
                conn.last_used = time.monotonic()
                idle.append(conn)
                return
        conn._really_close()

    @contextlib.contextmanager
    def connection(self, ep: Endpoint) -> Iterator[Connection]:
        """``with pool.connection(ep) as c:`` acquire and release."""
        conn = self.acquire(ep)
        try:
            yield conn
        finally:
            conn.close()

    def connect(self, ep: Endpoint) -> Connection:
        """A connection owned by the caller (not returned to the pool on close)."""
        return self._new(ep, pooled=False)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"idle": sum(len(v) for v in self._idle.values()), "jumps": len(self._jumps),
                    "handshakes": self.handshakes}

    def close(self) -> None:
        """Close every idle and jump connection."""
        with self._lock:
            self.closed = True
            conns = [c for v in self._idle.values() for c in v] + list(self._jumps.values())
            self._idle.clear()
            self._jumps.clear()
        for c in conns:
            c._really_close()
