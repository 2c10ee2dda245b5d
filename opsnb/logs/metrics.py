"""Request metrics of services from their access logs, for notebooks, dashboards and runbooks.

A **request** is a log event with an ``HttpStatus`` (an access log line, or an app
line that names the answer it gave); its latency is ``DurationMs``. An error is
what :mod:`opsnb.logs.error_event` says. Everything here runs on the bucketing
engine of :mod:`opsnb.logs.query` (``epoch_us`` integer buckets, day partitions
of the range only) and returns DataFrames with UTC time columns.

Example:
    >>> ops.logs.service_metrics(service="checkout", since="-2h", step="1m")   # doctest: +SKIP
    >>> ops.logs.service_summary(since="-1h")                                  # doctest: +SKIP
    >>> ops.logs.error_onset(service="checkout", since="-1h")                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsnb.errors import ValidationError
from opsnb.logs import query as Q
from opsnb.logs.error_event import ERROR_SQL
from opsnb.timeparse import parse_duration, parse_instant

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.store.lake import Lake

REQUEST_SQL = '"HttpStatus" IS NOT NULL'
"""Which log events are requests."""

QUANTILES = (0.5, 0.9, 0.99)
METRIC_COLUMNS = ["time", "service", "requests", "rate", "errors", "error_ratio"]
SUMMARY_COLUMNS = ["service", "requests", "requests_per_min", "errors", "error_ratio"]
POINT_COLUMNS = ["Timestamp", "MetricName", "ServiceName", "HostName", "Value"]


def _quantiles(q: Sequence[float]) -> tuple[list[float], list[str]]:
    qs = [float(x) for x in q]
    if not qs or any(not 0 <= x <= 1 for x in qs):
        raise ValidationError(f"quantiles must lie in [0, 1], got {list(q)}", field="quantiles")
    return qs, [Q._qname(x) for x in qs]


def _aggregates(qs: list[float]) -> str:
    return (f"count(*) AS requests, count(*) FILTER (WHERE {ERROR_SQL}) AS errors, "
            f'quantile_cont("DurationMs", [{", ".join(repr(x) for x in qs)}]) AS _q')


def _finish(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Integer counts, the error ratio (NaN without requests) and one column per quantile."""
    df["requests"] = df["requests"].astype("int64")
    df["errors"] = df["errors"].astype("int64")
    df["error_ratio"] = (df["errors"] / df["requests"].where(df["requests"] > 0)).astype("float64")
    qv = df.pop("_q")
    for k, name in enumerate(names):
        df[name] = [Q.nth(v, k) for v in qv]
    return df


def service_metrics(lake: Lake, *, since: Any, until: Any = "now", service: str | Sequence[str] | None = None,
                    step: Any = "1m", quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """Per bucket and service: requests, request rate, errors, error ratio, latency quantiles.

    Args:
        lake: The event lake.
        since: Start of the range (a datetime, ISO text or relative ``"-1h"``).
        until: End of the range (default now).
        service: One service (every bucket of the range is present, zeros where it was
            silent), several, or None for every service that answered requests.
        step: Bucket width (``"1m"``, ``"10m"``).
        quantiles: Latency quantiles of ``DurationMs`` (columns ``p50``, ``p90``, ``p99`` ...).

    Returns:
        DataFrame ``time, service, requests, rate, errors, error_ratio, p50, p90, p99``:
        ``rate`` is requests per second, ``error_ratio`` is NaN in a bucket without requests.
    """
    import pandas as pd

    qs, names = _quantiles(quantiles)
    flt = Q.make_filter(since, until, service=service)
    single = isinstance(service, str)
    df = Q.metric(lake, flt, _aggregates(qs), every=step, by=None if single else "ServiceName",
                  fill={"requests": 0, "errors": 0}, extra_where=REQUEST_SQL)
    if single:
        df.insert(1, "service", service)
    else:
        df = df.rename(columns={"ServiceName": "service"})
    df = _finish(df, names)
    df.insert(3, "rate", df["requests"] / parse_duration(step, name="step").total_seconds())
    out = df[[*METRIC_COLUMNS, *names]]
    return pd.DataFrame(out).sort_values(["time", "service"]).reset_index(drop=True)


def service_summary(lake: Lake, *, since: Any, until: Any = "now", service: str | Sequence[str] | None = None,
                    quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """One row per service over the whole range: requests, requests per minute, errors, ratio, quantiles.

    Returns:
        DataFrame ``service, requests, requests_per_min, errors, error_ratio, p50, p90, p99``,
        by service name.
    """
    qs, names = _quantiles(quantiles)
    flt = Q.make_filter(since, until, service=service)
    where, params = flt.sql()
    df = Q.run(lake, f'SELECT "ServiceName" AS service, {_aggregates(qs)} FROM logs '
                     f"WHERE {where} AND {REQUEST_SQL} GROUP BY 1 ORDER BY 1", params, flt)
    df = _finish(df, names)
    minutes = (flt.end - flt.start).total_seconds() / 60.0
    df.insert(2, "requests_per_min", df["requests"] / minutes)
    return df[[*SUMMARY_COLUMNS, *names]].reset_index(drop=True)


def last_seen(lake: Lake, *, service: str | None = None, before: Any = None) -> pd.Timestamp | None:
    """When the newest log event (of ``service``) was stamped, or None when there is none.

    Reads one day partition at a time, newest first, so the answer costs a day, not the lake.

    Args:
        lake: The event lake.
        service: Only this service's events.
        before: Only events stamped before this instant.
    """
    import pandas as pd

    end = parse_instant(before, name="before") if before is not None else None
    where: list[str] = []
    params: list[Any] = []
    if service is not None:
        where.append('"ServiceName" = ?')
        params.append(service)
    if end is not None:
        where.append('"Timestamp" < ?')
        params.append(end)
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    for day in reversed(lake.days("logs")):
        if end is not None and day > end.date():
            continue
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        got = lake.query(f'SELECT max("Timestamp") AS t FROM logs {cond}', params, start=lo,
                         end=lo + timedelta(hours=23), tables=["logs"])
        t = got["t"].iloc[0] if len(got) else None
        if t is not None and pd.notna(t):
            return pd.Timestamp(t).tz_convert("UTC")
    return None


def error_onset(lake: Lake, *, since: Any, until: Any = "now", service: str | None = None,
                step: Any = "1m", baseline: Any = "24h", min_ratio: float = 0.05,
                min_errors: float = 3.0) -> pd.Timestamp | None:
    """When the errors of a burst in ``[since, until)`` began: a CUSUM change point over request buckets.

    Each bucket adds its errors and takes away ``k`` per request, where ``k`` is the larger of
    ``min_ratio`` and three times the error ratio of the ``baseline`` period right before
    ``since``; the sum never drops below zero. A burst is a sum reaching ``min_errors``
    (errors beyond ``k``), and it began in the first bucket after the sum last stood at zero.
    So one stray failed request in a quiet minute (a 100 % ratio) is forgotten a few
    requests later, and the onset is where the rise started, not where it was noticed.

    Returns:
        The start (UTC) of the burst's first bucket, or None when no burst is in the range.
    """
    per = service_metrics(lake, since=since, until=until, service=service, step=step, quantiles=(0.5,))
    if per.empty:
        return None
    start = per["time"].min().to_pydatetime()
    length = parse_duration(baseline, name="baseline")
    base = service_summary(lake, since=start - length, until=start, service=service, quantiles=(0.5,))
    requests, errors = int(base["requests"].sum()), int(base["errors"].sum())
    k = max(float(min_ratio), 3.0 * errors / requests if requests else 0.0)
    per = per.groupby("time")[["requests", "errors"]].sum().sort_index()
    total, began = 0.0, None
    for t, n, e in zip(per.index, per["requests"], per["errors"], strict=True):
        total = max(0.0, total + float(e) - k * float(n))
        if total == 0.0:
            began = None
        elif began is None:
            began = t
        if total >= min_errors:
            return began
    return None


def metric_points(lake: Lake, *, since: Any, until: Any = "now", host: str | Sequence[str] | None = None,
                  name: str | Sequence[str] | None = None, service: str | None = None) -> pd.DataFrame:
    """Points of the lake's ``metrics`` table (host and service gauges such as ``disk_used_percent``).

    Returns:
        DataFrame ``Timestamp, MetricName, ServiceName, HostName, Value``, oldest first.
    """
    import pandas as pd

    start, end = Q.time_range(since, until)
    where = ['"Timestamp" >= ?', '"Timestamp" < ?']
    params: list[Any] = [start, end]
    for col, value in (("HostName", host), ("MetricName", name), ("ServiceName", service)):
        if value is None:
            continue
        vals = [value] if isinstance(value, str) else list(value)
        if not vals:
            return pd.DataFrame(columns=POINT_COLUMNS)
        where.append(f'"{col}" IN ({", ".join("?" for _ in vals)})')
        params.extend(vals)
    if not lake.files("metrics", start, end):
        return pd.DataFrame(columns=POINT_COLUMNS)
    return lake.query(f'SELECT {", ".join(chr(34) + c + chr(34) for c in POINT_COLUMNS)} FROM metrics '
                      f'WHERE {" AND ".join(where)} ORDER BY "Timestamp"', params, start=start, end=end,
                      tables=["metrics"]).reset_index(drop=True)
