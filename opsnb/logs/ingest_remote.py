"""Logs read from servers over SSH, with a checkpoint per (server, file or journal).

``ops.logs.ingest_remote`` resumes where the committed rows of each server end, so a rerun
after any crash (``kill -9`` too) reads neither a line twice nor leaves a gap:

* **a file** is known by the server's device and inode and a SHA-256 of its first bytes (as
  a local file, :mod:`opsnb.logs.ingest_files`); each round trip runs one fixed script (no
  input glued into shell text: the path and numbers are its arguments) that prints the file's
  identity and the bytes from the committed offset on, base64-encoded so offsets count the
  file's own bytes. A first read takes the last ``lines`` lines; a file whose identity changed
  (rotated, truncated) is read again from its start. Whole lines only: a line being written
  waits for the next run. A backlog is fetched ``fetch_bytes`` at a time, each part committed.
* **the journal** is resumed by the cursor of the last committed entry
  (``journalctl --after-cursor``); a first read starts at ``since``. When the last entries of a
  batch are damaged (no readable ``__CURSOR``), the checkpoint keeps the cursor of the last good
  one and the count of entries after it, which the next run skips: those entries are not
  fetched and quarantined again, and the batch's good entries not stored twice.

``from_start=True`` ignores the checkpoints (a file is read from its first byte, the journal
from ``since``): its rows are stored again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from opsnb.logs.ingest_files import CHECKPOINT_TABLES
from opsnb.logs.models import SourceResult
from opsnb.store.checkpoints import HEAD_HASH_BYTES, Checkpoint, sweep_tmp

if TYPE_CHECKING:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor

# $1 file, $2 offset (-1: the last $4 lines), $3 bytes hashed, $4 lines, $5 bytes at most.
FILE_SCRIPT = r"""
f=$1 off=$2 hl=$3 n=$4 cap=$5
id=$(stat -L -c '%d %i %s' -- "$f") || exit 3
size=${id##* }
printf '%s\n' "$id"
head -c "$hl" -- "$f" | sha256sum | cut -d ' ' -f 1
if [ "$off" -lt 0 ]; then
  off=$(( size - $(tail -n "$n" -- "$f" | wc -c) ))
  [ "$off" -lt 0 ] && off=0
fi
printf '%s\n' "$off"
tail -c +"$((off + 1))" -- "$f" | head -c "$cap" | base64 -w 0
"""


@dataclass
class Fetched:
    """One round trip's answer for one server: the error, or the identity and the bytes."""

    error: str | None = None
    dev: int = 0
    ino: int = 0
    size: int = 0
    head_sha256: str = ""
    offset: int = 0
    data: bytes = b""


def remote_source_id(host: str, what: str) -> str:
    """Checkpoint name of a remote source (``r`` + a hash of the server and the file or journal)."""
    return "r" + hashlib.sha256(f"{host}\0{what}".encode()).hexdigest()[:20]


def _row_error(row: Any) -> str | None:
    import pandas as pd

    if row.error:
        return str(row.error)
    if row.exit_status is not None and not pd.isna(row.exit_status) and int(row.exit_status) != 0:
        return f"exit status {int(row.exit_status)}: {str(row.stderr or '').strip()[:300]}"
    return None


def _text(out: Any) -> str:
    return out if isinstance(out, str) else out.decode() if isinstance(out, bytes) else ""


class RemoteIngest:
    """Ingests one selector's servers through their checkpoints (one per call of ``ingest_remote``)."""

    def __init__(self, ing: Ingestor, run: Callable[[str, list[str]], Any], *, from_start: bool = False,
                 fetch_bytes: int = 8 << 20) -> None:
        self.ing = ing
        self.run = run  # (host, argv) -> a one-row frame of fleet.run
        self.from_start = from_start
        self.fetch_bytes = fetch_bytes

    # ------------------------------------------------------------- files
    def _fetch(self, host: str, path: str, offset: int, head_len: int, lines: int) -> Fetched:
        row = next(iter(self.run(host, ["sh", "-c", FILE_SCRIPT, "sh", path, str(offset), str(head_len),
                                        str(lines), str(self.fetch_bytes)]).itertuples()))
        err = _row_error(row)
        if err:
            return Fetched(error=err)
        text = _text(row.stdout)
        parts = text.split("\n", 3)
        try:
            dev, ino, size = (int(x) for x in parts[0].split())
            return Fetched(dev=dev, ino=ino, size=size, head_sha256=parts[1].strip(), offset=int(parts[2]),
                           data=base64.b64decode(parts[3].strip()) if len(parts) > 3 else b"")
        except (ValueError, IndexError, binascii.Error) as exc:
            return Fetched(error=f"unexpected answer from {host} reading {path}: {exc}")

    def file(self, host: str, path: str, opts: ParseOptions, lines: int) -> SourceResult:
        """Ingest what ``path`` on ``host`` holds past its checkpoint (the last ``lines`` lines at first)."""
        src = f"{host}:{path}"
        res = SourceResult(source=src)
        ck = self.ing.checkpoints
        sid = remote_source_id(host, path)
        self.ing.sync()
        with ck.lock(sid):
            ck.recover(sid, list(CHECKPOINT_TABLES))
            sweep_tmp(self.ing.lake.root / ".tmp")
            old = None if self.from_start else ck.get(sid)
            first = True
            while True:
                start = old.offset if old is not None else (0 if self.from_start else -1)
                got = self._fetch(host, path, start, old.head_len if old else HEAD_HASH_BYTES, lines)
                if got.error:
                    res.error = got.error
                    return res
                if old is not None and not (got.dev == old.dev and got.ino == old.ino and got.size >= old.offset
                                            and got.head_sha256 == old.head_sha256):
                    # Rotated or truncated: the file there now is read from its start.
                    old = None
                    start = 0
                    got = self._fetch(host, path, 0, HEAD_HASH_BYTES, lines)
                    if got.error:
                        res.error = got.error
                        return res
                if old is None:
                    seq = (ck.get(sid) or Checkpoint(source=sid, path=src, dev=0, ino=0)).seq
                    old = Checkpoint(source=sid, path=src, dev=got.dev, ino=got.ino, size=got.size,
                                     head_len=min(HEAD_HASH_BYTES, got.size), head_sha256=got.head_sha256,
                                     offset=got.offset, line=1, format=None, seq=seq)
                    if not self.from_start and first and got.offset:
                        res.resumed_at = got.offset
                elif first:
                    res.resumed_at = old.offset
                first = False
                part = SourceResult(source=src)
                self.ing.ingest_checkpointed(replace(old, size=got.size), io.BufferedReader(io.BytesIO(got.data)),
                                             opts, part, size=got.size, whole_lines=True,
                                             resume_format=old.format if old.offset else None)
                _add(res, part)
                old = ck.get(sid)
                if old is None or part.error or len(got.data) < self.fetch_bytes or not part.bytes:
                    return res

    # ------------------------------------------------------------- journal
    def journal(self, host: str, unit: str | None, since: str, opts: ParseOptions) -> SourceResult:
        """Ingest ``host``'s journal entries after the committed cursor (since ``since`` at first)."""
        what = "journald" + (":" + unit if unit else "")
        src = f"{host}:{what}"
        res = SourceResult(source=src)
        ck = self.ing.checkpoints
        sid = remote_source_id(host, what)
        self.ing.sync()
        with ck.lock(sid):
            ck.recover(sid, list(CHECKPOINT_TABLES))
            old = None if self.from_start else ck.get(sid)
            cmd = ["journalctl", "-o", "json", "--no-pager", "--utc"]
            cmd += [f"--after-cursor={old.cursor}"] if old is not None and old.cursor else ["--since", since]
            if unit:
                cmd += ["-u", unit]
            row = next(iter(self.run(host, cmd).itertuples()))
            err = _row_error(row)
            if err:
                res.error = err
                return res
            data = _text(row.stdout).encode()
            start_cursor = old.cursor if old is not None else None
            start_skip = old.cursor_skip if old is not None and start_cursor else 0
            for _ in range(start_skip):  # damaged entries after the cursor, committed (quarantined) before
                data = data[data.find(b"\n") + 1:] if b"\n" in data else b""
            seq = old.seq if old is not None else (ck.get(sid).seq if ck.get(sid) else 0)  # type: ignore[union-attr]
            cp = Checkpoint(source=sid, path=src, dev=0, ino=0, size=0, offset=0, line=1, format="journald",
                            seq=seq, cursor=start_cursor, cursor_skip=start_skip)

            def cursor_of(offset: int) -> tuple[str | None, int]:
                # The last entry up to ``offset`` with a readable cursor; the entries after it (a
                # damaged last line has none) are counted, so the next run skips them instead of
                # fetching again the batch they close.
                after = 0
                end = data.rfind(b"\n", 0, offset)
                while end >= 0:
                    begin = data.rfind(b"\n", 0, end) + 1
                    try:
                        value = json.loads(data[begin:end]).get("__CURSOR")
                    except (ValueError, AttributeError):
                        value = None
                    if isinstance(value, str) and value:
                        return value, after
                    after += 1
                    end = begin - 1
                return (start_cursor, start_skip + after) if start_cursor else (None, 0)

            self.ing.ingest_checkpointed(cp, io.BufferedReader(io.BytesIO(data)), opts, res, size=len(data),
                                         whole_lines=True, cursor_of=cursor_of)
            if old is not None:
                res.resumed_at = 1  # resumed from a cursor
        return res


def _add(total: SourceResult, part: SourceResult) -> None:
    total.format = part.format or total.format
    total.add(part)
    total.bytes += part.bytes
    total.error = part.error or total.error
