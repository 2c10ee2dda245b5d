"""``ops.logs``: ingest logs from anywhere an SRE meets them, and answer incident questions.

Example:
    >>> ops.logs.ingest("/var/log/nginx/access.log*")                   # doctest: +SKIP
    >>> ops.logs.query(since="-1h", service="checkout", severity="error")  # doctest: +SKIP
    >>> ops.logs.error_ratio(since="-6h", every="5m", by="ServiceName")    # doctest: +SKIP
    >>> w = ops.logs.window(around=inc.started_at, service="checkout")    # doctest: +SKIP
    >>> w.figure()                                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsnb.errors import NotFound, ValidationError
from opsnb.logs import query as Q
from opsnb.logs import window as W
from opsnb.logs.formats import ParseOptions
from opsnb.logs.ingest import Ingestor
from opsnb.logs.models import IngestSummary, SourceResult
from opsnb.timeparse import parse_duration, parse_instant

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

MAX_FUTURE_S = 300.0  # events stamped further ahead than this are quarantined (clock skew allowance)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Logs:
    """The logs domain of a workbench (``ops.logs``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    # ================================================================ ingest
    def _options(self, *, format: str | None, service: str | None, host: str | None, header_regex: str | None,
                 assume_tz: str, max_future: Any, source: str = "-",
                 resource_attrs: Mapping[str, str] | None = None) -> ParseOptions:
        future = MAX_FUTURE_S if max_future is None else parse_duration(max_future, name="max_future", allow_zero=True).total_seconds()
        return ParseOptions(format=format, service=service, host=host, header_regex=header_regex,
                            assume_tz=assume_tz, max_future_s=future, source=source,
                            resource=dict(resource_attrs or {}))

    def _ingestor(self, progress: Callable[[int], None] | None, max_line_bytes: int | None,
                  invalid_utf8: str) -> Ingestor:
        from opsnb.logs.reader import Limits

        st = self._wb.settings
        limits = Limits(max_bytes=int(st.ingest_max_decompressed_bytes),
                        max_ratio=float(st.ingest_max_compression_ratio))
        return Ingestor(self._wb.lake, progress=progress, invalid_utf8=invalid_utf8,
                        max_line_bytes=int(max_line_bytes or (1 << 20)), limits=limits,
                        batch_rows=int(st.ingest_batch_rows), chunk_bytes=int(st.ingest_chunk_bytes))

    def _audit(self, target: str, summary: IngestSummary, params: dict[str, Any]) -> None:
        with self._wb.db.session():
            self._wb.audit.record(action="logs.ingest", target=target[:200], params={
                **params, "read": summary.read, "stored": summary.stored, "spans": summary.spans,
                "quarantined": summary.quarantined,
                "sources": [r.source for r in summary.sources][:50]})

    def _require(self) -> None:
        with self._wb.db.session():
            self._wb.access.require("responder", action="logs.ingest")

    def ingest(self, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
               format: str | None = None, service: str | None = None, host: str | None = None,
               header_regex: str | None = None, assume_tz: str = "UTC", max_future: Any = None,
               max_line_bytes: int | None = None, invalid_utf8: str = "quarantine",
               progress: Callable[[int], None] | None = None, from_start: bool = False) -> IngestSummary:
        """Ingest log files into the lake: paths, globs (``**`` too), directories, gzip, ``-`` for stdin.

        Each file is read exactly once: a checkpoint committed with its rows says where the next
        ingest of the same file resumes (after a kill too); a rotated or truncated file starts over.

        Args:
            paths: One path or several.
            format: Force a format (jsonl, journald, otlp, logfmt, syslog5424, syslog3164, access, plain);
                default: detected per file from its first MiB.
            service: ServiceName of events that do not name one.
            host: HostName of events that do not name one.
            header_regex: For ``plain``: the regex of a line that starts an entry, with named groups
                ``ts`` (required), ``level``, ``msg``, ``service``, ``host``, ``trace_id``; other
                named groups become attributes. Lines it does not match continue the entry.
            assume_tz: Zone of time stamps written without one (they are flagged with
                ``LogAttributes['opsnb.ts_assumed']``).
            max_future: Events stamped more than this after the ingest time are quarantined
                (default 5 minutes of clock skew).
            max_line_bytes: Longer lines are quarantined (default 1 MiB; the first 64 KiB are kept).
            invalid_utf8: ``quarantine`` (default) or ``replace`` lines that are not UTF-8.
            progress: Called with bytes read from disk, for progress bars.
            from_start: Read files from their first byte even when they were read before; their
                rows are stored again (delete the old ones first if they should be replaced).

        Returns:
            An :class:`IngestSummary`; ``summary.ok`` is False when nothing could be stored.

        Raises:
            PermissionDenied: The user is not at least a responder.
            ValidationError: A bad option (format, regex, zone).
        """
        self._require()
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        names = [os.fspath(p) for p in paths]
        opts = self._options(format=format, service=service, host=host, header_regex=header_regex,
                             assume_tz=assume_tz, max_future=max_future)
        t0 = time.perf_counter()
        ing = self._ingestor(progress, max_line_bytes, invalid_utf8)
        try:
            results = ing.ingest_paths(names, opts, from_start=from_start)
        finally:
            ing.close()
        summary = IngestSummary(results, time.perf_counter() - t0, _peak_rss_mb())
        self._audit(",".join(names), summary, {"format": format, "service": service})
        return summary

    def ingest_bytes(self, data: bytes | str, *, source: str = "bytes", format: str | None = None,
                     service: str | None = None, host: str | None = None, header_regex: str | None = None,
                     assume_tz: str = "UTC", max_future: Any = None, max_line_bytes: int | None = None,
                     invalid_utf8: str = "quarantine") -> IngestSummary:
        """Ingest log text held in memory (a notebook cell, an API payload). Same options as :meth:`ingest`."""
        self._require()
        raw = data.encode() if isinstance(data, str) else bytes(data)
        opts = self._options(format=format, service=service, host=host, header_regex=header_regex,
                             assume_tz=assume_tz, max_future=max_future, source=source)
        t0 = time.perf_counter()
        ing = self._ingestor(None, max_line_bytes, invalid_utf8)
        try:
            res = ing.ingest_bytes(raw, opts)
        finally:
            ing.close()
        summary = IngestSummary([res], time.perf_counter() - t0, _peak_rss_mb())
        self._audit(source, summary, {"format": format, "service": service, "bytes": len(raw)})
        return summary

    def tail(self, directory: str | os.PathLike[str], *, pattern: str = "*", format: str | None = None,
             service: str | None = None, host: str | None = None, header_regex: str | None = None,
             assume_tz: str = "UTC", poll: float = 0.5, idle_timeout: float | None = None,
             max_seconds: float | None = None, stop: Callable[[IngestSummary], bool] | None = None,
             from_start: bool = False, only_new: bool = False) -> IngestSummary:
        """Follow the files of a directory, ingesting whole lines as they are appended.

        Each file resumes from its checkpoint, so a tail restarted after any crash (``kill -9``
        too) goes on where the committed rows end: nothing lost, nothing twice. Rotated files
        (rename + create, copytruncate) are finished, then the new file is read from its start
        (see :mod:`opsnb.logs.tail`). Stops when ``stop(summary)`` returns True, after
        ``idle_timeout`` seconds without new data, or after ``max_seconds``; at least one of them
        is required.

        Args:
            directory: Directory to watch.
            pattern: Glob of file names in it (``*.log``).
            from_start: Read every file again from its first byte, checkpoints or not (its rows are
                stored again).
            only_new: Files never read before start at their current end (only what is appended).
            poll: Seconds between looks.
        """
        from opsnb.logs.tail import DirectoryTail

        self._require()
        root = Path(directory)
        if not root.is_dir():
            raise NotFound(f"no directory {root}", kind="directory", key=str(root))
        if stop is None and idle_timeout is None and max_seconds is None:
            raise ValidationError("tail needs a stop condition: stop=, idle_timeout= or max_seconds=",
                                  field="stop")
        base = self._options(format=format, service=service, host=host, header_regex=header_regex,
                             assume_tz=assume_tz, max_future=None)
        t0 = time.perf_counter()
        last_data = t0
        ing = self._ingestor(None, None, "quarantine")
        summary = IngestSummary([], 0.0)
        follower = DirectoryTail(ing, root, pattern, base, from_start=from_start, only_new=only_new)
        try:
            while True:
                got = follower.poll()
                now = time.perf_counter()
                summary = IngestSummary(list(follower.results.values()), now - t0, _peak_rss_mb())
                if got:
                    last_data = now
                if stop is not None and stop(summary):
                    break
                if idle_timeout is not None and now - last_data >= idle_timeout:
                    break
                if max_seconds is not None and now - t0 >= max_seconds:
                    break
                time.sleep(poll)
        finally:
            ing.close()
        self._audit(f"tail:{root}", summary, {"pattern": pattern, "format": format, "from_start": from_start})
        return summary

    def ingest_remote(self, selector: str | Sequence[str], *, unit: str | None = None, path: str | None = None,
                      since: Any = "-1h", lines: int = 100_000, format: str | None = None,
                      service: str | None = None, timeout: float = 120.0, from_start: bool = False,
                      fetch_bytes: int = 8 << 20) -> IngestSummary:
        """Ingest logs from servers over SSH: the journal (``journalctl -o json``) or a file.

        Each server's file or journal has a checkpoint: a rerun (after a crash too) reads what
        was added since the committed rows end, nothing twice, no gap (see
        :mod:`opsnb.logs.ingest_remote`).

        Args:
            selector: Which servers (see ``ops.fleet``).
            unit: Only this systemd unit (journal).
            path: Read this file instead of the journal (at first its last ``lines`` lines, then
                what is appended; a rotated or truncated file from its start).
            since: Journal entries since this time (when there is no checkpoint yet).
            lines: Lines read from the end of ``path`` when it was never read.
            format: Format of ``path`` (default detected); the journal is always ``journald``.
            from_start: Ignore the checkpoints: ``path`` from its first byte, the journal from ``since``.
            fetch_bytes: Bytes fetched per round trip (a backlog takes several, each committed).
        """
        from opsnb.logs.ingest_remote import RemoteIngest

        self._require()
        if path is not None:
            if not isinstance(lines, int) or lines < 1:
                raise ValidationError(f"lines must be a positive integer, got {lines!r}", field="lines")
            fmt = format
            since_s = ""
        else:
            start = parse_instant(since, name="since", ago=True)
            since_s = start.strftime("%Y-%m-%d %H:%M:%S")
            fmt = "journald"
        if isinstance(fetch_bytes, bool) or not isinstance(fetch_bytes, int) or fetch_bytes < 4096:
            raise ValidationError(f"fetch_bytes must be an integer of at least 4096, got {fetch_bytes!r}",
                                  field="fetch_bytes")
        t0 = time.perf_counter()
        hosts = [srv.name for srv in self._wb.fleet.select(selector)]
        results: list[SourceResult] = []
        ing = self._ingestor(None, None, "quarantine")

        def run(host: str, argv: list[str]) -> pd.DataFrame:
            return self._wb.fleet.run([host], argv, mutating=False, timeout=timeout, progress=False)

        remote = RemoteIngest(ing, run, from_start=from_start, fetch_bytes=fetch_bytes)
        try:
            for host in hosts:
                src = f"{host}:{path or 'journald' + (':' + unit if unit else '')}"
                opts = self._options(format=fmt, service=service, host=host, header_regex=None,
                                     assume_tz="UTC", max_future=None, source=src,
                                     resource_attrs={"host.name": host})
                if path is not None:
                    results.append(remote.file(host, path, opts, lines))
                else:
                    results.append(remote.journal(host, unit, since_s, opts))
        finally:
            ing.close()
        summary = IngestSummary(results, time.perf_counter() - t0, _peak_rss_mb())
        self._audit(f"remote:{selector}", summary, {"unit": unit, "path": path, "from_start": from_start})
        return summary

    # ================================================================ query
    def query(self, since: Any, until: Any = "now", *, service: str | Sequence[str] | None = None,
              severity: str | int | None = None, host: str | Sequence[str] | None = None,
              attrs: Mapping[str, Any] | None = None, contains: str | Sequence[str] | None = None,
              regex: str | None = None, trace_id: str | Sequence[str] | None = None,
              correlation_id: str | None = None, status: Any = None, method: str | None = None,
              route: str | None = None, errors_only: bool = False, columns: Sequence[str] | None = None,
              limit: int | None = 10_000, order: str = "asc") -> pd.DataFrame:
        """Log rows in ``[since, until)`` matching every filter given.

        Args:
            since: Start: a datetime, ISO text, or relative (``"-1h"``, ``"-30m"``). Required.
            until: End (default now).
            service: ServiceName, or several.
            severity: Minimum severity (``"warn"`` keeps WARN, ERROR, FATAL) or a SeverityNumber.
            host: HostName, or several.
            attrs: Attribute matchers ``{"user": "u1", "region": ["eu", "us"]}`` (log, then resource).
            contains: Substring(s) the Body must contain.
            regex: RE2 regular expression the Body must match.
            trace_id: A trace id (or several).
            correlation_id: A trace id, request id or correlation id, wherever it appears.
            status: HTTP status, several, or a class like ``"5xx"``.
            method: HTTP method.
            route: HTTP route.
            errors_only: Only errors (severity ERROR+ or HTTP 5xx).
            columns: Columns to return (default all).
            limit: Most rows returned (None: all).
            order: ``asc`` (oldest first) or ``desc``.

        Returns:
            DataFrame of lake ``logs`` columns; times are UTC.
        """
        flt = Q.make_filter(since, until, service=service, severity=severity, host=host, attrs=attrs,
                            contains=contains, regex=regex, trace_id=trace_id, correlation_id=correlation_id,
                            status=status, method=method, route=route, errors_only=errors_only)
        return Q.select(self._wb.lake, flt, columns=columns, limit=limit, order=order)

    def sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *,
            since: Any = None, until: Any = None) -> pd.DataFrame:
        """Any DuckDB SQL over the lake tables (``logs``, ``spans``, ``quarantine`` ...).

        ``since``/``until`` limit the day partitions read (the SQL must still filter rows).
        """
        start = parse_instant(since, name="since", ago=True) if since is not None else None
        end = parse_instant(until, name="until") if until is not None else None
        args = dict(params) if isinstance(params, Mapping) else params
        return self._wb.lake.query(sql, args, start=start, end=end)

    def services(self) -> pd.DataFrame:
        """Every ServiceName in the logs with its events and first and last event time.

        Returns:
            DataFrame ``service, events, first_seen, last_seen`` sorted by service (times UTC).
        """
        import pandas as pd

        df = self._wb.lake.query(
            "SELECT ServiceName AS service, count(*) AS events, min(Timestamp) AS first_seen, "
            "max(Timestamp) AS last_seen FROM logs WHERE coalesce(ServiceName, '') <> '' "
            "GROUP BY ServiceName ORDER BY ServiceName", tables=["logs"])
        return df if len(df) else pd.DataFrame(columns=["service", "events", "first_seen", "last_seen"])

    def count(self, since: Any, until: Any = "now", *, every: Any = "1m", by: Any = None,
              **filters: Any) -> pd.DataFrame:
        """Events per bucket: ``time, [by...], count`` (filters as :meth:`query`)."""
        return Q.count(self._wb.lake, Q.make_filter(since, until, **filters), every=every, by=by)

    def rate(self, since: Any, until: Any = "now", *, every: Any = "1m", by: Any = None,
             **filters: Any) -> pd.DataFrame:
        """Events per second per bucket: ``time, [by...], count, rate``."""
        return Q.rate(self._wb.lake, Q.make_filter(since, until, **filters), every=every, by=by)

    def error_ratio(self, since: Any, until: Any = "now", *, every: Any = "1m", by: Any = None,
                    **filters: Any) -> pd.DataFrame:
        """``time, [by...], total, errors, error_ratio`` (errors: severity ERROR+ or HTTP 5xx)."""
        return Q.error_ratio(self._wb.lake, Q.make_filter(since, until, **filters), every=every, by=by)

    def quantiles(self, since: Any, until: Any = "now", *, field: str = "DurationMs",
                  q: Sequence[float] = (0.5, 0.9, 0.99), every: Any = "1m", by: Any = None,
                  **filters: Any) -> pd.DataFrame:
        """Exact quantiles of a numeric column or attribute: ``time, [by...], count, p50, p90, p99``."""
        return Q.quantiles(self._wb.lake, Q.make_filter(since, until, **filters), field=field, q=q,
                           every=every, by=by)

    def topk(self, since: Any, until: Any = "now", *, field: str, k: int = 10, by: Any = None,
             **filters: Any) -> pd.DataFrame:
        """The ``k`` most frequent values of a column or attribute: ``[by...], field, count, share``."""
        return Q.topk(self._wb.lake, Q.make_filter(since, until, **filters), field=field, k=k, by=by)

    # ================================================================ service metrics
    def service_metrics(self, *, since: Any, until: Any = "now", service: str | Sequence[str] | None = None,
                        step: Any = "1m", quantiles: Sequence[float] = (0.5, 0.9, 0.99)) -> pd.DataFrame:
        """Requests, request rate, errors, error ratio and latency quantiles per bucket and service.

        A request is an event with an HttpStatus; an error is what :mod:`opsnb.logs.error_event`
        defines (SeverityNumber >= 17 or HttpStatus >= 500).

        Args:
            since: Start (a datetime, ISO text or relative ``"-1h"``).
            until: End (default now).
            service: One service (every bucket present, zeros when silent), several, or None for all.
            step: Bucket width (``"1m"``, ``"10m"``).
            quantiles: Latency quantiles of DurationMs.

        Returns:
            DataFrame ``time, service, requests, rate, errors, error_ratio, p50, p90, p99``
            (``rate`` per second; ``time`` UTC).
        """
        from opsnb.logs import metrics as M

        return M.service_metrics(self._wb.lake, since=since, until=until, service=service, step=step,
                                 quantiles=quantiles)

    def service_summary(self, *, since: Any, until: Any = "now", service: str | Sequence[str] | None = None,
                        quantiles: Sequence[float] = (0.5, 0.9, 0.99)) -> pd.DataFrame:
        """One row per service over ``[since, until)``: requests, requests per minute, errors, ratio, quantiles."""
        from opsnb.logs import metrics as M

        return M.service_summary(self._wb.lake, since=since, until=until, service=service, quantiles=quantiles)

    def last_seen(self, *, service: str | None = None, before: Any = None) -> pd.Timestamp | None:
        """When the newest log event (of ``service``, before ``before``) was stamped; None if none."""
        from opsnb.logs import metrics as M

        return M.last_seen(self._wb.lake, service=service, before=before)

    def error_onset(self, *, since: Any, until: Any = "now", service: str | None = None, step: Any = "1m",
                    baseline: Any = "24h", min_ratio: float = 0.05, min_errors: float = 3.0) -> pd.Timestamp | None:
        """When the error burst of ``[since, until)`` began (a CUSUM change point), or None.

        See :func:`opsnb.logs.metrics.error_onset` for how a burst is told from a stray error.
        """
        from opsnb.logs import metrics as M

        return M.error_onset(self._wb.lake, since=since, until=until, service=service, step=step,
                             baseline=baseline, min_ratio=min_ratio, min_errors=min_errors)

    def metric_points(self, *, since: Any, until: Any = "now", host: str | Sequence[str] | None = None,
                      name: str | Sequence[str] | None = None, service: str | None = None) -> pd.DataFrame:
        """Points of the lake's ``metrics`` table: ``Timestamp, MetricName, ServiceName, HostName, Value``."""
        from opsnb.logs import metrics as M

        return M.metric_points(self._wb.lake, since=since, until=until, host=host, name=name, service=service)

    # ================================================================ incident views
    def window(self, around: Any = None, *, service: str | None = None, before: Any = "30m", after: Any = "15m",
               baseline: Any = "1h", every: Any = "1m", top: int = 20, incident: str | None = None,
               **filters: Any) -> W.Window:
        """Everything about the minutes around a moment, in one call.

        Args:
            around: The moment (incident start, alert time, deploy).
            incident: Instead of ``around``: the window of this incident (around its impact start,
                for its service unless ``service`` says otherwise), with its top suspect changes.
            service: Only this service (default all).
            before: Window start before ``around``.
            after: Window end after ``around``.
            baseline: Period patterns are compared against: a duration right before the window
                (``"1h"``, ``"-24h"``) or a ``(start, end)`` pair.
            every: Bucket size.
            top: Pattern rows.
            **filters: More filters as :meth:`query` (host, attrs, ...).

        Returns:
            A :class:`~opsnb.logs.window.Window`: ``.volume``, ``.error_rate``, ``.latency``,
            ``.patterns``, ``.errors``, ``.trace_ids``, ``.deploys``, ``.suspects`` (an incident's)
            and ``.figure()``.
        """
        return W.build(self._wb, around=around, service=service, before=before, after=after,
                       baseline=baseline, every=every, top=top, incident=incident, **filters)

    def context(self, event: Any, n: int = 20, *, same_host: bool = True,
                span: Any = "6h") -> pd.DataFrame:
        """The ``n`` lines before and after one event, from the same service (and host).

        Args:
            event: A row of a query result (Series, dict or one-row DataFrame) with at least
                Timestamp and ServiceName; Body (and HostName) pick the exact line.
            n: Lines on each side.
            same_host: Only lines of the event's host, when it has one.
            span: How far around the event to look.

        Returns:
            DataFrame of log rows in order with ``offset`` (0 is the event, negative before).
        """
        if isinstance(event, pd.DataFrame):
            if len(event) != 1:
                raise ValidationError(f"context needs one event, got a DataFrame of {len(event)} rows",
                                      field="event")
            event = event.iloc[0]
        ev = dict(event) if not isinstance(event, dict) else event
        if "Timestamp" not in ev or "ServiceName" not in ev:
            raise ValidationError("context needs an event with Timestamp and ServiceName (a query row)",
                                  field="event")
        if not isinstance(n, int) or n < 0:
            raise ValidationError(f"n must be a non-negative integer, got {n!r}", field="n")
        t = parse_instant(ev["Timestamp"], name="Timestamp")
        width = parse_duration(span, name="span", allow_zero=True)
        flt = Q.make_filter(t - width, t + width + timedelta(microseconds=1), service=ev["ServiceName"])
        host = ev.get("HostName")
        if same_host and isinstance(host, str) and host:
            flt.host = host
        where, params = flt.sql()
        body = ev.get("Body") if isinstance(ev.get("Body"), str) else None
        sql = f"""
          WITH c AS (SELECT *, row_number() OVER (ORDER BY "Timestamp", "ObservedTimestamp", "Body") AS _rn
                     FROM logs WHERE {where}),
          e AS (SELECT coalesce(
                  (SELECT min(_rn) FROM c WHERE "Timestamp" = ? AND (? IS NULL OR "Body" = ?)),
                  (SELECT max(_rn) FROM c WHERE "Timestamp" <= ?), 0) AS rn)
          SELECT c.* EXCLUDE (_rn), CAST(c._rn - e.rn AS BIGINT) AS "offset" FROM c, e
          WHERE c._rn BETWEEN e.rn - ? AND e.rn + ? ORDER BY c._rn"""
        return Q.run(self._wb.lake, sql, [*params, t, body, body, t, n, n], flt).reset_index(drop=True)

    def patterns(self, since: Any, until: Any = "now", *, baseline: Any = "-24h", service: str | None = None,
                 top: int = 20, **filters: Any) -> pd.DataFrame:
        """Message templates of ``[since, until)`` against the baseline: new, spiking, vanished, steady.

        ``baseline`` is a duration right before ``since`` (``"-24h"``) or a ``(start, end)`` pair.
        """
        flt = Q.make_filter(since, until, service=service, **filters)
        b0, b1 = W.baseline_range(flt.start, baseline)
        base = Q.make_filter(b0, b1, service=service, **filters)
        return W.pattern_table(self._wb, flt, base, top=top)

    def errors(self, since: Any, until: Any = "now", *, service: str | None = None, **filters: Any) -> pd.DataFrame:
        """Error fingerprints of ``[since, until)``: one row per distinct error, most frequent first."""
        return W.error_table(self._wb, Q.make_filter(since, until, service=service, **filters))

    def quarantine(self, since: Any = "-24h", until: Any = "now", *, source: str | None = None,
                   limit: int = 1000) -> pd.DataFrame:
        """Lines ingest could not store: when, source, line, format, reason, and the raw text."""
        start, end = Q.time_range(since, until)
        where = '"Timestamp" >= ? AND "Timestamp" < ?'
        params: list[Any] = [start, end]
        if source is not None:
            where += ' AND "Source" = ?'
            params.append(source)
        df = self._wb.lake.query(
            f'SELECT * FROM quarantine WHERE {where} ORDER BY "Timestamp" DESC, "Source", "Line" LIMIT {int(limit)}',
            params, start=start, end=end, tables=["quarantine"])
        df["Text"] = [r.decode("utf-8", errors="replace")[:2000] if isinstance(r, bytes | bytearray) else None
                      for r in df["Raw"]]
        return df


def ingest_iter(paths: Iterable[str]) -> list[str]:
    """Files a list of paths and globs stands for (for progress bars)."""
    from opsnb.logs.reader import expand

    return expand(list(paths))[0]
