"""Following the files of a directory across restarts, rotations and truncations.

Each file is read through its checkpoint (:mod:`opsnb.logs.ingest_files`): a restarted
tail resumes where the committed rows end, so a ``kill -9`` at any moment loses and
duplicates nothing. Whole lines only: a line still being written waits for its newline.

Rotation, looked at on every poll, before the files themselves:

* **rename + create** (logrotate's default): the renamed file keeps its inode and so its
  checkpoint; whatever was appended to it after the last poll is read from it, under its
  new name, even when that name does not match the pattern. The new file starts at 0.
* **copytruncate**: the copy is a new inode whose first bytes are the truncated file's;
  it takes over the truncated file's checkpoint (the lines up to the committed offset
  are not read again), is read to its end, and the truncated file starts over at 0.
  Lines written between logrotate's copy and its truncation are lost by copytruncate
  itself (logrotate's manual says so); everything in the copy or the file is kept.

Not covered: a file that lived and was rotated away under a name the pattern does not match
while no tail ran at all has no checkpoint, and is not read (restart the tail within one
rotation interval, or give a pattern that matches the rotated names).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat as statmod
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from opsnb.logs.models import SourceResult
from opsnb.store.checkpoints import Checkpoint, source_id

if TYPE_CHECKING:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor

MIN_HEAD_FOR_COPY = 64  # a copy is recognised by at least this many first bytes


class DirectoryTail:
    """One tail of a directory: call :meth:`poll` until done; :attr:`results` per file."""

    def __init__(self, ing: Ingestor, root: Path, pattern: str, base: ParseOptions, *,
                 from_start: bool = False, only_new: bool = False) -> None:
        self.ing = ing
        self.root = Path(os.path.abspath(root))
        self.pattern = pattern
        self.base = base
        self.from_start = from_start
        self.only_new = only_new
        self.results: dict[str, SourceResult] = {}
        self._seen: set[str] = set()  # sources read in this tail (from_start / only_new apply once)
        self._first_poll = True

    def poll(self) -> bool:
        """Read what was appended since the last poll; True when something was read."""
        files: dict[str, os.stat_result] = {}
        for entry in os.scandir(self.root):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            if statmod.S_ISREG(st.st_mode):
                files[entry.name] = st
        by_source = {source_id(st.st_dev, st.st_ino): name for name, st in files.items()}
        got = False
        for cp in self._checkpoints_here():
            got |= self._finish_rotated(cp, files, by_source)
        for name in sorted(files):
            if fnmatch.fnmatchcase(name, self.pattern):
                st = files[name]
                got |= self._read(name, st, at_end=self._first_poll and self.only_new)
        self._first_poll = False
        return got

    # ------------------------------------------------------------- internals
    def _checkpoints_here(self) -> list[Checkpoint]:
        out = []
        for cp in self.ing.checkpoints.all():
            if os.path.dirname(cp.path) == str(self.root):
                out.append(cp)
        return out

    def _finish_rotated(self, cp: Checkpoint, files: dict[str, os.stat_result], by_source: dict[str, str]) -> bool:
        """Read the unread end of a file rotated away from the pattern (renamed, or copied and truncated)."""
        name = by_source.get(cp.source)
        if name is not None and not fnmatch.fnmatchcase(name, self.pattern):
            st = files[name]
            if name == os.path.basename(cp.path) and st.st_size <= cp.offset:
                return False  # read to its end before
            if st.st_size > cp.offset and st.st_size >= cp.size:
                return self._read(name, st)  # renamed: the rest of its lines
            return False
        # A followed file gone or truncated: look for a copy of it (copytruncate). Only files the
        # pattern names are looked for, so old rotated files do not cost a scan each poll.
        if not fnmatch.fnmatchcase(os.path.basename(cp.path), self.pattern) or cp.offset == 0:
            return False
        if cp.head_len < MIN_HEAD_FOR_COPY:
            return False
        truncated = name is None or files[name].st_size < cp.offset or not self._head_is(name, cp)
        if not truncated:
            return False
        got = False
        for other, st in files.items():
            sid = source_id(st.st_dev, st.st_ino)
            if sid == cp.source or st.st_size < cp.offset:
                continue
            if self.ing.checkpoints.get(sid) is None and self._head_is(other, cp):
                self._adopt(sid, other, st, cp)
            adopted = self.ing.checkpoints.get(sid)
            if adopted is not None and adopted.head_sha256 == cp.head_sha256 and st.st_size > adopted.offset:
                got |= self._read(other, st)
        return got

    def _head_is(self, name: str, cp: Checkpoint) -> bool:
        try:
            with open(self.root / name, "rb") as fh:
                return hashlib.sha256(fh.read(cp.head_len)).hexdigest() == cp.head_sha256
        except OSError:
            return False

    def _adopt(self, sid: str, name: str, st: os.stat_result, cp: Checkpoint) -> None:
        """The copy takes over what was committed of the file it copies."""
        ck = self.ing.checkpoints
        with ck.lock(sid):
            if ck.get(sid) is None:
                ck.commit(replace(cp, source=sid, path=str(self.root / name), dev=st.st_dev, ino=st.st_ino,
                                  size=st.st_size, seq=0, segments=()), [])
        self._seen.add(sid)

    def _read(self, name: str, st: os.stat_result, *, at_end: bool = False) -> bool:
        path = str(self.root / name)
        sid = source_id(st.st_dev, st.st_ino)
        first = sid not in self._seen
        self._seen.add(sid)
        opts = replace(self.base, source=path)
        res = self.ing.ingest_path(path, opts, from_start=self.from_start and first, whole_lines=True,
                                   start_at_end=at_end and first)
        total = self.results.get(path)
        if total is None:
            total = self.results[path] = SourceResult(source=path, resumed_at=res.resumed_at)
        total.format = res.format or total.format
        total.add(res)
        total.bytes += res.bytes
        total.error = res.error or total.error
        return bool(res.lines)  # whole lines read (a line being written is not news until it ends)
