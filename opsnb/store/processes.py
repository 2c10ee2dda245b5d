"""Which process owns something, and whether it still runs: one answer for runs, locks and ingest temp files.

A pid alone is reused by the system; with the start time from ``/proc/<pid>/stat``
(``host:pid:start``) an owner is recognised as the very process that wrote it. Without
``/proc`` (macOS) only signal 0 can say whether the pid exists.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST = socket.gethostname()


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start ticks) of a process from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = raw.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[2]), int(fields[19])


def alive(pid: int, ticks: str = "") -> bool:
    """Whether process ``pid`` runs (a zombie does not), and is the one started at ``ticks`` if given."""
    st = stat(pid)
    if st is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc: signal 0 says whether the pid exists
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if st[0] in ("Z", "X"):
        return False
    return not ticks or str(st[2]) == ticks


def identity(pid: int | None = None) -> str:
    """``host:pid:start`` of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    st = stat(pid)
    return f"{HOST}:{pid}:{st[2] if st else ''}"
