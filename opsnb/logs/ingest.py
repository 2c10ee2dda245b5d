"""Ingest: sources to lake batches, bad lines to the quarantine, one summary.

The pipeline per source: detect (or take) the format from the first MiB, cut
the stream into 16 MiB chunks of whole lines (:mod:`opsnb.logs.reader`), find
the lines that cannot be text (invalid UTF-8, NUL bytes, over-long) with one
check per chunk, and hand the rest to one vectorised parse per chunk:
``pyarrow.json`` for JSON lines (a chunk that does not parse as a whole is cut
in halves until the bad lines are alone, and those are read one by one), and
DuckDB SQL with RE2 regular expressions for text formats (:mod:`opsnb.logs.formats`;
logfmt pairs are cut with Arrow string splits when the line allows it). The
normalising step (time stamps, severities, ids, durations) runs as Arrow kernels
for the rows it is sure about and as the reference SQL for the others
(:mod:`opsnb.logs.normalise`).
Chunks are parsed by a pool of worker threads (one per core: the Arrow, DuckDB and
Parquet work releases the GIL), each into its own :class:`_Part`; parts are merged
into their source's result in input order, so counts, quarantine order and line
numbers do not depend on which worker finished first.
Good rows collect into Arrow batches written to the lake when they pass
``batch_rows``; bad ones go to the ``quarantine`` table with their reason and raw
bytes. Nothing is dropped silently: every line is stored, quarantined, or
counted as blank.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsnb.errors import LakeError, ValidationError
from opsnb.logs import formats as F
from opsnb.logs import ingest_mixed as M
from opsnb.logs import jsonlines as J
from opsnb.logs import normalise as N
from opsnb.logs import otlp
from opsnb.logs.arrowmaps import build_map, const_map

# Re-exported: callers imported these from here before the split.
from opsnb.logs.ingest_files import (  # noqa: F401
    CHECKPOINT_TABLES,
    CheckpointedSources,
    _replace,
    _Source,
    next_checkpoint,
)
from opsnb.logs.models import SourceResult
from opsnb.logs.reader import HEAD_BYTES, Limits, LineReader, count_lines, read_head
from opsnb.store.checkpoints import Checkpoint, Checkpoints, sweep_tmp
from opsnb.store.lake import SCHEMAS

if TYPE_CHECKING:
    import duckdb

    from opsnb.store.lake import Lake

SPLIT_ROWS = 50_000  # a batch this big is written in slices, one per worker
QUARANTINE_ROWS = 50_000  # quarantined lines held before they are written (4 M bad lines once took 2.4 GB)

# ------------------------------------------------------------------ ingestor
def _reason_key(reason: str) -> str:
    """Reasons grouped for the summary (without the per-line details)."""
    import re

    return re.sub(r"\d[\d,.]*", "N", reason.split(":")[0])[:80]


def _quarantine_row(res: SourceResult, line: int, fmt: str | None, reason: str, raw: bytes) -> dict[str, Any]:
    res.quarantined += 1
    res.reasons[_reason_key(reason)] += 1
    return {"Source": res.source, "Line": line, "Format": fmt, "Reason": reason, "Raw": raw}


@dataclass
class _Part:
    """What one chunk gave: its own counters, quarantined lines and good rows, merged in input order.

    ``end`` and ``next_line``: where the source stands once this part is merged (-1: unknown).
    """

    res: SourceResult
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    good: list[pa.Table] = field(default_factory=list)
    end: int = -1
    next_line: int = 1

    def bad(self, line: int, fmt: str | None, reason: str, raw: bytes) -> None:
        self.quarantine.append(_quarantine_row(self.res, line, fmt, reason, raw))


class Ingestor(CheckpointedSources):
    """Parses sources and writes lake batches. One per ingest call (it owns a DuckDB connection).

    Args:
        lake: Where rows go.
        batch_rows: Good rows collected before one lake write.
        chunk_bytes: Bytes per parse.
        max_line_bytes: Longer lines are quarantined (first 64 KiB kept).
        invalid_utf8: ``quarantine`` lines that are not UTF-8, or ``replace`` the bad bytes
            (the row gets ``LogAttributes['opsnb.invalid_utf8']``).
        progress: Called with the number of bytes read from disk since the last call.
        workers: Chunks parsed at once (default: one per core, at most 4).
        limits: Decompression bounds (total size and ratio) of compressed sources.
    """

    def __init__(self, lake: Lake, *, batch_rows: int = 250_000, chunk_bytes: int = 16 << 20,
                 max_line_bytes: int = 1 << 20, invalid_utf8: str = "quarantine",
                 progress: Callable[[int], None] | None = None, workers: int | None = None,
                 limits: Limits | None = None) -> None:
        if invalid_utf8 not in ("quarantine", "replace"):
            raise ValidationError(f"invalid_utf8 must be 'quarantine' or 'replace', got {invalid_utf8!r}",
                                  field="invalid_utf8")
        self.lake = lake
        self.batch_rows = batch_rows
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self.invalid_utf8 = invalid_utf8
        self.progress = progress
        self.workers = max(1, min(4, workers or os.cpu_count() or 1))
        self.limits = limits or Limits()
        self.checkpoints = Checkpoints(lake.root)
        sweep_tmp(lake.root / ".tmp")  # every ingest (stdin and remote ones too) clears dead writers' temp files
        self._src: _Source | None = None  # set while a file source with a checkpoint is read
        self._commits = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsnb-ingest-commit")
        self._commit_failed: BaseException | None = None
        # DuckDB is opened on first use: JSON lines in the common shape never need it, and
        # importing and connecting costs about 80 ms of every ingest.
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._duck_lock = threading.Lock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._good: list[pa.Table] = []
        self._good_rows = 0
        self._quarantine: list[dict[str, Any]] = []
        self._spans: list[pa.Table] = []
        self._parsers = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="opsnb-log-parser")
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="opsnb-lake-writer")
        self._pending: list[Future[Any]] = []

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The ingest's DuckDB connection, with the parsing macros (opened on first use)."""
        with self._duck_lock:
            if self._duck is None:
                import duckdb

                con = duckdb.connect(":memory:")
                con.execute("SET TimeZone = 'UTC'")
                con.execute(F.MACROS + F.YEAR_MACRO)
                self._duck = con
            return self._duck

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the connection (registered views are per cursor; macros are shared)."""
        cur = getattr(self._local, "con", None)
        if cur is None:
            cur = self._local.con = self.con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            with self._duck_lock:
                self._cursors.append(cur)
        return cur

    def close(self) -> None:
        """Write what is left and wait for the writer; the connection is closed even on error."""
        try:
            self.flush(last=True)
            self._wait()
        finally:
            self._parsers.shutdown(wait=True)
            for cur in self._cursors:
                cur.close()
            if self._duck is not None:
                self._duck.close()
            self._pool.shutdown(wait=True)
            self._commits.shutdown(wait=True)

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        for fut in pending:
            fut.result()  # a failed write raises here, in the caller's thread

    # ------------------------------------------------------------- writing
    def _add_good(self, tbl: pa.Table, *, draining: bool = False) -> None:
        if tbl.num_rows:
            self._good.append(tbl)
            self._good_rows += tbl.num_rows
            self._maybe_flush(draining=draining)

    def _maybe_flush(self, *, draining: bool = False) -> None:
        if len(self._quarantine) >= QUARANTINE_ROWS:
            self.flush(last=draining)
        elif self._good_rows:
            if draining:
                # The source is read: no more chunks come to overlap the write with, so what is
                # collected is written now, in slices, while the last chunks are still parsed.
                if self._good_rows >= SPLIT_ROWS:
                    self.flush(last=True)
            elif self._good_rows >= self.batch_rows:
                self.flush()

    def _bad(self, res: SourceResult, line: int, fmt: str | None, reason: str, raw: bytes) -> None:
        self._quarantine.append(_quarantine_row(res, line, fmt, reason, raw))

    def _merge(self, res: SourceResult, part: _Part, *, draining: bool = False) -> None:
        # The whole part, then where the source stands, then maybe a write: a batch (and its
        # checkpoint) never holds part of a chunk.
        res.add(part.res)
        self._quarantine.extend(part.quarantine)
        for tbl in part.good:
            if tbl.num_rows:
                self._good.append(tbl)
                self._good_rows += tbl.num_rows
        if self._src is not None and part.end >= 0:
            self._src.offset, self._src.line = part.end, part.next_line
        self._maybe_flush(draining=draining)

    def sync(self) -> None:
        """Write what is collected and wait until it is in the lake."""
        self.flush()
        self._wait()

    def flush(self, *, last: bool = False) -> None:
        """Write what is collected (one segment per day touched).

        The ``logs`` batch is written by background threads while the next chunks are parsed
        (Parquet encoding releases the GIL), in one slice per worker: the write of the batch
        that is pending when parsing ends then takes a share of the time it would alone.
        At most one batch is pending, which bounds memory, except when the source is read
        (``last``): nothing is left to overlap with, so the write starts at once.
        """
        src = self._src
        pending = None if src is None else (src.cp.source, src.cp.seq + 1)
        slices: list[Future[Any]] = []
        if self._good:
            tbl = pa.concat_tables(self._good, promote_options="permissive")
            self._good, self._good_rows = [], 0
            if not last:
                self._wait()
            parts = self.workers if tbl.num_rows >= SPLIT_ROWS else 1
            step = -(-tbl.num_rows // parts)
            slices = [self._pool.submit(self.lake.write, "logs", tbl.slice(k, step), pending=pending)
                      for k in range(0, tbl.num_rows, step)]
            self._pending += slices
        written: list[str] = []
        if self._spans:
            written += self.lake.write("spans", pa.concat_tables(self._spans), pending=pending).segments
            self._spans = []
        if self._quarantine:
            now = datetime.now(UTC)
            q = self._quarantine
            self._quarantine = []
            written += self.lake.write("quarantine", pa.table({
                "Timestamp": pa.array([now] * len(q), pa.timestamp("us", tz="UTC")),
                "Source": pa.array([r["Source"] for r in q], pa.string()),
                "Line": pa.array([r["Line"] for r in q], pa.int64()),
                "Format": pa.array([r["Format"] for r in q], pa.string()),
                "Reason": pa.array([r["Reason"] for r in q], pa.string()),
                "Raw": pa.array([r["Raw"] for r in q], pa.binary()),
            }), pending=pending).segments
        if src is not None and (slices or written or src.offset != src.committed):
            cp = next_checkpoint(src)
            src.cp, src.committed = cp, src.offset
            self._pending.append(self._commits.submit(self._commit, cp, slices, written))

    def _commit(self, cp: Checkpoint, slices: list[Future[Any]], written: list[str]) -> None:
        """Wait for the batch's segments, then commit them with the checkpoint (commits run in order)."""
        if self._commit_failed is not None:
            raise LakeError(f"an earlier batch of {cp.path} failed; not committing a later one",
                            table="logs", path=cp.path) from self._commit_failed
        try:
            paths = [Path(p) for f in slices for p in f.result().segments] + [Path(p) for p in written]
            self.checkpoints.commit(cp, paths)
        except BaseException as exc:
            self._commit_failed = exc
            raise

    # ------------------------------------------------------------- sources
    def ingest_bytes(self, data: bytes, opts: F.ParseOptions) -> SourceResult:
        """Ingest bytes already in memory (remote command output, tests)."""
        res = SourceResult(source=opts.source)
        return self.ingest_bytes_into(data, opts, res)

    def ingest_bytes_into(self, data: bytes, opts: F.ParseOptions, res: SourceResult,
                          first_line: int = 1) -> SourceResult:
        """Ingest bytes into an existing result (``first_line``: number of the first line, for tails)."""
        import io

        stream = io.BufferedReader(io.BytesIO(data))
        return self.ingest_stream(stream, opts, res, first_line=first_line)

    def ingest_stream(self, stream: Any, opts: F.ParseOptions, res: SourceResult,
                      first_line: int = 1, start: int = 0, whole_lines: bool = False,
                      resume_format: str | None = None) -> SourceResult:
        """Detect the format (unless forced) and ingest a binary stream into ``res``.

        ``start``: offset of the stream's first byte in its source (for the checkpoint).
        ``resume_format``: the format (``a+b`` for a mix, see :mod:`opsnb.logs.ingest_mixed`)
        committed for a resumed source, used unless ``opts`` forces one.
        """
        head, head_error = read_head(stream, 1 << 20)
        if not head and start and not head_error:
            return res  # read before, nothing appended since
        fmt = opts.format or resume_format
        if fmt is None:
            det = F.detect(head, opts.header_regex)
            fmt = det.format
            if det.score < 1.0 and not opts.header_regex:  # not every first line is this format's
                fmt = M.plan(head, det)
            if fmt is None:
                res.error = f"unknown format: {det.reason}" + (f" ({head_error})" if head_error else "")
                res.lines = head.count(b"\n") + (1 if head and not head.endswith(b"\n") else 0)
                res.events = res.lines
                self._bad(res, 0, None, res.error, head[:65_536])
                res.bytes = len(head)
                # Count the rest of the stream so the summary says how much was refused.
                for block in iter(lambda: _safe_read(stream), b""):
                    res.bytes += len(block)
                return res
        res.format = fmt
        fmt, fallbacks = M.split(fmt)
        fmt, opts = F.engine(fmt, opts)  # a registered format runs on one of the built-in engines
        stored_before, by_format_before = res.stored, sum(res.formats.values())
        if fmt == "otlp":
            if head_error:
                res.error = head_error
                return self._ingest_otlp(head, opts, res)
            return self._ingest_otlp(head + _read_all(stream, res), opts, res)
        reader = LineReader(stream, chunk_bytes=self.chunk_bytes, max_line_bytes=self.max_line_bytes,
                            prefix=head, first_line=first_line, error=head_error, whole_lines=whole_lines)
        observed = datetime.now(UTC)
        json_schema = J.explicit_schema(head) if fmt in ("jsonl", "journald") else None
        resource = {"log.file.path": opts.source, "opsnb.format": M.split(res.format)[0], **opts.resource}
        held = b""
        held_line = first_line
        inflight: deque[Future[_Part]] = deque()
        try:
            for chunk in reader.chunks():
                part = _Part(SourceResult(source=res.source))
                for long in chunk.long:
                    part.res.lines += 1
                    part.res.events += 1
                    why = (f"line of {long.size:,} bytes is longer than the limit of {self.max_line_bytes:,} "
                           f"bytes (Raw keeps the first {len(long.head):,})")
                    if long.truncated:
                        why += "; the stream broke inside it"
                    part.bad(long.line, fmt, why, long.head)
                data, first = chunk.data, chunk.first_line
                if held:
                    data, first = held + data, held_line
                    held = b""
                if data and fmt in F.MULTILINE and not chunk.final:
                    # Hold back the last entry: its continuation lines may be in the next chunk.
                    cut = self._last_entry_start(data, fmt, opts)
                    if 0 < cut < len(data) and len(data) - cut <= self.max_line_bytes:
                        held, held_line = data[cut:], first + count_lines(data, cut)
                        data = data[:cut]
                part.end = start + chunk.end - len(held)
                part.next_line = held_line if held else chunk.next_line
                if data:
                    inflight.append(self._parsers.submit(self._chunk, data, first, fmt, opts, part, observed,
                                                         resource, json_schema, chunk.tail_damaged, fallbacks))
                else:
                    done: Future[_Part] = Future()
                    done.set_result(part)
                    inflight.append(done)
                # Keep every worker busy, and no more chunks in memory than that (plus the one read).
                while len(inflight) > self.workers:
                    self._merge(res, inflight.popleft().result())
            while inflight:
                self._merge(res, inflight.popleft().result(), draining=True)
        finally:
            for fut in inflight:  # an error stopped the loop: let running chunks end before raising
                fut.cancel()
                if not fut.cancelled():
                    fut.exception()
        res.bytes = reader.bytes_read + len(head)
        # Rows of the fallbacks are counted as they are parsed; the rest are the primary's.
        primary_rows = (res.stored - stored_before) - (sum(res.formats.values()) - by_format_before)
        if primary_rows:
            res.formats[M.split(res.format)[0]] += primary_rows
        if reader.error:
            res.error = reader.error
        return res

    # ------------------------------------------------------------- chunks
    def _last_entry_start(self, data: bytes, fmt: str, opts: F.ParseOptions) -> int:
        """Byte offset of the last line of ``data`` that starts an entry (0 when none)."""
        import re

        pattern = F.header_pattern(fmt, opts.header_regex) or "^"
        pat = re.compile(pattern.encode(), re.M)
        # Scan only the tail first: the last entry is usually short.
        for span in (1 << 16, 1 << 20, len(data)):
            start = max(0, len(data) - span)
            nl = data.rfind(b"\n", 0, start) + 1 if start else 0
            last = -1
            for m in pat.finditer(data, nl):
                last = m.start()
            if last >= 0:
                return last
        return 0

    def _chunk(self, data: bytes, first: int, fmt: str, opts: F.ParseOptions, part: _Part,
               observed: datetime, resource: dict[str, str], json_schema: pa.Schema | None,
               damaged_tail: bool = False, fallbacks: tuple[str, ...] = ()) -> _Part:
        """Parse one chunk of whole lines into ``part`` (runs in a parser thread).

        ``fallbacks``: other formats of a mixed file, tried on the lines ``fmt`` rejects.
        """
        self._chunk_into(data, first, fmt, opts, part, observed, resource, json_schema, damaged_tail,
                         others=fallbacks)
        if fallbacks and part.quarantine:
            M.reparse(self, part, fallbacks, opts, observed, resource)
        return part

    def _chunk_into(self, data: bytes, first: int, fmt: str, opts: F.ParseOptions, part: _Part,
                    observed: datetime, resource: dict[str, str], json_schema: pa.Schema | None,
                    damaged_tail: bool, others: tuple[str, ...] = (), join: bool = True) -> None:
        res = part.res
        if not data.endswith(b"\n"):
            data += b"\n"
        arr = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        n = len(ends)
        starts = np.empty(n, dtype=np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        # drop a trailing \r (CRLF files)
        if n and (arr[ends - 1] == 13).any():
            cr = np.zeros(n, dtype=bool)
            nz = ends > starts
            cr[nz] = arr[ends[nz] - 1] == 13
            ends = ends - cr
        lengths = ends - starts
        res.lines += n
        keep = np.ones(n, dtype=bool)
        blank = lengths == 0
        # Empty lines are blank by their length; only short ones are looked at (a file of newlines
        # once took 83 s here, one Python step per line).
        for i in np.flatnonzero((lengths > 0) & (lengths <= 4)):
            if not data[starts[i]:ends[i]].strip():
                blank[i] = True
        res.blank += int(blank.sum())
        keep &= ~blank
        replaced: set[int] = set()
        for i in np.flatnonzero(lengths > self.max_line_bytes):
            keep[i] = False
            res.events += 1
            part.bad(first + int(i), fmt,
                     f"line of {int(lengths[i]):,} bytes is longer than the limit of {self.max_line_bytes:,} "
                     f"bytes (Raw keeps the first {HEAD_BYTES:,})", data[starts[i]:starts[i] + HEAD_BYTES])
        if damaged_tail and n and keep[n - 1]:
            keep[n - 1] = False
            res.events += 1
            part.bad(first + n - 1, fmt, "truncated input: the last line was cut short",
                     data[starts[n - 1]:ends[n - 1]])
        # Text checks once per chunk; line by line only when the chunk fails them.
        bad_text = False
        if arr.max() >= 128:  # ASCII (numpy, without the GIL) is valid UTF-8; else let Python check
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                bad_text = True
        if bad_text or b"\x00" in data:
            for i in np.flatnonzero(keep):
                raw = data[starts[i]:ends[i]]
                why = None
                if b"\x00" in raw:
                    why = "binary data: NUL bytes in the line"
                else:
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        if self.invalid_utf8 == "replace":
                            replaced.add(int(i))
                        else:
                            why = f"invalid UTF-8 at byte {exc.start} of the line"
                if why:
                    keep[i] = False
                    res.events += 1
                    part.bad(first + int(i), fmt, why, raw)
            if replaced:
                data = _replace_invalid(data, starts, ends, replaced)
                arr = np.frombuffer(data, dtype=np.uint8)
                # Offsets moved: recompute from the new buffer (same number of lines).
                ends = np.flatnonzero(arr == 10)
                starts[1:] = ends[:-1] + 1
                if (arr[ends - 1] == 13).any():
                    nz = ends > starts
                    cr = np.zeros(n, dtype=bool)
                    cr[nz] = arr[ends[nz] - 1] == 13
                    ends = ends - cr
        if fmt in ("jsonl", "journald"):
            for k, depth in J.too_deep(data, starts, ends, lengths, keep):
                keep[k] = False
                res.events += 1
                part.bad(first + k, fmt, f"JSON nested {depth:,} levels deep, over the limit of {J.MAX_DEPTH}",
                         data[starts[k]:starts[k] + HEAD_BYTES])
        idx = np.flatnonzero(keep)
        if not len(idx):
            return
        if fmt in ("jsonl", "journald"):
            tables, bad = J.parse(data, starts, ends, idx, journald=fmt == "journald", schema=json_schema,
                                  max_line_bytes=self.max_line_bytes, use_threads=self.workers == 1)
            res.events += len(idx)
            jd = fmt == "journald"
            for t in tables:
                numeric = {f.name for f in t.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)}
                inner = F.json_inner_sql(t.column_names, journald=jd, numeric=numeric)
                self._normalise(t, inner, "J", fmt, opts, part,
                                observed, resource, data, starts, ends, first, replaced,
                                json_attrs=F.json_attr_columns(t.column_names, journald=jd))
            for j, reason in bad:
                part.bad(first + j, fmt, reason, data[starts[j]:ends[j]])
            return
        lines = self._lines(data, starts, ends, idx)
        joined: dict[int, bytes] = {}
        if fmt in F.MULTILINE and join:
            lines, joined = self._join_multiline(lines, fmt, opts, part, first, data, starts, ends, others)
        res.events += lines.num_rows
        if fmt == "logfmt":
            lines = self._logfmt_pairs(lines)
            present = set(pc.unique(pc.list_flatten(lines.column("k"))).to_pylist())
            inner = F.logfmt_inner_sql(present)
        else:
            inner = F.inner_sql(fmt, opts.header_regex)
        self._normalise(lines, inner, "L", fmt, opts, part, observed, resource, data, starts, ends, first,
                        replaced, joined)

    def _logfmt_pairs(self, lines: pa.Table) -> pa.Table:
        """Add per-line key and value lists (see :func:`normalise.logfmt_pairs`)."""
        return N.logfmt_pairs(self._con, lines)

    @staticmethod
    def _lines(data: bytes, starts: np.ndarray, ends: np.ndarray, idx: np.ndarray) -> pa.Table:
        """An Arrow table ``(_i, line)`` of the lines at ``idx`` (no copy of the text when all are kept)."""
        n = len(starts)
        offsets = np.empty(n + 1, dtype=np.int64)
        offsets[:-1] = starts
        offsets[-1] = len(data)
        # Each string spans its line and its newline; the trim removes the newline (and a CR).
        full = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
        ii = pa.array(np.arange(n, dtype=np.int64))
        if len(idx) != n:
            full, ii = full.take(pa.array(idx)), ii.take(pa.array(idx))
        return pa.table({"_i": ii, "line": pc.utf8_rtrim(full, characters="\r\n")})

    def _join_multiline(self, lines: pa.Table, fmt: str, opts: F.ParseOptions, part: _Part,
                        first: int, data: bytes, starts: np.ndarray, ends: np.ndarray,
                        others: tuple[str, ...] = ()) -> tuple[pa.Table, dict[int, bytes]]:
        """Join continuation lines to the entry they follow; lines before any entry are quarantined."""
        res = part.res
        hdr = F.header_sql(fmt, opts.header_regex)
        self._con.register("L", lines)
        try:
            is_hdr = self._con.sql(f"SELECT {hdr} AS h FROM L").to_arrow_table().column("h").to_numpy(
                zero_copy_only=False)
        finally:
            self._con.unregister("L")
        if others:  # a line of another format of the file starts its own entry
            is_hdr = is_hdr | M.other_starts(lines, others)
        if is_hdr.all():
            return lines, {}
        group = np.cumsum(is_hdr)
        orphans = np.flatnonzero(group == 0)
        ii = lines.column("_i").to_numpy()
        for k in orphans:
            i = int(ii[k])
            res.events += 1
            part.bad(first + i, fmt, "continuation line without an entry before it",
                     data[starts[i]:ends[i]])
        keep = group > 0
        sub = lines.filter(pa.array(keep))
        self._con.register("L0", sub.append_column("_g", pa.array(group[keep])))
        try:
            out = self._con.sql("SELECT min(_i) AS _i, string_agg(line, chr(10) ORDER BY _i) AS line, "
                               "count(*) AS _n FROM L0 GROUP BY _g ORDER BY 1").to_arrow_table()
        finally:
            self._con.unregister("L0")
        multi = pc.greater(out.column("_n"), 1)
        joined = {int(i): s.encode() for i, s in zip(
            out.column("_i").filter(multi).to_pylist(), out.column("line").filter(multi).to_pylist(),
            strict=True)}
        return out.select(["_i", "line"]), joined

    def _normalise(self, tbl: pa.Table, inner: str, name: str, fmt: str, opts: F.ParseOptions,
                   part: _Part, observed: datetime, resource: dict[str, str], data: bytes,
                   starts: np.ndarray, ends: np.ndarray, first: int, replaced: set[int],
                   joined: dict[int, bytes] | None = None, json_attrs: list[str] | None = None) -> None:
        res = part.res
        out = self._fast(tbl, inner, name, fmt, opts, observed, json_attrs is not None)
        if out is None:
            out = self._sql(tbl, F.normalise_sql(inner, opts, fmt, observed), name)
        n = out.num_rows
        # Attributes: loose columns and lists become one map column, built with Arrow.
        static: list[tuple[str, Any]] = []
        if json_attrs is not None:
            if not out.column("_i").equals(tbl.column("_i")):
                raise AssertionError("row order changed in the normalising query")
            static = [(c, tbl.column(c)) for c in json_attrs]
        else:
            static = [(c[2:], out.column(c)) for c in out.column_names if c.startswith("a.")]
        static.append(("opsnb.ts_assumed", out.column("_assumed")))
        dynamic = (out.column("_ak"), out.column("_av")) if "_ak" in out.column_names else None
        log_attrs = build_map(n, static, dynamic)
        fixed = [f.name for f in SCHEMAS["logs"] if f.name not in ("ResourceAttributes", "LogAttributes")]
        good = pa.table([*(out.column(c) if c in out.column_names else pa.nulls(n, SCHEMAS["logs"].field(c).type)
                           for c in fixed), const_map(n, resource), log_attrs],
                        names=[*fixed, "ResourceAttributes", "LogAttributes"]).select(SCHEMAS["logs"].names)
        err = out.column("_err")
        ii = out.column("_i")
        if err.null_count < n:  # some rows failed
            is_bad = pc.is_valid(err)
            for i, why in zip(ii.filter(is_bad).to_pylist(), err.filter(is_bad).to_pylist(), strict=True):
                raw = (joined or {}).get(i) or data[starts[i]:ends[i]]
                part.bad(first + i, fmt, why, raw)
            keep = pc.invert(is_bad)
            good, ii = good.filter(keep), ii.filter(keep)
        if replaced:
            flag = pc.is_in(ii, pa.array(sorted(replaced), pa.int64()))
            if pc.any(flag).as_py():
                good = _flag_rows(good, flag, "opsnb.invalid_utf8", "replaced")
        res.stored += good.num_rows
        part.good.append(good.cast(SCHEMAS["logs"]))

    def _sql(self, tbl: pa.Table, sql: str, name: str) -> pa.Table:
        self._con.register(name, tbl)
        try:
            return self._con.sql(sql).to_arrow_table()
        finally:
            self._con.unregister(name)

    def _fast(self, tbl: pa.Table, inner: str, name: str, fmt: str, opts: F.ParseOptions,
              observed: datetime, is_json: bool) -> pa.Table | None:
        """The normalising query's output, computed with Arrow for the common rows (None: use the SQL).

        Rows :func:`normalise.fast_outer` is not sure about (odd spellings, rows to quarantine) go
        through the SQL, so the result is the SQL's, only cheaper.
        """
        if fmt in N.SQL_ONLY:
            return None
        try:
            if is_json:
                loose = N.json_loose(tbl)
            elif fmt == "logfmt":
                loose = N.logfmt_loose(tbl)
            else:
                loose = self._sql(tbl, inner, name)
            cols, unsure = N.fast_outer(loose, opts, fmt, observed)
        except N.NotSimple:
            return None
        n = loose.num_rows
        if not is_json:
            cols.update({c: loose.column(c) for c in loose.column_names
                         if c.startswith("a.") or c in ("_ak", "_av", "_noattr")})
        cols["_assumed"] = pa.nulls(n, pa.string())
        cols["_err"] = pa.nulls(n, pa.string())
        fast = pa.table(cols)
        if not unsure.any():
            return fast
        slow = self._sql(tbl.filter(pa.array(unsure)), F.normalise_sql(inner, opts, fmt, observed), name)
        keep = fast.filter(pa.array(~unsure))
        slow = slow.select(keep.column_names).cast(keep.schema)
        both = pa.concat_tables([keep, slow])
        return both.take(pc.sort_indices(both.column("_i")))  # the input's order

    # ------------------------------------------------------------- OTLP
    def _ingest_otlp(self, data: bytes, opts: F.ParseOptions, res: SourceResult) -> SourceResult:
        observed = datetime.now(UTC)
        res.bytes = len(data)
        res.lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        for line, doc, err in otlp.documents(data):
            if err:
                res.events += 1
                self._bad(res, line, "otlp", err, b"")
                continue
            rows = otlp.parse_document(doc, observed, int(opts.max_future_s * 1e9))
            for r in rows.logs:
                if opts.service and r["ServiceName"] == "unknown_service":
                    r["ServiceName"] = opts.service
                r["ResourceAttributes"] = {**r["ResourceAttributes"], "log.file.path": opts.source,
                                           "opsnb.format": "otlp"}
            res.events += len(rows.logs) + len(rows.spans) + len(rows.bad)
            for reason, raw in rows.bad:
                self._bad(res, line, "otlp", reason, raw.encode()[:65_536])
            if rows.logs:
                res.stored += len(rows.logs)
                self._add_good(otlp.logs_table(rows.logs))
            if rows.spans:
                res.spans += len(rows.spans)
                self._spans.append(otlp.spans_table(rows.spans))
        return res


# ------------------------------------------------------------------ helpers
def _safe_read(stream: Any) -> bytes:
    try:
        return stream.read(16 << 20) or b""
    except (EOFError, OSError):
        return b""


def _read_all(stream: Any, res: SourceResult, limit: int = 1 << 30) -> bytes:
    out = bytearray()
    while True:
        try:
            block = stream.read(16 << 20)
        except (EOFError, OSError) as exc:
            res.error = f"damaged input: {exc}"
            break
        if not block:
            break
        out += block
        if len(out) > limit:
            raise ValidationError(f"{res.source}: OTLP/JSON input over {limit:,} bytes; split it",
                                  field="source")
    return bytes(out)


def _replace_invalid(data: bytes, starts: np.ndarray, ends: np.ndarray, lines: set[int]) -> bytes:
    parts = []
    pos = 0
    for i in sorted(lines):
        s, e = int(starts[i]), int(ends[i])
        parts.append(data[pos:s])
        parts.append(data[s:e].decode("utf-8", errors="replace").encode())
        pos = e
    parts.append(data[pos:])
    return b"".join(parts)


def _flag_rows(tbl: pa.Table, flag: pa.ChunkedArray | pa.Array, key: str, value: str) -> pa.Table:
    attrs = tbl.column("LogAttributes").to_pylist()
    mask = flag.to_pylist() if hasattr(flag, "to_pylist") else list(flag)
    for k, f in enumerate(mask):
        if f:
            attrs[k] = [*(attrs[k] or []), (key, value)]
    col = pa.array(attrs, pa.map_(pa.string(), pa.string()))
    return tbl.set_column(tbl.column_names.index("LogAttributes"), "LogAttributes", col)
