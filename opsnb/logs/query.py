"""Log queries: time ranges, filters to SQL, and LogQL-like metrics as tidy DataFrames.

Every query names a time range (absolute, or relative to now like ``"-1h"``), so
only the day partitions it touches are read. Filters become parameterised SQL
(never text glued from input). Metrics bucket on ``epoch_us(Timestamp)`` integers,
the fastest grouping DuckDB has (see stack-notes), and return one row per bucket
(and group), empty buckets filled with zeros so plots show the gaps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsnb.errors import ValidationError
from opsnb.logs.error_event import ERROR_SQL  # the one definition of an error event
from opsnb.store.lake import SCHEMAS
from opsnb.timeparse import parse_duration, parse_range

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.store.lake import Lake

LOG_COLUMNS = tuple(SCHEMAS["logs"].names)
SEVERITIES = {"trace": 1, "debug": 5, "info": 9, "notice": 10, "warn": 13, "warning": 13,
              "error": 17, "err": 17, "fatal": 21, "critical": 21, "crit": 21}


# --------------------------------------------------------------------- time
# One grammar for every time argument (opsnb.timeparse); `since` is the start of a range,
# so a bare duration there ("1h") means that long ago, as it does on every CLI flag.
def time_range(since: Any, until: Any = None, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC from the time grammar; start must come before end (``until`` None is now)."""
    return parse_range(since, until, now=now)


# ------------------------------------------------------------------ filters
def column_sql(name: str) -> str:
    """A lake column by name, or a log/resource attribute by key (``LogAttributes['key']``)."""
    if name in LOG_COLUMNS:
        return f'"{name}"'
    key = name.removeprefix("attr.").removeprefix("attributes.")
    if not key or "'" in key and len(key) > 200:
        raise ValidationError(f"bad field name {name!r}", field="field")
    lit = "'" + key.replace("'", "''") + "'"
    return f'coalesce("LogAttributes"[{lit}], "ResourceAttributes"[{lit}])'


def severity_number(value: Any) -> int:
    """Minimum SeverityNumber for ``"error"``, ``"warn"``, ... or a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    key = str(value).strip().lower()
    if key in SEVERITIES:
        return SEVERITIES[key]
    if key.isdigit():
        return int(key)
    raise ValidationError(f"unknown severity {value!r}; use one of {', '.join(sorted(SEVERITIES))} or a number",
                          field="severity", value=str(value))


def _listify(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple | set | frozenset) else [v]


@dataclass
class LogFilter:
    """What rows a query keeps. Every field is optional except the time range."""

    start: datetime
    end: datetime
    service: str | Sequence[str] | None = None
    severity: str | int | None = None
    host: str | Sequence[str] | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    contains: str | Sequence[str] | None = None
    regex: str | None = None
    trace_id: str | Sequence[str] | None = None
    correlation_id: str | None = None
    status: int | str | Sequence[int] | None = None
    method: str | None = None
    route: str | None = None
    errors_only: bool = False

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE clause (without the keyword) and its parameters."""
        where = ['"Timestamp" >= ?', '"Timestamp" < ?']
        params: list[Any] = [self.start, self.end]

        def one_of(col: str, values: Any) -> None:
            vals = _listify(values)
            where.append(f"{col} IN ({', '.join('?' for _ in vals)})")
            params.extend(vals)

        if self.service is not None:
            one_of('"ServiceName"', self.service)
        if self.host is not None:
            one_of('"HostName"', self.host)
        if self.severity is not None:
            where.append('"SeverityNumber" >= ?')
            params.append(severity_number(self.severity))
        for key, val in (self.attrs or {}).items():
            one_of(column_sql(str(key)), [str(v) for v in _listify(val)])
        for text in _listify(self.contains) if self.contains is not None else []:
            where.append('contains("Body", ?)')
            params.append(str(text))
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValidationError(f"regex {self.regex!r} is not valid: {exc}", field="regex") from None
            where.append('regexp_matches("Body", ?)')
            params.append(self.regex)
        if self.trace_id is not None:
            one_of('"TraceId"', [str(t).lower() for t in _listify(self.trace_id)])
        if self.correlation_id is not None:
            cid = str(self.correlation_id)
            keys = ("correlation_id", "correlation.id", "request_id", "request.id", "x-request-id", "req_id")
            alts = ['"TraceId" = ?'] + [f'"LogAttributes"[\'{k}\'] = ?' for k in keys] + ['contains("Body", ?)']
            where.append("(" + " OR ".join(alts) + ")")
            params.extend([cid.lower()] + [cid] * len(keys) + [cid])
        if self.status is not None:
            vals = _listify(self.status)
            if len(vals) == 1 and isinstance(vals[0], str) and re.fullmatch(r"[1-5]xx", vals[0].lower()):
                base = int(vals[0][0]) * 100
                where.append('"HttpStatus" BETWEEN ? AND ?')
                params.extend([base, base + 99])
            else:
                one_of('"HttpStatus"', [int(v) for v in vals])
        if self.method is not None:
            one_of('"HttpMethod"', str(self.method).upper())
        if self.route is not None:
            one_of('"HttpRoute"', self.route)
        if self.errors_only:
            where.append(ERROR_SQL)
        return " AND ".join(where), params


def make_filter(since: Any, until: Any = None, **kw: Any) -> LogFilter:
    """A :class:`LogFilter` from the keyword arguments every query method takes."""
    start, end = time_range(since, until)
    unknown = set(kw) - set(LogFilter.__dataclass_fields__)
    if unknown:
        raise ValidationError(f"unknown filter {sorted(unknown)[0]!r}; filters: "
                              + ", ".join(sorted(set(LogFilter.__dataclass_fields__) - {"start", "end"})),
                              field=sorted(unknown)[0])
    return LogFilter(start=start, end=end, **{k: v for k, v in kw.items() if v is not None or k == "attrs"})


# ------------------------------------------------------------------ queries
def select(lake: Lake, flt: LogFilter, *, columns: Sequence[str] | None = None, limit: int | None = 10_000,
           order: str = "asc") -> pd.DataFrame:
    """Rows matching ``flt``, oldest first (``order="desc"``: newest first)."""
    if order not in ("asc", "desc"):
        raise ValidationError(f"order must be 'asc' or 'desc', got {order!r}", field="order")
    cols = list(columns) if columns else list(LOG_COLUMNS)
    bad = [c for c in cols if c not in LOG_COLUMNS]
    if bad:
        raise ValidationError(f"unknown column {bad[0]!r}; columns: {', '.join(LOG_COLUMNS)}", field="columns")
    where, params = flt.sql()
    sql = (f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)} FROM logs WHERE {where} "
           f'ORDER BY "Timestamp" {order.upper()}')
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return run(lake, sql, params, flt)


def run(lake: Lake, sql: str, params: Sequence[Any], flt: LogFilter) -> pd.DataFrame:
    """Run SQL over ``logs`` reading only the day partitions of the filter's range."""
    from opsnb.errors import LakeError

    try:
        return lake.query(sql, list(params), start=flt.start, end=flt.end, tables=["logs"])
    except LakeError:
        raise
    except Exception as exc:  # DuckDB's errors: a bad regex or field reaches here
        raise ValidationError(f"log query failed: {exc}", field="query") from None


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _group_cols(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _group_sql(by: list[str]) -> tuple[str, str]:
    """SELECT items and GROUP BY items for the group columns."""
    if not by:
        return "", ""
    items = [f"{column_sql(b)} AS {ident(b)}" for b in by]
    return ", " + ", ".join(items), ", " + ", ".join(ident(b) for b in by)


def metric(lake: Lake, flt: LogFilter, aggregates: str, *, every: Any = "1m",
           by: str | Sequence[str] | None = None, fill: Mapping[str, Any] | None = None,
           extra_where: str = "") -> pd.DataFrame:
    """Aggregates per time bucket (and group): the engine of count/rate/error_ratio/quantiles."""
    import numpy as np
    import pandas as pd

    step = parse_duration(every, name="every")
    step_us = int(step.total_seconds() * 1_000_000)
    if step_us <= 0:
        raise ValidationError(f"every must be positive, got {every!r}", field="every")
    groups = _group_cols(by)
    gsel, ggrp = _group_sql(groups)
    where, params = flt.sql()
    if extra_where:
        where += f" AND {extra_where}"
    sql = (f'SELECT epoch_us("Timestamp") // {step_us} AS _b{gsel}, {aggregates} FROM logs '
           f"WHERE {where} GROUP BY _b{ggrp}")
    df = run(lake, sql, params, flt)
    first = int(flt.start.timestamp() * 1_000_000) // step_us
    last = (int(flt.end.timestamp() * 1_000_000) - 1) // step_us
    buckets = np.arange(first, last + 1, dtype=np.int64)
    if fill is not None and len(buckets) <= 200_000:
        if groups:
            keys = df[groups].drop_duplicates()
            grid = keys.merge(pd.DataFrame({"_b": buckets}), how="cross")
        else:
            grid = pd.DataFrame({"_b": buckets})
        df = grid.merge(df, on=["_b", *groups], how="left")
        for col, val in fill.items():
            if col in df:
                df[col] = df[col].fillna(val)
    df.insert(0, "time", pd.to_datetime(df.pop("_b").astype("int64") * step_us, unit="us", utc=True))
    return df.sort_values(["time", *groups]).reset_index(drop=True)


def count(lake: Lake, flt: LogFilter, *, every: Any = "1m", by: Any = None) -> pd.DataFrame:
    """Rows per bucket: ``time, [by...], count``."""
    df = metric(lake, flt, "count(*) AS count", every=every, by=by, fill={"count": 0})
    df["count"] = df["count"].astype("int64")
    return df


def rate(lake: Lake, flt: LogFilter, *, every: Any = "1m", by: Any = None) -> pd.DataFrame:
    """Rows per second in each bucket: ``time, [by...], count, rate``."""
    df = count(lake, flt, every=every, by=by)
    df["rate"] = df["count"] / parse_duration(every, name="every").total_seconds()
    return df


def error_ratio(lake: Lake, flt: LogFilter, *, every: Any = "1m", by: Any = None) -> pd.DataFrame:
    """``time, [by...], total, errors, error_ratio`` (errors: severity ERROR+ or HTTP 5xx)."""
    df = metric(lake, flt, f"count(*) AS total, count(*) FILTER (WHERE {ERROR_SQL}) AS errors",
                every=every, by=by, fill={"total": 0, "errors": 0})
    df["total"] = df["total"].astype("int64")
    df["errors"] = df["errors"].astype("int64")
    df["error_ratio"] = (df["errors"] / df["total"].where(df["total"] > 0)).astype("float64")
    return df


def quantiles(lake: Lake, flt: LogFilter, *, field: str = "DurationMs", q: Sequence[float] = (0.5, 0.9, 0.99),
              every: Any = "1m", by: Any = None) -> pd.DataFrame:
    """Exact quantiles of a numeric field per bucket: ``time, [by...], count, p50, p90, p99``."""
    qs = [float(x) for x in q]
    if not qs or any(not 0 <= x <= 1 for x in qs):
        raise ValidationError(f"quantiles must lie in [0, 1], got {list(q)}", field="q")
    col = column_sql(field)
    expr = f"try_cast({col} AS DOUBLE)"
    names = [_qname(x) for x in qs]
    agg = f"count({expr}) AS count, quantile_cont({expr}, [{', '.join(repr(x) for x in qs)}]) AS _q"
    df = metric(lake, flt, agg, every=every, by=by, fill={"count": 0}, extra_where=f"{expr} IS NOT NULL")
    qv = df.pop("_q")
    for k, name in enumerate(names):
        df[name] = [nth(v, k) for v in qv]
    df["count"] = df["count"].astype("int64")
    return df


def nth(values: Any, k: int) -> float:
    """Item ``k`` of a quantile list cell, NaN for an empty bucket."""
    if values is None or isinstance(values, float) or not hasattr(values, "__getitem__"):
        return float("nan")  # None, NaN or pandas.NA: no value in the bucket
    v = values[k]
    return float("nan") if v is None or v is getattr(__import__("pandas"), "NA", None) else float(v)


def _qname(x: float) -> str:
    pct = x * 100
    return f"p{int(pct)}" if pct == int(pct) else f"p{pct:g}".replace(".", "_")


def topk(lake: Lake, flt: LogFilter, *, field: str, k: int = 10, by: Any = None) -> pd.DataFrame:
    """The ``k`` most frequent values of a field (per group): ``[by...], <field>, count, share``."""
    if k < 1:
        raise ValidationError(f"k must be at least 1, got {k}", field="k")
    groups = _group_cols(by)
    gsel, ggrp = _group_sql(groups)
    col = column_sql(field)
    fid = ident(field)
    where, params = flt.sql()
    part = f"PARTITION BY {', '.join(ident(g) for g in groups)}" if groups else ""
    sql = f"""
      SELECT * EXCLUDE (_rn) FROM (
        SELECT *, row_number() OVER ({part} ORDER BY count DESC, {fid}) AS _rn,
               count / sum(count) OVER ({part}) AS share
        FROM (SELECT {col} AS {fid}{gsel}, count(*) AS count FROM logs WHERE {where}
              GROUP BY {fid}{ggrp}))
      WHERE _rn <= {int(k)} ORDER BY {', '.join([*(ident(g) for g in groups), 'count DESC'])}"""
    return run(lake, sql, params, flt).reset_index(drop=True)
