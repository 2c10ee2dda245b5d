"""Checkpointed reading of file sources: identity, offsets, rotation, truncation.

Split from :mod:`opsnb.logs.ingest` (which parses the chunks). A file source is known by
its device and inode; its checkpoint (:mod:`opsnb.store.checkpoints`) says how far its
committed rows reach. :class:`CheckpointedSources` is the part of the
:class:`~opsnb.logs.ingest.Ingestor` that decides where a source starts (the committed
offset when the checkpoint still describes the file, else 0: a new inode, a shorter
file, other first bytes), reads it from there, and hands the bytes to the parser with
the :class:`_Source` that :meth:`Ingestor.flush` commits with each batch. The same path
serves sources that are not local files (a remote file or journal read over SSH, see
:mod:`opsnb.logs.ingest_remote`) through :meth:`CheckpointedSources.ingest_checkpointed`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from opsnb.errors import OpsnbError
from opsnb.logs import formats as F
from opsnb.logs.models import SourceResult
from opsnb.logs.reader import GZIP_MAGIC, Limits, expand, open_file, open_source, skip
from opsnb.store.checkpoints import (
    HEAD_HASH_BYTES,
    PRIOR_KEY_BYTES,
    Checkpoint,
    Checkpoints,
    Prior,
    prior_key,
    source_id,
    sweep_tmp,
)

if TYPE_CHECKING:
    from opsnb.store.lake import Lake

_D = TypeVar("_D")
CHECKPOINT_TABLES = ("logs", "spans", "quarantine")  # what an ingest batch writes


@dataclass
class _Source:
    """The source being ingested with a checkpoint: where merged data ends, and the last commit.

    ``cursor_of``: for sources resumed by a cursor (the journal), the checkpoint's cursor and
    ``cursor_skip`` at an offset of the stream being read: the cursor of the last entry that
    carries one and ends at or before it, and how many entries (damaged ones) follow it there.
    """

    cp: Checkpoint
    offset: int
    line: int
    size: int
    committed: int  # offset of the last commit
    res: SourceResult  # its format is committed once detected
    cursor_of: Callable[[int], tuple[str | None, int]] | None = None


class CheckpointedSources:
    """Where each source starts, and reading it from there (mixed into the ingestor)."""

    lake: Lake
    limits: Limits
    progress: Callable[[int], None] | None
    checkpoints: Checkpoints
    _src: _Source | None

    # provided by the ingestor
    def ingest_stream(self, stream: Any, opts: F.ParseOptions, res: SourceResult, first_line: int = 1,
                      start: int = 0, whole_lines: bool = False, resume_format: str | None = None) -> SourceResult:
        raise NotImplementedError

    def sync(self) -> None:
        raise NotImplementedError

    def flush(self, *, last: bool = False) -> None:
        raise NotImplementedError

    def _wait(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------- sources
    def ingest_paths(self, paths: Iterable[str], opts: F.ParseOptions, *,
                     from_start: bool = False) -> list[SourceResult]:
        """Ingest files, globs, directories and ``-`` (stdin); files resume from their checkpoint.

        A location ``<scheme>://...`` is read by the log source registered for its scheme
        (:mod:`opsnb.logs.sources`; ``file://`` is a path).
        """
        from opsnb.logs.sources import SOURCES, scheme_of

        paths = list(paths)
        files = [p.removeprefix("file://") for p in paths if scheme_of(p) == "file"]
        found, missing = expand(files)
        results = [SourceResult(source=m.split(":")[0], error=m) for m in missing]
        # Files read before go first: one truncated in place (copytruncate) leaves its prior
        # before its copy, never read, is met (the copy then continues it instead of repeating it).
        read = {path: self.ingest_path(path, opts, from_start=from_start)
                for path in sorted(found, key=lambda p: not self._known(p))}
        results.extend(read[path] for path in found)  # reported in the order they were named
        for location in (p for p in paths if scheme_of(p) != "file"):
            try:
                streams = SOURCES.get(scheme_of(location)).open(location)
                for name, stream in streams:
                    res = SourceResult(source=name)
                    with stream:
                        self.ingest_stream(stream, _replace(opts, source=name), res)
                    results.append(res)
            except (OSError, OpsnbError) as exc:  # one unreadable location does not stop the others
                results.append(SourceResult(source=location, error=f"cannot read {location}: {exc}"))
        return results

    def _known(self, path: str) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return False
        return self.checkpoints.path(source_id(st.st_dev, st.st_ino)).exists()

    def ingest_path(self, path: str, opts: F.ParseOptions, *, from_start: bool = False,
                    whole_lines: bool = False, start_at_end: bool = False) -> SourceResult:
        """Ingest one file (gzip or not) or ``-``, exactly once per byte.

        A file resumes where its committed checkpoint ends (see :mod:`opsnb.store.checkpoints`);
        a file whose identity changed (a new inode, a shorter size, other first bytes) starts at 0.

        Args:
            path: File or ``-`` (stdin: no checkpoint).
            opts: Parse options.
            from_start: Read the file from its first byte even when a checkpoint says it was read
                (its rows are stored again).
            whole_lines: Leave a last line without its newline for the next call (a file being written).
            start_at_end: A file without a checkpoint is taken as read up to its current end
                (a tail that follows only what is appended).
        """
        res = SourceResult(source=path)
        o = opts if opts.source != "-" or path == "-" else _replace(opts, source=path)
        if path == "-":
            try:
                stream, _size = open_source(path, self.progress, self.limits)
            except OSError as exc:
                res.error = f"cannot open {path}: {exc.strerror or exc}"
                return res
            with stream:
                self.ingest_stream(stream, o, res)
            return res
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below, through the wrapping stream
        except OSError as exc:
            res.error = f"cannot open {path}: {exc.strerror or exc}"
            return res
        with raw:
            st = os.fstat(raw.fileno())
            source = source_id(st.st_dev, st.st_ino)
            self.sync()  # rows of earlier sources are not part of this one's batches
            with self.checkpoints.lock(source):
                self.checkpoints.recover(source, list(CHECKPOINT_TABLES))
                sweep_tmp(self.lake.root / ".tmp")
                cp = self._start(source, path, raw, st, from_start)
                gz = _head_bytes(raw, 2) == GZIP_MAGIC
                if start_at_end and self.checkpoints.get(source) is None and not gz and not from_start:
                    cp = _replace(cp, offset=st.st_size, line=1 + _count_newlines(raw, st.st_size))
                    self.checkpoints.commit(cp, [])  # nothing to store: where reading starts
                if cp.offset and not gz:
                    raw.seek(cp.offset)
                stream = open_file(raw, self.progress, self.limits, compressed=gz)
                if cp.offset and gz:  # offsets count decompressed bytes: read up to it again
                    skip(stream, cp.offset)
                # A resumed file keeps the format (or mix of formats) detected at its start.
                self.ingest_checkpointed(cp, stream, o, res, size=st.st_size, whole_lines=whole_lines,
                                         resume_format=cp.format if cp.offset else None)
            res.resumed_at = cp.offset
        return res

    def ingest_checkpointed(self, cp: Checkpoint, stream: Any, opts: F.ParseOptions, res: SourceResult, *,
                            size: int, whole_lines: bool = False,
                            cursor_of: Callable[[int], tuple[str | None, int]] | None = None,
                            resume_format: str | None = None) -> SourceResult:
        """Parse ``stream`` (the source's bytes from ``cp.offset`` on); each batch commits the checkpoint.

        Call it holding ``self.checkpoints.lock(cp.source)``, after recovering the source.
        """
        self._src = _Source(cp=cp, offset=cp.offset, line=cp.line, size=size, committed=cp.offset, res=res,
                            cursor_of=cursor_of)
        try:
            self.ingest_stream(stream, opts, res, first_line=cp.line, start=cp.offset, whole_lines=whole_lines,
                               resume_format=resume_format)
            if res.format == "otlp" and not res.error:
                self._src.offset = cp.offset + res.bytes
            self.flush(last=True)
            self._wait()
        finally:
            self._src = None
        return res

    def _start(self, source: str, path: str, raw: Any, st: os.stat_result, from_start: bool) -> Checkpoint:
        """Where to start reading: the committed checkpoint when it still describes this file, else 0.

        A file never read before that is a copy of a truncated file's content (copytruncate: its
        first bytes and size match a prior, see :mod:`opsnb.store.checkpoints`) continues the
        prior's committed offset. A checkpointed file truncated in place leaves a prior for its
        copy, and starts over at 0.
        """
        old = self.checkpoints.get(source)
        head_len = min(HEAD_HASH_BYTES, st.st_size)
        first = _head_bytes(raw, PRIOR_KEY_BYTES)
        fresh = Checkpoint(source=source, path=os.path.abspath(path), dev=st.st_dev, ino=st.st_ino,
                           size=st.st_size, head_len=head_len, head_sha256=_head_sha(raw, head_len),
                           seq=old.seq if old else 0,
                           head_key=prior_key(first) if len(first) == PRIOR_KEY_BYTES else "")
        if from_start:
            return fresh
        plain = first[:2] != GZIP_MAGIC
        if old is None:
            return self._continue_prior(fresh, raw, st) if plain else fresh
        same = (st.st_size >= old.size and (not plain or st.st_size >= old.offset)
                and _head_sha(raw, old.head_len) == old.head_sha256)
        if not same:  # truncated in place (copytruncate) or a new file on a reused inode
            if plain and old.offset and old.head_len and not old.gone:
                # Its copy (made before the truncation) holds the unread end: recorded before
                # the checkpoint is reset, so a copy found later, by any reader, continues it.
                key = old.head_key if old.head_key and old.head_len >= PRIOR_KEY_BYTES else "short"
                self.checkpoints.add_prior(Prior(source=source, path=old.path, head_len=old.head_len,
                                                 head_sha256=old.head_sha256, offset=old.offset, line=old.line,
                                                 size=old.size, seq=old.seq, format=old.format, at=time.time()),
                                           key)
                self.checkpoints.commit(fresh, [])  # reset now: the prior is recorded once
            return fresh
        cp = _replace(old, path=os.path.abspath(path), segments=(), gone=False)
        if plain and old.head_len < head_len:
            # The identity grows with the file (up to HEAD_HASH_BYTES): a file first read nearly
            # empty is still told from the next content of its name, and its copy recognised.
            cp = _replace(cp, head_len=head_len, head_sha256=fresh.head_sha256, head_key=fresh.head_key)
        return cp

    def _continue_prior(self, fresh: Checkpoint, raw: Any, st: os.stat_result) -> Checkpoint:
        """A new file that copies a truncated file's content resumes at what was committed of it."""
        first = _head_bytes(raw, PRIOR_KEY_BYTES)
        for found, prior in self.checkpoints.priors_for(first, fresh.source):
            if prior.source == fresh.source or st.st_size < max(prior.offset, prior.head_len):
                continue
            if prior.head_len < PRIOR_KEY_BYTES and prior.head_len < prior.offset:
                continue  # too few bytes known to tell a copy from a file that starts alike
            if _head_sha(raw, prior.head_len) != prior.head_sha256:
                continue
            claimed = self.checkpoints.claim(found, fresh.source)
            if claimed is None:
                continue  # another copy took it
            cp = _replace(fresh, offset=prior.offset, line=prior.line, format=prior.format, adopted=prior.name)
            self.checkpoints.commit(cp, [])
            self.checkpoints.release(claimed)
            return cp
        return fresh


def next_checkpoint(src: _Source) -> Checkpoint:
    """The checkpoint a batch commits: where the merged data ends (and its cursor, for journals)."""
    cursor, skip = src.cursor_of(src.offset) if src.cursor_of is not None else (src.cp.cursor, src.cp.cursor_skip)
    return _replace(src.cp, offset=src.offset, line=src.line, seq=src.cp.seq + 1, size=src.size,
                    format=src.cp.format or src.res.format, cursor=cursor, cursor_skip=skip)


# ------------------------------------------------------------------ helpers
def _head_bytes(raw: Any, n: int) -> bytes:
    return os.pread(raw.fileno(), n, 0)


def _head_sha(raw: Any, n: int) -> str:
    return hashlib.sha256(_head_bytes(raw, n)).hexdigest()


def _count_newlines(raw: Any, end: int) -> int:
    n, pos = 0, 0
    while pos < end:
        block = os.pread(raw.fileno(), min(16 << 20, end - pos), pos)
        if not block:
            break
        n += block.count(b"\n")
        pos += len(block)
    return n


def _replace(obj: _D, **kw: Any) -> _D:
    from dataclasses import replace

    return replace(obj, **kw)  # type: ignore[type-var]
