"""Following the files of a directory across restarts, rotations and truncations.

Each file is read through its checkpoint (:mod:`opsnb.logs.ingest_files`): a restarted
tail resumes where the committed rows end, so a ``kill -9`` at any moment loses and
duplicates nothing. Whole lines only: a line still being written waits for its newline.

Each poll, in this order:

1. **Files rotated away from the pattern** (rename + create, logrotate's default): a renamed
   file keeps its inode and so its checkpoint; what was appended to it after the last commit is
   read from it under its new name, whatever the name. This holds when the tail was dead during
   the rotation too (or several: the inode is found under whichever name it has now).
2. **The followed files** (names the pattern matches), from their checkpoints. A new file at the
   name starts at 0. A file truncated in place (**copytruncate**) leaves a *prior* — what was
   committed of its old content, filed by its first bytes (:mod:`opsnb.store.checkpoints`) —
   and starts over at 0.
3. **Copies of truncated files**: a file without a checkpoint whose first bytes match a prior
   and whose size reaches the prior's committed offset is the copy; it resumes at that offset
   (its committed lines are not read again) and is read to its end. The prior outlives a kill,
   so a tail that was dead during the rotation finds the copy when it starts, whatever the order
   in which it meets the two files. Lines written between logrotate's copy and its truncation
   are lost by copytruncate itself (logrotate's manual says so).
4. **Generations no tail saw**: a file the app wrote and logrotate rotated away while no tail ran
   (the tail was down across two rotations) has no checkpoint, and its new name may not match the
   pattern. A file without a checkpoint whose name extends a followed name (``app.log.2``,
   ``app.log-20260301``), modified after reading that name began (the first commit of its
   checkpoints: files rotated before are history the pattern leaves out), not written to for a
   second, and whose first bytes are no known file's, is read whole; a
   compressed one is not read but reported (its name and size: ``results[...].error`` and a
   logging warning).
5. **Files gone**: a checkpointed file that is no longer in the directory (deleted, compressed
   to a new file, moved away) with bytes known to be unread is reported lost, with the count; so
   is a file truncated (or deleted, its inode reused) with bytes known unread and no copy here.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import stat as statmod
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from opsnb.logs.ingest_files import CHECKPOINT_TABLES
from opsnb.logs.models import SourceResult
from opsnb.store.checkpoints import Checkpoint, Prior, source_id

if TYPE_CHECKING:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor

log = logging.getLogger(__name__)
GZIP_MAGIC = b"\x1f\x8b"
SETTLED_S = 1.0  # a generation file not written to for this long is done being rotated
ROTATED_SEPARATORS = (".", "-", "_")  # app.log.1, app.log-20260301, app.log_old


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
        self._initial: set[str] = set()  # sources there at the first poll (the only ones from_start re-reads)
        self._first_poll = True
        self._since: dict[str, float] = {}  # followed name -> when reading it began (its first commit)
        self._not_copy: set[tuple[str, int, str]] = set()  # (source, size, prior) found not to be its copy
        self._reported: set[str] = set()
        self._settled: dict[str, tuple[int, int, int]] = {}  # source -> (size, mtime, offset) known read
        self._bases: set[str] = set()  # followed names (now, or of the checkpoints here)
        self._recovered: set[str] = set()

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
        cps = {cp.source: cp for cp in self._checkpoints_here()}
        self._bases = {n for n in files if self._followed(n)}
        self._bases |= {os.path.basename(cp.path) for cp in cps.values() if self._followed(os.path.basename(cp.path))}
        if self._first_poll:
            self._initial = set(by_source)
            self._since = self._followed_since(files, cps)
        self._recover(cps)
        got = False
        for cp in cps.values():
            got |= self._finish_rotated(cp, files, by_source)
        for name in sorted(files):
            if self._followed(name):
                got |= self._read(name, files[name], at_end=self._first_poll and self.only_new)
        got |= self._read_copies(files, cps)
        got |= self._read_missed(files, cps)
        self._report_gone(cps, by_source)
        self._first_poll = False
        return got

    # ------------------------------------------------------------- internals
    def _followed(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)

    def _checkpoints_here(self) -> list[Checkpoint]:
        return [cp for cp in self.ing.checkpoints.all() if os.path.dirname(cp.path) == str(self.root)]

    def _followed_since(self, files: dict[str, os.stat_result], cps: dict[str, Checkpoint]) -> dict[str, float]:
        """For each followed name, when reading it began: the first commit of a file that held or extends it."""
        out: dict[str, float] = {}
        for name in self._bases:
            times = [cp.first_at for cp in cps.values() if cp.first_at and _extends(os.path.basename(cp.path), name)]
            if times:
                out[name] = min(times)
        return out

    def _recover(self, cps: dict[str, Checkpoint]) -> None:
        """Finish the renames of batches a killed tail committed (once each): a file read to its end is
        never read again, so its recovery would otherwise wait for the next write of that source."""
        ck = self.ing.checkpoints
        for cp in cps.values():
            if cp.source in self._recovered or not cp.segments:
                continue
            with ck.try_lock(cp.source) as free:
                if free:  # else a live writer holds it, and recovers it first
                    ck.recover(cp.source, list(CHECKPOINT_TABLES))
            self._recovered.add(cp.source)

    def _finish_rotated(self, cp: Checkpoint, files: dict[str, os.stat_result], by_source: dict[str, str]) -> bool:
        """Read the unread end of a file rotated away from the pattern (renamed, or a copy being continued).

        A renamed file that no longer holds what its checkpoint describes was truncated before its
        rename (copytruncate, then rename + create, while no tail ran): read from its start (its
        old content's copy is continued through the prior this leaves), when its name is a
        rotated name of a followed file.
        """
        name = by_source.get(cp.source)
        if name is None or self._followed(name) or cp.gone:
            return False
        st = files[name]
        if self._settled.get(cp.source) == (st.st_size, st.st_mtime_ns, cp.offset):
            return False  # read to its end before, unchanged since
        if st.st_size >= cp.size and self._head_is(name, cp.head_len, cp.head_sha256):
            if st.st_size <= cp.offset:
                self._settled[cp.source] = (st.st_size, st.st_mtime_ns, cp.offset)
                return False
            return self._read(name, st)
        if any(_extends(name, b) for b in self._bases):
            return self._read(name, st)
        return False  # another file on a reused inode, under a name nobody follows

    def _head_is(self, name: str, n: int, sha: str) -> bool:
        try:
            with open(self.root / name, "rb") as fh:
                return hashlib.sha256(fh.read(n)).hexdigest() == sha
        except OSError:
            return False

    def _untracked(self, files: dict[str, os.stat_result], cps: dict[str, Checkpoint]) -> list[str]:
        """Names of files without a checkpoint (neither here nor, once moved, elsewhere)."""
        out = []
        for name, st in sorted(files.items()):
            sid = source_id(st.st_dev, st.st_ino)
            if sid not in cps and sid not in self._seen and self.ing.checkpoints.get(sid) is None:
                out.append(name)
        return out

    def _read_copies(self, files: dict[str, os.stat_result], cps: dict[str, Checkpoint]) -> bool:
        """Continue the copies of truncated files (copytruncate) from what was committed of them."""
        priors = self.ing.checkpoints.open_priors()
        if not priors:
            return False
        got = False
        found: set[str] = set()
        for name in self._untracked(files, cps):
            st = files[name]
            sid = source_id(st.st_dev, st.st_ino)
            for prior in priors:
                key = (sid, st.st_size, prior.name)
                if key in self._not_copy or st.st_size < max(prior.offset, prior.head_len):
                    continue
                if self._head_is(name, prior.head_len, prior.head_sha256):
                    got |= self._read(name, st)  # resumes at the prior's offset (ingest_files claims it)
                    found.add(prior.name)
                    break
                self._not_copy.add(key)
        now = time.time()
        for prior in priors:
            # Truncated (or deleted and its inode reused) with bytes known unread, and no copy here
            # a while after: what it held past the committed offset is not in this directory.
            unread = prior.size - prior.offset
            if (unread > 0 and prior.name not in found and now - prior.at >= SETTLED_S
                    and os.path.dirname(prior.path) == str(self.root)):
                self._lost(f"{prior.path}@{prior.name}", unread,
                           f"{os.path.basename(prior.path)} was truncated or replaced with at least {unread:,} "
                           f"bytes after offset {prior.offset:,} not read, and no copy of it is here")
        return got

    def _known_head(self, name: str, st: os.stat_result, cps: dict[str, Checkpoint], priors: list[Prior]) -> bool:
        """Whether the file starts as a known file does (a copy of it, maybe still being written)."""
        heads = [(cp.head_len, cp.head_sha256) for cp in cps.values() if cp.head_len]
        heads += [(p.head_len, p.head_sha256) for p in priors]
        return any(n <= st.st_size and self._head_is(name, n, sha) for n, sha in heads)

    def _read_missed(self, files: dict[str, os.stat_result], cps: dict[str, Checkpoint]) -> bool:
        """Read generations rotated away while no tail read them (see the module's step 4)."""
        if not self._since:
            return False
        got = False
        now = time.time()
        priors: list[Prior] | None = None
        for name in self._untracked(files, cps):
            st = files[name]
            if self._followed(name) or now - st.st_mtime < SETTLED_S:
                continue
            base = next((b for b in self._since if _extends(name, b) and name != b), None)
            if base is None or st.st_mtime <= self._since[base]:
                continue
            if priors is None:
                priors = self.ing.checkpoints.open_priors()
            if self._known_head(name, st, cps, priors):
                continue  # a copy: continued through its prior, or a partial copy not yet one
            path = str(self.root / name)
            if _is_gzip(path):
                self._lost(path, st.st_size, f"{name} ({st.st_size:,} compressed bytes) was rotated away "
                                             f"from {base} while no tail ran and is compressed: not read")
                self._seen.add(source_id(st.st_dev, st.st_ino))
                continue
            log.warning("reading %s whole: rotated away from %s while no tail ran (%s bytes)", path, base,
                        f"{st.st_size:,}")
            got |= self._read(name, st)
        return got

    def _report_gone(self, cps: dict[str, Checkpoint], by_source: dict[str, str]) -> None:
        """A checkpointed file no longer here, with bytes known unread: reported lost, once."""
        ck = self.ing.checkpoints
        for cp in cps.values():
            if cp.gone or cp.source in by_source:
                continue
            if os.path.exists(cp.path):
                try:
                    st = os.stat(cp.path)
                except OSError:
                    continue
                if source_id(st.st_dev, st.st_ino) == cp.source:
                    continue  # there after all (created after this poll's look)
            with ck.lock(cp.source):
                now = ck.get(cp.source)
                if now is None or now.gone or now.seq != cp.seq or now.offset != cp.offset:
                    continue
                ck.commit(replace(now, gone=True, segments=()), [])
            unread = cp.size - cp.offset
            if unread > 0:
                self._lost(cp.path, unread, f"{os.path.basename(cp.path)} is gone (deleted or moved) with at "
                                            f"least {unread:,} bytes after offset {cp.offset:,} not read")

    def _lost(self, path: str, nbytes: int, why: str) -> None:
        if path in self._reported:
            return
        self._reported.add(path)
        log.warning("tail of %s: %s", self.root, why)
        res = self.results.setdefault(path, SourceResult(source=path))
        res.error = f"lost {nbytes:,} bytes: {why}"

    def _read(self, name: str, st: os.stat_result, *, at_end: bool = False) -> bool:
        path = str(self.root / name)
        sid = source_id(st.st_dev, st.st_ino)
        first = sid not in self._seen
        self._seen.add(sid)
        opts = replace(self.base, source=path)
        res = self.ing.ingest_path(path, opts, from_start=self.from_start and first and sid in self._initial,
                                   whole_lines=True, start_at_end=at_end and first)
        total = self.results.get(path)
        if total is None:
            total = self.results[path] = SourceResult(source=path, resumed_at=res.resumed_at)
        total.format = res.format or total.format
        total.add(res)
        total.bytes += res.bytes
        total.error = res.error or total.error
        return bool(res.lines)  # whole lines read (a line being written is not news until it ends)


def _extends(name: str, base: str) -> bool:
    """``name`` is ``base`` or a rotated name of it (``app.log.1``, ``app.log-20260301.gz``)."""
    return name == base or (name.startswith(base) and name[len(base)] in ROTATED_SEPARATORS)


def _is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return False
