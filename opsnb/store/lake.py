"""The event lake: append-only Parquet segments, hive-partitioned by day.

Layout: ``<root>/<table>/date=YYYY-MM-DD/<segment>.parquet``. A writer writes an
Arrow table to ``<root>/.tmp/`` and renames it into its day, so a reader sees a
segment whole or not at all, with no lock and no server, from any process.

Compaction merges a closed day's segments into ``c-<id>.parquet``. Before that
file is renamed in, a sidecar ``c-<id>.replaces`` (JSON list of the merged
segment names) is put beside it. Readers list a day, drop every segment named
by a sidecar whose compacted file is present, and read the rest, so an event
is never read twice nor missed while compaction runs. A sidecar is written
before its compacted file appears and is removed only after that file is gone,
so any listing that sees a compacted file sees its sidecar too. A reader whose
file vanished under it (compaction, retention) lists again and retries.

Columns follow OpenTelemetry names so the files load in any Parquet engine.
Reads go through DuckDB: one in-memory database per Lake, a cursor per query.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opsnb.errors import LakeError, NotFound, ValidationError
from opsnb.registry import Registry

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

TS = pa.timestamp("us", tz="UTC")
STRMAP = pa.map_(pa.string(), pa.string())

_BUILTIN_SCHEMAS: dict[str, pa.Schema] = {
    "logs": pa.schema([
        ("Timestamp", TS),
        ("ObservedTimestamp", TS),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("SeverityNumber", pa.int32()),
        ("SeverityText", pa.string()),
        ("ServiceName", pa.string()),
        ("HostName", pa.string()),
        ("Body", pa.string()),
        ("HttpMethod", pa.string()),
        ("HttpRoute", pa.string()),
        ("HttpStatus", pa.int32()),
        ("DurationMs", pa.float64()),
        ("ResourceAttributes", STRMAP),
        ("LogAttributes", STRMAP),
        # Added later, last so older segments keep their column order (read as null there).
        # Names as the OpenTelemetry Collector's ClickHouse exporter writes them.
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("EventName", pa.string()),
    ]),
    "spans": pa.schema([
        ("Timestamp", TS),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ParentSpanId", pa.string()),
        ("SpanName", pa.string()),
        ("SpanKind", pa.string()),
        ("ServiceName", pa.string()),
        ("Duration", pa.int64()),  # nanoseconds, as OpenTelemetry
        ("StatusCode", pa.string()),  # Unset | Ok | Error
        ("StatusMessage", pa.string()),
        ("ResourceAttributes", STRMAP),
        ("SpanAttributes", STRMAP),
        ("ScopeName", pa.string()),  # added later, as in logs
        ("ScopeVersion", pa.string()),
    ]),
    "metrics": pa.schema([
        ("Timestamp", TS),
        ("MetricName", pa.string()),
        ("ServiceName", pa.string()),
        ("HostName", pa.string()),
        ("Value", pa.float64()),
        ("Attributes", STRMAP),
    ]),
    "quarantine": pa.schema([
        ("Timestamp", TS),  # when the line was read
        ("Source", pa.string()),
        ("Line", pa.int64()),
        ("Format", pa.string()),
        ("Reason", pa.string()),
        ("Raw", pa.binary()),
    ]),
}


def _adapt_schema(name: str, schema: object) -> pa.Schema:
    # The name is a folder of the lake and a DuckDB view: one spelling only.
    if not isinstance(schema, pa.Schema):
        raise TypeError(f"expected a pyarrow.Schema, got {type(schema).__name__}")
    if name != name.lower() or not name.replace("_", "").isalnum():
        raise TypeError(f"lake table name {name!r} must be lowercase letters, digits and '_'")
    if "Timestamp" not in schema.names:
        raise ValidationError(f"lake table {name!r} needs a Timestamp column", field="schema")
    return schema


TABLES: Registry[pa.Schema] = Registry("lake table", group="opsnb.lake_tables", adapt=_adapt_schema)
"""Every lake table's schema (entry-point group ``opsnb.lake_tables``)."""
SCHEMAS = TABLES  # the name readers use: ``SCHEMAS["logs"]``, ``name in SCHEMAS``
for _name, _schema in _BUILTIN_SCHEMAS.items():
    TABLES.register(_name, _schema, origin="opsnb")


def register_table(name: str, schema: pa.Schema, *, replace: bool = False) -> None:
    """Declare a lake table (``TABLES.register``). Its schema must have a ``Timestamp`` column (UTC)."""
    TABLES.register(name, schema, replace=replace)


def table_name(name: str) -> str:
    """A registered table's name, exactly as its folder is spelled.

    Raises:
        LakeError: No such table (with a did-you-mean).
    """
    try:
        canonical = TABLES.canonical(name)
    except NotFound as exc:
        raise LakeError(str(exc), table=name) from None
    if canonical != name:
        raise LakeError(f"lake table {name!r} is spelled {canonical!r}", table=name)
    return canonical


@dataclass(frozen=True)
class WriteResult:
    """What one :meth:`Lake.write` stored."""

    table: str
    rows: int
    segments: tuple[str, ...]


def _day_dir(day: date) -> str:
    return f"date={day.isoformat()}"


def _utc_frame(df: pd.DataFrame) -> pd.DataFrame:
    """DuckDB hands back zone ``Etc/UTC``; opsnb promises plain ``UTC`` columns."""
    for col in df.columns:
        tz = getattr(df[col].dtype, "tz", None)
        if tz is not None and str(tz) != "UTC":
            df[col] = df[col].dt.tz_convert("UTC")
    return df


def _is_vanished(exc: Exception) -> bool:
    text = str(exc).lower()
    return "no such file" in text or "no files found" in text or "cannot open file" in text


# Columns with few distinct values (names, levels, routes, map keys): dictionary encoded in Parquet.
DICTIONARY_COLUMNS = frozenset({"ObservedTimestamp", "SeverityNumber", "SeverityText", "ServiceName", "HostName",
                                "HttpMethod", "HttpRoute", "HttpStatus", "SpanName", "SpanKind", "StatusCode",
                                "MetricName", "Source", "Format", "ScopeName", "ScopeVersion", "EventName"})


# Columns whose min/max prune nothing (random ids, free text) and cost about a seventh of a log
# write to compute: no Parquet statistics. Map columns get none either.
NO_STATISTICS = frozenset({"TraceId", "SpanId", "ParentSpanId", "Body", "StatusMessage", "Raw"})


def _statistics_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if f.name not in NO_STATISTICS and not pa.types.is_map(f.type)]


def _write_parquet(tbl: pa.Table, path: Path) -> None:
    """One segment as the lake writes them (new segments and compacted ones alike)."""
    # Dictionary encoding only where values repeat: on ids, bodies and stamps it costs
    # CPU (about a third of the write) and saves nothing.
    # Time stamps are near-sorted: delta encoding stores them in about 20 % less space than plain
    # zstd and scans them 3-4x faster (a per-minute error rate over 10 M rows: 0.25 s -> 0.16 s).
    delta = {"Timestamp": "DELTA_BINARY_PACKED"} if "Timestamp" in tbl.schema.names else None
    pq.write_table(tbl, path, compression="zstd", row_group_size=256_000,
                   use_dictionary=_dictionary_columns(tbl.schema), write_statistics=_statistics_columns(tbl.schema),
                   column_encoding=delta)


def _by_day(tbl: pa.Table, days: pa.ChunkedArray, unique: list[int]) -> Iterator[tuple[int, pa.Table]]:
    """The rows of each day: zero-copy slices when the days run in order (logs mostly do), else filters."""
    if len(unique) == 1:
        yield unique[0], tbl
        return
    d = days.to_numpy()
    step = np.diff(d)
    if (step >= 0).all():
        cuts = np.flatnonzero(step) + 1
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(d)], strict=True):
            yield int(d[lo]), tbl.slice(lo, hi - lo)
        return
    for day in sorted(unique):
        yield day, tbl.filter(pc.equal(days, day))


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    out = [f.name for f in schema if f.name in DICTIONARY_COLUMNS]
    for f in schema:
        if pa.types.is_map(f.type):
            out.append(f"{f.name}.key_value.key")
            if f.name == "ResourceAttributes":
                out.append(f"{f.name}.key_value.value")
    return out


class Lake:
    """The event lake of a workspace (``ops.lake``).

    Args:
        root: Directory of the lake (``<workspace>/lake``).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._null_rows: dict[str, tuple[pa.Schema, str]] = {}

    # ----------------------------------------------------------------- writing
    def _conform(self, table: str, data: Any) -> pa.Table:
        schema = SCHEMAS[table_name(table)]
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        elif not isinstance(data, pa.Table):
            data = pa.Table.from_pandas(data, preserve_index=False)
        extra = [c for c in data.column_names if c not in schema.names]
        if extra:
            raise LakeError(f"columns not in lake table {table!r}: {', '.join(extra)}", table=table)
        cols = []
        for field in schema:
            if field.name in data.column_names:
                col = data.column(field.name)
                if not col.type.equals(field.type):
                    try:
                        col = col.cast(field.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                        raise LakeError(
                            f"column {field.name} of {table!r} cannot be {field.type}: {exc}", table=table
                        ) from None
                cols.append(col)
            else:
                cols.append(pa.nulls(data.num_rows, field.type))
        out = pa.Table.from_arrays(cols, schema=schema)
        if out.num_rows and out.column("Timestamp").null_count:
            raise LakeError(f"{out.column('Timestamp').null_count} rows of {table!r} have no Timestamp", table=table)
        return out

    def write(self, table: str, data: pa.Table | pa.RecordBatch | pd.DataFrame, *,
              pending: tuple[str, int] | None = None) -> WriteResult:
        """Append rows as one segment per day they touch. Atomic and durable per segment.

        Each segment is written to a temporary file named with the writer's pid, fsynced,
        renamed into its day and the day folder fsynced, so a power loss never leaves a named
        but empty segment.

        Args:
            table: Lake table name (``logs``, ``spans``, ``metrics``, ``quarantine``, ...).
            data: Rows with the table's columns; missing nullable columns are filled with nulls.
            pending: ``(source, seq)``: write the segments as pending parts of that ingest batch,
                invisible until :meth:`opsnb.store.checkpoints.Checkpoints.commit` commits it.
        """
        from opsnb.store.checkpoints import fsync_dir, fsync_file, pending_name

        tbl = self._conform(table, data)
        if tbl.num_rows == 0:
            return WriteResult(table, 0, ())
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        # Floor division: a stamp before 1970 belongs to the day before the one truncation gives.
        us = tbl.column("Timestamp").cast(pa.int64())
        days = pc.divide(pc.subtract(us, pc.if_else(pc.less(us, 0), 86_400_000_000 - 1, 0)), 86_400_000_000)
        unique = pc.unique(days).to_pylist()
        written: list[str] = []
        for d, part in _by_day(tbl, days, unique):
            day = date(1970, 1, 1) + timedelta(days=int(d))
            dest_dir = self.root / table / _day_dir(day)
            dest_dir.mkdir(parents=True, exist_ok=True)
            stem = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
            name = f"{stem}.parquet" if pending is None else pending_name(stem, *pending)
            tmp = tmp_dir / f"p{os.getpid()}-{stem}.tmp"
            try:
                _write_parquet(part, tmp)
                fsync_file(tmp)
                os.replace(tmp, dest_dir / name)
                fsync_dir(dest_dir)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise LakeError(f"writing {table} segment to {dest_dir}: {exc}", table=table,
                                path=str(dest_dir)) from None
            written.append(str(dest_dir / name))
        return WriteResult(table, tbl.num_rows, tuple(written))

    # ----------------------------------------------------------------- listing
    def days(self, table: str) -> list[date]:
        """Days that hold segments of ``table``."""
        base = self.root / table
        if not base.is_dir():
            return []
        out = []
        for p in base.iterdir():
            if p.name.startswith("date="):
                try:
                    out.append(date.fromisoformat(p.name[5:]))
                except ValueError:
                    continue
        return sorted(out)

    def _live(self, day_dir: Path) -> list[Path]:
        try:
            names = set(os.listdir(day_dir))
        except FileNotFoundError:
            return []
        replaced: set[str] = set()
        for n in names:
            if n.endswith(".replaces") and n[: -len(".replaces")] + ".parquet" in names:
                try:
                    replaced.update(json.loads((day_dir / n).read_text()))
                except (OSError, ValueError):
                    continue
        live = [day_dir / n for n in names if n.endswith(".parquet") and n not in replaced]
        if any(n.endswith(".pending") for n in names):
            live += self._committed_pending(day_dir, names)
        return sorted(live)

    def _committed_pending(self, day_dir: Path, names: set[str]) -> list[Path]:
        """Pending ingest segments whose batch is committed (a writer is between commit and rename)."""
        from opsnb.store.checkpoints import Checkpoints, parse_pending

        cps = Checkpoints(self.root)
        seqs: dict[str, int | None] = {}
        out = []
        for n in names:
            if not n.endswith(".pending"):
                continue
            stem, source, seq = parse_pending(n)
            final = f"{stem}.parquet"
            if final in names:
                continue
            if source not in seqs:
                seqs[source] = cps.seq(source)
            if seqs[source] == seq:
                out.append(day_dir / n)
            elif (day_dir / final).exists():  # renamed (and maybe a later batch committed) since listed
                out.append(day_dir / final)
        return out

    def files(self, table: str, start: datetime | None = None, end: datetime | None = None) -> list[str]:
        """Live segment paths of ``table``, limited to the days overlapping ``[start, end)``."""
        lo = start.astimezone(UTC).date() if start else None
        hi = end.astimezone(UTC).date() if end else None
        out: list[str] = []
        for day in self.days(table):
            if (lo and day < lo) or (hi and day > hi):
                continue
            out.extend(str(p) for p in self._live(self.root / table / _day_dir(day)))
        return out

    # ----------------------------------------------------------------- reading
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """A fresh cursor on this Lake's in-memory DuckDB (thread-safe to use from one thread)."""
        import duckdb

        with self._lock:
            if self._duck is None:
                con = duckdb.connect(":memory:")
                con.execute("SET TimeZone = 'UTC'")
                self._duck = con
            return self._duck.cursor()

    def relation_sql(self, table: str, start: datetime | None = None, end: datetime | None = None) -> str:
        """A SQL expression reading ``table`` (empty-typed when it has no segments)."""
        files = self.files(table, start, end)
        if not files:
            return ""
        quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        scan = f"read_parquet([{quoted}], union_by_name = true, hive_partitioning = false)"
        # A column added to the schema after a day's segments were written is in none of them:
        # union with a typed empty row set so it reads as null (costs nothing measurable).
        return f"(SELECT * FROM {scan} UNION ALL BY NAME SELECT {self._null_row(table)} WHERE false)"

    def _null_row(self, table: str) -> str:
        """``CAST(NULL AS <type>) AS "<column>", ...`` for every column of ``table``'s schema."""
        schema = SCHEMAS[table]
        cached = self._null_rows.get(table)
        if cached is not None and cached[0].equals(schema):
            return cached[1]
        cur = self.duckdb()
        try:
            types = cur.from_arrow(schema.empty_table()).types
        finally:
            cur.close()
        names = ['"' + f.name.replace('"', '""') + '"' for f in schema]
        sql = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in zip(names, types, strict=True))
        self._null_rows[table] = (schema, sql)
        return sql

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
              start: datetime | None = None, end: datetime | None = None,
              tables: Iterable[str] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL where lake tables appear by name (``SELECT count(*) FROM logs``).

        Args:
            sql: The query; every lake table named in it is a view over its live segments.
            params: Query parameters (``?`` or ``$name``).
            start: Only read day partitions from this day (the query must still filter rows).
            end: Only read day partitions up to this day.
            tables: Lake tables to expose; default every table whose name appears in ``sql``.
        """
        return self._run(sql, params, start, end, tables, lambda rel: _utc_frame(rel.df()))

    def arrow(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
              start: datetime | None = None, end: datetime | None = None,
              tables: Iterable[str] | None = None) -> pa.Table:
        """Like :meth:`query`, returning an Arrow table."""
        return self._run(sql, params, start, end, tables, lambda rel: rel.to_arrow_table())

    def _run(self, sql: str, params: Any, start: datetime | None, end: datetime | None,
             tables: Iterable[str] | None, fetch: Any) -> Any:
        import duckdb

        names = list(tables) if tables is not None else [t for t in SCHEMAS if t in sql]
        for attempt in range(5):
            cur = self.duckdb()
            try:
                for name in names:
                    rel = self.relation_sql(name, start, end)
                    if rel:
                        cur.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM {rel}')
                    else:
                        cur.register(name, SCHEMAS[name].empty_table())
                # A relation (not a DB-API result) converts to Arrow without an extra copy.
                result = cur.sql(sql, params=params) if params is not None else cur.sql(sql)
                return fetch(result)
            except duckdb.IOException as exc:
                # A segment vanished between listing and reading (compaction or retention).
                if _is_vanished(exc) and attempt < 4:
                    continue
                raise LakeError(f"reading the lake: {exc}") from None
            finally:
                cur.close()
        raise AssertionError("unreachable")

    def count(self, table: str) -> int:
        """Rows in ``table``."""
        return int(self.query(f'SELECT count(*) AS n FROM "{table}"', tables=[table])["n"].iloc[0])

    # ------------------------------------------------------------ maintenance
    def compact(self, table: str, *, min_segments: int = 8, before: date | None = None) -> int:
        """Merge the segments of each closed day (before today, UTC) that has at least ``min_segments``.

        Returns:
            Number of days compacted.
        """
        from opsnb.store.checkpoints import sweep_tmp

        cutoff = before or datetime.now(UTC).date()
        done = 0
        sweep_tmp(self.root / ".tmp")
        self.sweep_pending([table])
        for day in self.days(table):
            if day >= cutoff:
                continue
            day_dir = self.root / table / _day_dir(day)
            self._sweep(day_dir)
            # A pending segment is an ingest between commit and rename: left to its writer.
            live = [p for p in self._live(day_dir) if p.suffix == ".parquet"]
            if len(live) < max(min_segments, 2):
                continue
            merged = pa.concat_tables([pq.read_table(p, schema=SCHEMAS[table]) for p in live])
            merged = merged.sort_by("Timestamp")
            cid = f"c-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
            tmp_dir = self.root / ".tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            tmp = tmp_dir / f"p{os.getpid()}-{cid}.parquet.tmp"
            _write_parquet(merged, tmp)
            side_tmp = tmp_dir / f"p{os.getpid()}-{cid}.replaces.tmp"
            side_tmp.write_text(json.dumps([p.name for p in live]))
            os.replace(side_tmp, day_dir / f"{cid}.replaces")
            os.replace(tmp, day_dir / f"{cid}.parquet")
            for p in live:
                p.unlink(missing_ok=True)
            done += 1
        return done

    def maintain(self, *, tables: Iterable[str] | None = None, min_segments: int | None = 8,
                 retention_days: int | None = None) -> dict[str, dict[str, Any]]:
        """Compact and/or apply retention to several tables (``None`` skips that step).

        Returns:
            Per table: ``compacted`` (days merged) and ``deleted`` (days removed).
        """
        names = list(tables) if tables else [t for t in SCHEMAS if (self.root / t).is_dir()]
        for t in names:
            table_name(t)
        out: dict[str, dict[str, Any]] = {}
        for t in names:
            deleted = self.retain(t, days=retention_days) if retention_days is not None else []
            compacted = self.compact(t, min_segments=min_segments) if min_segments is not None else 0
            out[t] = {"compacted": compacted, "deleted": deleted}
        return out

    def stats(self) -> list[dict[str, Any]]:
        """Per table: rows, live segments, days and bytes on disk."""
        out = []
        for t in SCHEMAS:
            files = self.files(t)
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            out.append({"table": t, "rows": rows, "segments": len(files), "days": len(self.days(t)),
                        "bytes": sum(os.path.getsize(f) for f in files)})
        return out

    def sweep_pending(self, tables: Iterable[str]) -> int:
        """Finish or delete the pending ingest segments of dead writers (a source whose lock is free).

        Returns:
            Uncommitted pending segments deleted.
        """
        from opsnb.store.checkpoints import Checkpoints, parse_pending

        names = list(tables)
        sources: set[str] = set()
        for t in names:
            base = self.root / t
            if not base.is_dir():
                continue
            for day in base.iterdir():
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    sources.update(parse_pending(n)[1] for n in os.listdir(day) if n.endswith(".pending"))
        cps = Checkpoints(self.root)
        removed = 0
        for source in sorted(sources):
            with cps.try_lock(source) as held:
                if held:
                    removed += cps.recover(source, list(SCHEMAS))
        return removed

    def _sweep(self, day_dir: Path) -> None:
        """Finish what an interrupted compaction left: replaced segments, stale sidecars."""
        names = set(os.listdir(day_dir))
        for n in names:
            if not n.endswith(".replaces"):
                continue
            side = day_dir / n
            if n[: -len(".replaces")] + ".parquet" in names:
                for old in json.loads(side.read_text()):
                    (day_dir / old).unlink(missing_ok=True)
            elif time.time() - side.stat().st_mtime > 3600:
                side.unlink(missing_ok=True)

    def retain(self, table: str, *, days: int, today: date | None = None) -> list[date]:
        """Delete whole day partitions older than ``days`` days. Returns the days deleted."""
        if days < 1:
            raise ValidationError(f"retention must keep at least 1 day, got {days}", field="days", value=days)
        cutoff = (today or datetime.now(UTC).date()) - timedelta(days=days)
        gone = []
        trash = self.root / ".trash"
        for day in self.days(table):
            if day < cutoff:
                trash.mkdir(parents=True, exist_ok=True)
                dest = trash / f"{table}-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
                os.replace(self.root / table / _day_dir(day), dest)  # atomic: readers see all or nothing
                shutil.rmtree(dest, ignore_errors=True)
                gone.append(day)
        return gone
