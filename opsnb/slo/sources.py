"""Where SLIs come from: a registry of sources that return per-minute good/total counts.

A source is registered in :data:`SOURCES` (a :class:`~opsnb.registry.Registry`,
entry-point group ``opsnb.slo_sources``) under the ``metricSource.type`` it serves,
in any case (an OpenSLO file writes ``Prometheus``). The built-ins, ``lake`` (the
event lake, through DuckDB) and ``prometheus`` (its HTTP API), are registered
exactly like your own::

    from opsnb.slo.sources import SOURCES, Source

    class MySource(Source):
        def validate(self, slo): return []
        def counts(self, ops, slos, start_min, end_min): ...
    SOURCES.register("mysource", MySource())

``counts`` returns, for each SLO name, two float arrays (good, total) indexed by
epoch minute ``start_min .. end_min - 1``. Counts are events, never ratios, so that
any window is a ratio of sums.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from opsnb.errors import ConnectError, LakeError, NotFound, ValidationError
from opsnb.registry import Registry, instance_of

if TYPE_CHECKING:
    from opsnb.slo.spec import SLOSpec
    from opsnb.workbench import Workbench

Counts = dict[str, tuple[np.ndarray, np.ndarray]]


class Source:
    """Base class of an SLI source."""

    def validate(self, slo: SLOSpec) -> list[str]:
        """Problems with the SLO's metric specs for this source (empty when fine)."""
        return []

    def counts(self, ops: Workbench, slos: Sequence[SLOSpec], start_min: int, end_min: int) -> Counts:
        """Per-minute (good, total) of each SLO over epoch minutes [start_min, end_min)."""
        raise NotImplementedError


SOURCES: Registry[Source] = Registry("metricSource type", group="opsnb.slo_sources", adapt=instance_of(Source))


def register_source(type_name: str, source: Source, *, replace: bool = False) -> None:
    """Serve ``metricSource.type: <type_name>`` with ``source`` (``SOURCES.register``)."""
    SOURCES.register(type_name, source, replace=replace)


def source_of(slo: SLOSpec) -> tuple[str, Source]:
    """The source serving an SLO (every metric of one SLI must use the same type)."""
    sli = slo.sli
    types = {m.type for m in (sli.good, sli.bad, sli.total, sli.metric) if m is not None}
    if len(types) != 1:
        raise ValidationError(f"SLO {slo.name!r}: good and total come from different sources ({', '.join(sorted(types))})",
                              field="indicator")
    t = types.pop()
    try:  # any case: OpenSLO files write "Prometheus"
        return SOURCES.canonical(t), SOURCES.get(t)
    except NotFound as exc:
        hint = str(exc).split("(did you mean ", 1)[1].split(")", 1)[0] if "(did you mean " in str(exc) else ""
        raise ValidationError(f"SLO {slo.name!r}: no source registered for metricSource type {t!r} "
                              f"({'did you mean ' + hint + '? ' if hint else ''}registered: "
                              f"{', '.join(SOURCES.names())}; a third party adds one with an entry point in group "
                              "'opsnb.slo_sources'); the SLO is kept and exported unchanged",
                              field="metricSource.type", value=t) from None


# --------------------------------------------------------------------------- lake
_TOKEN = re.compile(r"""\s+|(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<qid>"[A-Za-z_][A-Za-z0-9_]*")
                    |(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|\[|\]|\+|-|\*|/|%)""", re.X)
_KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "IN", "BETWEEN", "LIKE", "ILIKE", "TRUE", "FALSE"}
_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def check_filter(expr: str, columns: Sequence[str], where: str) -> str:
    """Validate a lake filter: a boolean SQL expression over the table's columns only.

    Allowed: column names, numbers, 'strings', comparisons, AND/OR/NOT, IS [NOT] NULL,
    IN (...), BETWEEN, LIKE, parentheses and map lookups (``LogAttributes['k']``). No
    function calls, no subqueries, no second statement: the filter is pasted into SQL.

    Returns:
        The expression, unchanged.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise ValidationError(f"{where}: filter must be a non-empty SQL condition", field=where)
    cols = {c.lower(): c for c in columns}
    pos, prev, depth = 0, "", 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValidationError(f"{where}: unexpected {expr[pos:pos + 10]!r} at character {pos} of filter "
                                  f"{expr!r}", field=where)
        pos = m.end()
        kind = m.lastgroup
        if kind is None:
            continue
        tok = m.group(kind)
        if kind in ("id", "qid"):
            name = tok.strip('"')
            if kind == "id" and name.upper() in _KEYWORDS:
                prev = name.upper()
                continue
            if name.lower() not in cols:
                raise ValidationError(f"{where}: {name!r} in filter {expr!r} is not a column; columns: "
                                      f"{', '.join(columns)}", field=where, value=name)
            prev = "col"
        elif kind == "op":
            if tok in ("-", "/") and expr[m.end():m.end() + 1] in ("-", "*") and expr[m.end() - 1:m.end() + 1] \
                    in ("--", "/*"):  # an SQL comment would swallow the rest of the query the filter is pasted into
                raise ValidationError(f"{where}: comments ('--', '/*') are not allowed in filter {expr!r}",
                                      field=where)
            if tok == "(" and prev == "col":
                raise ValidationError(f"{where}: function calls are not allowed in filter {expr!r}", field=where)
            if tok == "(" and prev not in ("IN", "", "AND", "OR", "NOT", "(", "op"):
                raise ValidationError(f"{where}: unexpected '(' in filter {expr!r}", field=where)
            depth += {"(": 1, ")": -1}.get(tok, 0)
            if depth < 0:
                raise ValidationError(f"{where}: unbalanced ')' in filter {expr!r}", field=where)
            prev = tok if tok in "()" else "op"
        else:
            prev = "lit"
    if depth:
        raise ValidationError(f"{where}: unbalanced '(' in filter {expr!r}", field=where)
    return expr


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class LakeSource(Source):
    """SLIs from the event lake: counts of rows per minute matching good / total filters.

    Metric spec: ``table`` (default ``logs``), ``service`` (ServiceName), ``filter`` (a
    condition, see :func:`check_filter`); a thresholdMetric also names ``column`` (e.g.
    DurationMs), compared with the objective's ``op``/``value`` row by row.
    """

    def _shape(self, slo: SLOSpec) -> tuple[str, str | None, str, str]:
        """(table, service, total condition, good condition) of an SLO."""
        from opsnb.store.lake import SCHEMAS

        sli = slo.sli
        where = f"{slo.path}: SLO {slo.name!r}"
        metrics = [m for m in (sli.good, sli.bad, sli.total, sli.metric) if m is not None]
        tables = {str(m.spec.get("table", "logs")) for m in metrics}
        services = {m.spec.get("service") for m in metrics if m.spec.get("service") is not None}
        if len(tables) != 1:
            raise ValidationError(f"{where}: good and total must read one lake table, got {sorted(tables)}",
                                  field="metricSource.spec.table")
        if len(services) > 1:
            raise ValidationError(f"{where}: good and total name different services {sorted(map(str, services))}",
                                  field="metricSource.spec.service")
        table = tables.pop()
        if table not in SCHEMAS:
            raise ValidationError(f"{where}: lake table {table!r} does not exist; tables: {', '.join(SCHEMAS)}",
                                  field="metricSource.spec.table", value=table)
        cols = SCHEMAS[table].names
        for m in metrics:
            unknown = set(m.spec) - {"table", "service", "filter", "column"}
            if unknown:
                raise ValidationError(f"{where}: unknown lake metric field(s) {sorted(unknown)}; known: table, "
                                      "service, filter, column", field="metricSource.spec")
        service = services.pop() if services else None

        def cond(m: Any, label: str) -> str:
            f = m.spec.get("filter")
            return f"({check_filter(f, cols, f'{where}: {label}.filter')})" if f is not None else "TRUE"

        if sli.kind == "threshold":
            assert sli.metric is not None
            col = sli.metric.spec.get("column")
            if not isinstance(col, str) or col not in cols:
                raise ValidationError(f"{where}: thresholdMetric needs column: one of {', '.join(cols)}",
                                      field="thresholdMetric.metricSource.spec.column", value=col)
            ob = slo.objective
            total = f'{cond(sli.metric, "thresholdMetric")} AND "{col}" IS NOT NULL'
            good = f'{total} AND "{col}" {_OPS[str(ob.op)]} {float(ob.value or 0)!r}'  # good among valid
            return table, service, total, good
        assert sli.total is not None
        total = cond(sli.total, "total")
        # a bad metric: good = valid rows where bad is not true (NULL counts as not bad)
        good = cond(sli.good, "good") if sli.good else f"{total} AND ({cond(sli.bad, 'bad')}) IS NOT TRUE"
        return table, service, total, good

    def validate(self, slo: SLOSpec) -> list[str]:
        try:
            self._shape(slo)
        except ValidationError as exc:
            return [str(exc)]
        return []

    CACHE_DAYS = 20_000  # (day, shape) entries kept: about 23 KB each

    def __init__(self) -> None:
        # (lake root, table, day, segment names, shape) -> per-minute (good, total) of that UTC day.
        # A day's segment list is part of the key, so a late write or a compaction recomputes it.
        self._cache: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def counts(self, ops: Workbench, slos: Sequence[SLOSpec], start_min: int, end_min: int) -> Counts:
        n = max(end_min - start_min, 0)
        out: Counts = {s.name: (np.zeros(n), np.zeros(n)) for s in slos}
        if n == 0:
            return out
        by_table: dict[str, list[tuple[SLOSpec, tuple[str | None, str, str]]]] = defaultdict(list)
        for s in slos:
            table, service, total, good = self._shape(s)
            by_table[table].append((s, (service, total, good)))
        first_day, last_day = start_min // 1440, (end_min - 1) // 1440
        today = int(datetime.now(UTC).timestamp() // 86400)  # only closed days go to the disk cache
        for table, items in by_table.items():
            shapes = list(dict.fromkeys(sh for _, sh in items))
            per_day: dict[int, dict[tuple[str | None, str, str], tuple[np.ndarray, np.ndarray]]] = {}
            missing: dict[int, tuple[str, ...]] = {}
            for day in range(first_day, last_day + 1):
                d0 = datetime.fromtimestamp(day * 86400, UTC)
                files = tuple(sorted(Path(f).name for f in ops.lake.files(table, d0, d0)))
                got = {}
                with self._lock:
                    for sh in shapes:
                        hit = self._cache.get((str(ops.lake.root), table, day, files, sh))
                        if hit is not None:
                            got[sh] = hit
                for sh in shapes:
                    if sh not in got and files and day < today:
                        disk = self._disk_get(ops, table, day, files, sh)
                        if disk is not None:
                            got[sh] = disk
                            with self._lock:
                                self._cache[(str(ops.lake.root), table, day, files, sh)] = disk
                per_day[day] = got
                if len(got) < len(shapes):
                    missing[day] = files
            if missing:
                self._query(ops, table, shapes, missing, per_day)
            for s, sh in items:
                g, t = out[s.name]
                for day, got in per_day.items():
                    dg, dt = got[sh]
                    lo = max(start_min, day * 1440)
                    hi = min(end_min, (day + 1) * 1440)
                    g[lo - start_min:hi - start_min] = dg[lo - day * 1440:hi - day * 1440]
                    t[lo - start_min:hi - start_min] = dt[lo - day * 1440:hi - day * 1440]
        return out

    def _query(self, ops: Workbench, table: str, shapes: list[tuple[str | None, str, str]],
               missing: dict[int, tuple[str, ...]], per_day: dict[int, Any]) -> None:
        """One scan of the missing days computes every shape: FILTER aggregates grouped by service."""
        conds: dict[str, int] = {}  # distinct conditions: SLOs sharing a filter share its aggregate
        for _, total, good in shapes:
            conds.setdefault(total, len(conds))
            conds.setdefault(good, len(conds))
        services = sorted({svc for svc, _, _ in shapes if svc is not None})
        any_all = any(svc is None for svc, _, _ in shapes)
        aggs = ", ".join(f"count(*) FILTER (WHERE {c}) AS c{i}" for c, i in conds.items())
        svc_where = "" if any_all or not services else \
            f' AND "ServiceName" IN ({", ".join(_q(s) for s in services)})'
        lo_day, hi_day = min(missing), max(missing) + 1
        start = datetime.fromtimestamp(lo_day * 86400, UTC)
        end = datetime.fromtimestamp(hi_day * 86400, UTC)
        sql = (f'SELECT "ServiceName" AS s, CAST(epoch_us("Timestamp") // 60000000 AS BIGINT) - {lo_day * 1440} AS i, '
               f'{aggs} FROM "{table}" WHERE "Timestamp" >= ? AND "Timestamp" < ?{svc_where} GROUP BY ALL')
        try:
            res = ops.lake.query(sql, [start, end], start=start, end=end - timedelta(microseconds=1), tables=[table])
        except LakeError as exc:
            raise ValidationError(f"SLI query on lake table {table!r} failed: {exc}", field="filter") from None
        idx = res["i"].to_numpy(dtype=np.int64)
        codes, names = pd.factorize(res["s"])  # integer service codes: compare ints, not strings
        rows_of = {name: np.flatnonzero(codes == c) for c, name in enumerate(names)}
        span = (hi_day - lo_day) * 1440
        root = str(ops.lake.root)
        cols = {c: res[f"c{i}"].to_numpy(dtype=np.float64) for c, i in conds.items()}
        for sh in shapes:
            svc, total, good = sh
            g: np.ndarray
            t: np.ndarray
            if svc is None:  # every service: several rows per minute, sum them
                t = np.bincount(idx, weights=cols[total], minlength=span)[:span]
                g = np.bincount(idx, weights=cols[good], minlength=span)[:span]
            else:  # one row per (service, minute): plain assignment
                r = rows_of.get(svc, np.zeros(0, dtype=np.int64))
                g, t = np.zeros(span), np.zeros(span)
                t[idx[r]] = cols[total][r]
                g[idx[r]] = cols[good][r]
            for day, files in missing.items():
                o = (day - lo_day) * 1440
                entry = (g[o:o + 1440].copy(), t[o:o + 1440].copy())
                entry[0].flags.writeable = False
                entry[1].flags.writeable = False
                per_day[day][sh] = entry
                with self._lock:
                    self._cache[(root, table, day, files, sh)] = entry
                    while len(self._cache) > self.CACHE_DAYS:
                        self._cache.popitem(last=False)
                if files and day < int(datetime.now(UTC).timestamp() // 86400):
                    self._disk_put(ops, table, day, files, sh, entry)

    # A fresh process (a dashboard kernel, the CLI) reuses counts another process computed:
    # <workspace>/cache/slo/<table>/<day>/<segments digest>/<shape digest>.npy, written
    # atomically. A day whose segments changed gets a new digest; the old one is removed.
    @staticmethod
    def _disk_dir(ops: Workbench, table: str, day: int, files: tuple[str, ...]) -> Path:
        digest = hashlib.sha1("\n".join(files).encode()).hexdigest()[:16]
        return Path(ops.workspace) / "cache" / "slo" / table / str(day) / digest

    @staticmethod
    def _shape_file(sh: tuple[str | None, str, str]) -> str:
        return hashlib.sha1(json.dumps(sh).encode()).hexdigest()[:20] + ".npy"

    def _disk_get(self, ops: Workbench, table: str, day: int, files: tuple[str, ...],
                  sh: tuple[str | None, str, str]) -> tuple[np.ndarray, np.ndarray] | None:
        path = self._disk_dir(ops, table, day, files) / self._shape_file(sh)
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if arr.shape != (2, 1440):
            return None
        arr.flags.writeable = False
        return arr[0], arr[1]

    def _disk_put(self, ops: Workbench, table: str, day: int, files: tuple[str, ...],
                  sh: tuple[str | None, str, str], entry: tuple[np.ndarray, np.ndarray]) -> None:
        d = self._disk_dir(ops, table, day, files)
        try:
            if not d.is_dir():
                for old in d.parent.glob("*"):  # counts of an older segment list of that day
                    shutil.rmtree(old, ignore_errors=True)
                d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{uuid.uuid4().hex}.tmp.npy"
            np.save(tmp, np.stack(entry))
            os.replace(tmp, d / self._shape_file(sh))
        except OSError:
            return  # a cache that cannot be written is only slower


# --------------------------------------------------------------------------- prometheus
class PrometheusSource(Source):
    """SLIs from Prometheus: ``query`` is a per-second rate with ``{{window}}`` as its range (Sloth style).

    Example: ``sum(rate(http_requests_total{job="api",code!~"5.."}[{{window}}]))``. Counts
    per minute are the query at ``window=1m`` times 60, read with ``query_range`` at a
    60 s step (chunked below Prometheus' 11,000 points). ``url`` comes from the metric
    spec, its DataSource's ``connectionDetails.url``, or the ``prometheus_url`` setting.
    """

    CHUNK_MIN = 10_000

    @staticmethod
    def rate_query(slo: SLOSpec, query: str) -> str:
        """The per-second-rate query opsnb evaluates: as written when it has ``{{window}}``; a counter query
        written without a range, as in OpenSLO's examples (``counter: true``), becomes a rate subquery."""
        if "{{window}}" in query:
            return query
        ratio = (slo.sli.raw.get("spec") or {}).get("ratioMetric") or {}
        if ratio.get("counter") is True:
            return f"rate(({query})[{{{{window}}}}:])"
        return query

    def validate(self, slo: SLOSpec) -> list[str]:
        problems = []
        for m in (slo.sli.good, slo.sli.bad, slo.sli.total):
            if m is not None and "{{window}}" not in self.rate_query(slo, str(m.spec.get("query", ""))):
                problems.append(f"{slo.path}: SLO {slo.name!r}: prometheus metric spec needs query with "
                                "[{{window}}] as its range, e.g. sum(rate(x_total[{{window}}])), or "
                                "ratioMetric.counter: true for a counter")
        if slo.sli.kind == "threshold":
            problems.append(f"{slo.path}: SLO {slo.name!r}: prometheus SLIs must be ratioMetric "
                            "(a latency SLO is a ratio of histogram buckets)")
        return problems

    @staticmethod
    def url(ops: Workbench, spec: dict[str, Any]) -> str:
        url = str(spec.get("url") or ops.settings.prometheus_url or "")
        if not url:
            raise ValidationError("prometheus SLI needs a URL: set prometheus_url, a DataSource, or spec.url",
                                  field="prometheus_url")
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"prometheus URL {url!r} must start with http:// or https://",
                                  field="prometheus_url", value=url)
        return url.rstrip("/")

    @staticmethod
    def api(url: str, path: str, params: dict[str, Any], timeout: float = 30.0) -> Any:
        """GET ``<url>/api/v1/<path>``; returns ``data`` or raises a clear error."""
        full = f"{url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(full, timeout=timeout) as r:  # noqa: S310 - http(s) checked above
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", "")
            except ValueError:
                detail = ""
            raise ValidationError(f"prometheus rejected {params.get('query', path)!r}: {exc.code} {detail}",
                                  field="query") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectError(f"cannot reach prometheus at {url}: {exc}", host=url) from None
        if body.get("status") != "success":
            raise ValidationError(f"prometheus query failed: {body.get('error')}", field="query")
        return body["data"]

    PART_LABEL = "opsnb_part"

    def _series(self, url: str, queries: dict[str, str], start_min: int, end_min: int) -> dict[str, np.ndarray]:
        """Per-minute counts of each named query, all read by one ``query_range``.

        One query sees one snapshot of Prometheus' head: two queries straddling a scrape disagreed on
        the current minute (the bad count had it, the total did not), which skewed a short window's SLI.
        Each part is tagged with a ``opsnb_part`` label and the parts are joined with ``or``."""
        n = end_min - start_min
        out = {name: np.zeros(n) for name in queries}
        q = " or ".join(f'label_replace(({query.replace("{{window}}", "1m")}) * 60, '
                        f'"{self.PART_LABEL}", "{name}", "", "")' for name, query in queries.items())
        lo = start_min
        while lo < end_min:
            hi = min(lo + self.CHUNK_MIN, end_min)
            # the sample at t = (m + 1) * 60 counts the events of minute m
            data = self.api(url, "query_range", {"query": q, "start": (lo + 1) * 60, "end": hi * 60, "step": "60"})
            for series in data.get("result", []):
                part = out.get(str((series.get("metric") or {}).get(self.PART_LABEL, "")))
                if part is None:
                    continue
                for ts, val in series.get("values", []):
                    i = int(round(float(ts) / 60)) - 1 - start_min
                    v = float(val)
                    if 0 <= i < n and v == v:
                        part[i] += v
            lo = hi
        return out

    def counts(self, ops: Workbench, slos: Sequence[SLOSpec], start_min: int, end_min: int) -> Counts:
        out: Counts = {}
        for s in slos:
            problems = self.validate(s)
            if problems:
                raise ValidationError(problems[0], field="query")
            assert s.sli.total is not None
            url = self.url(ops, s.sli.total.spec)
            queries = {"total": self.rate_query(s, str(s.sli.total.spec["query"]))}
            if s.sli.good is not None:
                queries["good"] = self.rate_query(s, str(s.sli.good.spec["query"]))
            else:
                assert s.sli.bad is not None
                queries["bad"] = self.rate_query(s, str(s.sli.bad.spec["query"]))
            parts = self._series(url, queries, start_min, end_min)
            total = parts["total"]
            out[s.name] = (parts["good"] if "good" in parts else total - parts["bad"], total)
        return out


SOURCES.register("lake", LakeSource(), origin="opsnb")
SOURCES.register("prometheus", PrometheusSource(), origin="opsnb")
