"""Render a demo :class:`~opsnb.demo.plan.Plan` into lake rows, one day at a time, vectorised.

A user request enters at ``frontend`` and fans out along one of a few trace
shapes (home, product, search, cart, checkout, login). Every node of a trace
writes an access log line carrying the trace and span id; some write an app
line; failures write an error line where they start and propagate upward as
502/504. A share of traces (all failing and slow ones included) is kept as
spans, as a tail-sampling collector would. Hosts write background lines and
per-minute metrics. Incidents of the plan bend error odds, latency, CPU and disk.

Work is numpy/Arrow per (day, shape, node, template): never per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsnb.demo import templates as T
from opsnb.demo.plan import SERVER_TABLE, Plan
from opsnb.demo.world import SERVICES
from opsnb.store.lake import SCHEMAS

US_MIN = 60_000_000
DAY_MIN = 1440
SAMPLE_RATE = 0.15  # share of ordinary traces kept as spans

# service, method, route, parent node, own median time (ms)
Node = tuple[str, str, str, int, float]
SHAPES: tuple[tuple[str, float, tuple[Node, ...]], ...] = (
    ("home", 8.1, (("frontend", "GET", "/", -1, 12), ("catalog", "GET", "/api/products", 0, 25))),
    ("product", 9.2, (("frontend", "GET", "/product/{id}", -1, 10), ("catalog", "GET", "/api/products/{id}", 0, 18),
                      ("search", "GET", "/api/recommendations/{id}", 0, 30))),
    ("search", 8.1, (("frontend", "GET", "/search", -1, 8), ("search", "GET", "/api/search", 0, 45),
                     ("catalog", "POST", "/api/products/batch", 1, 20))),
    ("cart", 4.5, (("frontend", "GET", "/cart", -1, 9), ("auth", "POST", "/api/session/verify", 0, 4),
                   ("checkout", "GET", "/api/cart", 0, 22))),
    ("checkout", 2.4, (("frontend", "POST", "/checkout", -1, 15), ("auth", "POST", "/api/session/verify", 0, 4),
                       ("checkout", "POST", "/api/checkout", 0, 60), ("payments", "POST", "/api/payments/authorize", 2, 180),
                       ("catalog", "POST", "/api/inventory/reserve", 2, 25))),
    ("login", 1.8, (("frontend", "POST", "/login", -1, 10), ("auth", "POST", "/api/login", 0, 35))),
)
BASE_ERROR: dict[str, float] = {"frontend": 0.0005, "checkout": 0.002, "payments": 0.004, "catalog": 0.001,
                                "search": 0.0015, "auth": 0.0008}
CLIENT_ERROR: dict[str, tuple[float, int]] = {"/product/{id}": (0.03, 404), "/api/products/{id}": (0.02, 404),
                                              "/login": (0.07, 401), "/api/login": (0.07, 401)}
TIMEOUT_MS = 3000.0

SVC_VOCAB: list[str] = [*SERVICES, "postgres", "redis"]
HOSTS: list[str] = [row[0] for row in SERVER_TABLE]
HOST_SERVICE: list[str] = [row[4] for row in SERVER_TABLE]
HOST_ROLE: list[str] = [row[1] for row in SERVER_TABLE]
HOST_ENV: list[str] = [row[2] for row in SERVER_TABLE]
# prod hosts serving each service (staging takes no user traffic)
HOSTS_OF: dict[str, list[int]] = {
    s: [i for i, row in enumerate(SERVER_TABLE) if row[4] == s and row[2] == "prod"] for s in SERVICES
}
FIXED_VERSION = {"postgres": "16.4", "redis": "7.2.5"}


def _us(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000 + t.microsecond


@dataclass
class Timeline:
    """Per-service, per-minute incident effects over one day, and who to blame."""

    error: dict[str, np.ndarray]
    latency: dict[str, np.ndarray]
    cause: dict[str, np.ndarray]  # index into causes, -1 = none
    status: dict[str, np.ndarray]
    causes: list[str]


def _timeline(plan: Plan, day0: datetime) -> Timeline:
    minutes = np.arange(DAY_MIN, dtype=np.float64)
    err = {s: np.zeros(DAY_MIN) for s in SERVICES}
    lat = {s: np.ones(DAY_MIN) for s in SERVICES}
    cause = {s: np.full(DAY_MIN, -1, dtype=np.int64) for s in SERVICES}
    status = {s: np.full(DAY_MIN, 500, dtype=np.int32) for s in SERVICES}
    causes: list[str] = []
    for e in plan.effects:
        a = (e.start - day0).total_seconds() / 60
        b = (e.mitigated - day0).total_seconds() / 60
        c = (e.recovered - day0).total_seconds() / 60
        f = np.where((minutes >= a) & (minutes < b), 1.0, 0.0)
        ramp = (minutes >= b) & (minutes < c)
        f[ramp] = (c - minutes[ramp]) / max(c - b, 1.0)
        if not f.any():
            continue
        causes.append(e.cause)
        err[e.service] += e.error * f
        lat[e.service] *= 1 + (e.latency - 1) * f
        active = f > 0
        cause[e.service][active] = len(causes) - 1
        status[e.service][active] = e.status
    return Timeline(err, lat, cause, status, causes)


def diurnal(t_us: np.ndarray) -> np.ndarray:
    """Traffic factor: peak at 18:00 UTC (US afternoon), quieter at weekends; mean about 1."""
    hours = (t_us // 3_600_000_000) % 24 + (t_us % 3_600_000_000) / 3.6e9
    weekday = ((t_us // 86_400_000_000) + 3) % 7  # 1970-01-01 was a Thursday (3)
    f = 1 + 0.6 * np.sin(2 * np.pi * (hours - 12) / 24)
    return f * np.where(weekday >= 5, 0.75, 1.0)


def _table(cols: dict[str, Any], table: str) -> pa.Table:
    """``cols`` as a lake table; columns the demo does not fill (instrumentation scope) are null."""
    n = len(cols["Timestamp"])
    return pa.table({f.name: cols.get(f.name, pa.nulls(n, f.type)) for f in SCHEMAS[table]}, schema=SCHEMAS[table])


def _string_map(keys: list[str], values: list[pa.Array]) -> pa.MapArray:
    n, k = len(values[0]), len(keys)
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    key_arr = pc.take(pa.array(keys), pa.array(np.tile(np.arange(k), n)))
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()
    val_arr = pc.take(pa.concat_arrays([v.cast(pa.string()) for v in values]), pa.array(order))
    return pa.MapArray.from_arrays(offsets, key_arr, val_arr)


class DayRenderer:
    """Renders one day (``[day0, day0 + 24h)``) of the plan."""

    def __init__(self, plan: Plan, day0: datetime, rng: np.random.Generator, scale: float) -> None:
        self.plan, self.day0, self.rng, self.scale = plan, day0, rng, scale
        self.day0_us = _us(day0)
        self.end_us = _us(plan.world.end)
        self.tl = _timeline(plan, day0)
        self.logs: list[pa.Table] = []
        self.spans: list[pa.Table] = []
        # service versions over time, for ResourceAttributes service.version
        self.version_vocab: list[str] = ["prod", "staging"]
        self.version_times: dict[str, np.ndarray] = {}
        self.version_idx: dict[str, np.ndarray] = {}
        for s in SERVICES:
            seq = [(0, plan.initial_version[s])] + [(_us(t), v) for t, v in plan.versions.get(s, [])]
            self.version_times[s] = np.array([t for t, _ in seq], dtype=np.int64)
            self.version_idx[s] = np.array([self._vocab(v) for _, v in seq], dtype=np.int64)

    def _vocab(self, v: str) -> int:
        if v not in self.version_vocab:
            self.version_vocab.append(v)
        return self.version_vocab.index(v)

    # ------------------------------------------------------------------ rows
    def _resource(self, svc: np.ndarray, host: np.ndarray, ts: np.ndarray) -> pa.MapArray:
        ver = np.zeros(len(ts), dtype=np.int64)
        for i, s in enumerate(SVC_VOCAB):
            m = svc == i
            if not m.any():
                continue
            if s in self.version_times:
                pos = np.searchsorted(self.version_times[s], ts[m], side="right") - 1
                ver[m] = self.version_idx[s][pos]
            else:
                ver[m] = self._vocab(FIXED_VERSION[s])
        env = np.array([0 if HOST_ENV[h] == "prod" else 1 for h in range(len(HOSTS))], dtype=np.int64)[host]
        vocab = pa.array(self.version_vocab)
        return _string_map(["deployment.environment", "service.version"],
                           [pc.take(vocab, pa.array(env)), pc.take(vocab, pa.array(ver))])

    def _log_rows(self, ts: np.ndarray, sev: np.ndarray | int, svc: np.ndarray, host: np.ndarray,
                  body: pa.Array, *, trace: np.ndarray | None = None, span: np.ndarray | None = None,
                  method: pa.Array | None = None, route: pa.Array | None = None,
                  status: np.ndarray | None = None, dur: np.ndarray | None = None) -> None:
        n = len(ts)
        if n == 0:
            return
        sev_arr = np.full(n, sev, dtype=np.int32) if isinstance(sev, int) else sev.astype(np.int32)
        sev_vocab = sorted(T.SEVERITY_TEXT)
        sev_text = pc.take(pa.array([T.SEVERITY_TEXT[k] for k in sev_vocab]),
                           pa.array(np.searchsorted(sev_vocab, sev_arr)))
        delay = self.rng.integers(50_000, 2_000_000, size=n)
        cols: dict[str, Any] = {
            "Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "ObservedTimestamp": pa.array(ts + delay, pa.timestamp("us", tz="UTC")),
            "TraceId": T.strings(trace) if trace is not None else pa.nulls(n, pa.string()),
            "SpanId": T.strings(span) if span is not None else pa.nulls(n, pa.string()),
            "SeverityNumber": pa.array(sev_arr),
            "SeverityText": sev_text,
            "ServiceName": pc.take(pa.array(SVC_VOCAB), pa.array(svc)),
            "HostName": pc.take(pa.array(HOSTS), pa.array(host)),
            "Body": body,
            "HttpMethod": method if method is not None else pa.nulls(n, pa.string()),
            "HttpRoute": route if route is not None else pa.nulls(n, pa.string()),
            "HttpStatus": pa.array(status, pa.int32()) if status is not None else pa.nulls(n, pa.int32()),
            "DurationMs": pa.array(dur, pa.float64()) if dur is not None else pa.nulls(n, pa.float64()),
            "ResourceAttributes": self._resource(svc, host, ts),
            "LogAttributes": pa.nulls(n, pa.map_(pa.string(), pa.string())),
        }
        self.logs.append(_table(cols, "logs"))

    def _templated(self, templates: list[T.Template], rows: np.ndarray, ts: np.ndarray, svc: np.ndarray,
                   host: np.ndarray, ctx: dict[str, Any], **extra: Any) -> None:
        """Write one line per row in ``rows``, each from a template drawn by weight."""
        if len(rows) == 0:
            return
        w = np.array([t[0] for t in templates], dtype=np.float64)
        pick = self.rng.choice(len(templates), size=len(rows), p=w / w.sum())
        for k, (_w, sev, parts) in enumerate(templates):
            sel = rows[pick == k]
            if len(sel) == 0:
                continue
            sub_ctx = {key: (val if isinstance(val, str) else pc.take(val, pa.array(sel))) for key, val in ctx.items()}
            body = T.render(parts, len(sel), self.rng, sub_ctx)
            sub = {key: (val[sel] if isinstance(val, np.ndarray) else val) for key, val in extra.items()}
            self._log_rows(ts[sel], sev, svc[sel], host[sel], body, **sub)

    # ---------------------------------------------------------------- traces
    def _counts(self, rate: float) -> np.ndarray:
        mid = self.day0_us + np.arange(DAY_MIN, dtype=np.int64) * US_MIN + US_MIN // 2
        lam = rate * self.scale * diurnal(mid)
        lam[mid >= self.end_us] = 0.0
        return self.rng.poisson(lam)

    def traces(self) -> None:
        for _name, rate, nodes in SHAPES:
            self._shape(rate, nodes)

    def _shape(self, rate: float, nodes: tuple[Node, ...]) -> None:
        rng = self.rng
        counts = self._counts(rate)
        n = int(counts.sum())
        if n == 0:
            return
        minute = np.repeat(np.arange(DAY_MIN), counts)
        t0 = self.day0_us + minute * US_MIN + rng.integers(0, US_MIN, size=n)
        trace = T.hex_ids(rng, n, 16)
        k = len(nodes)
        children = [[c for c in range(k) if nodes[c][3] == p] for p in range(k)]
        own = np.empty((k, n))
        status = np.full((k, n), 200, dtype=np.int32)
        origin = np.zeros((k, n), dtype=bool)
        cause = np.full((k, n), -1, dtype=np.int64)
        for i, (svc, _m, route, _p, median) in enumerate(nodes):
            lat = self.tl.latency[svc][minute]
            own[i] = median * np.exp(rng.normal(0, 0.45, n)) * lat
            own[i] *= np.where(rng.random(n) < 0.01, rng.uniform(3, 8, n), 1.0)  # a heavy tail
            p_base, p_inc = BASE_ERROR[svc], self.tl.error[svc][minute]
            fail = rng.random(n) < p_base + p_inc
            by_incident = fail & (rng.random(n) * (p_base + p_inc) < p_inc)
            origin[i] = fail
            cause[i] = np.where(by_incident, self.tl.cause[svc][minute], -1)
            status[i] = np.where(fail, np.where(by_incident, self.tl.status[svc][minute], 500), 200)
            slow_fail = fail & (status[i] == 504)
            own[i] = np.where(slow_fail, TIMEOUT_MS, own[i])
            if route in T_CLIENT:
                p4, code = T_CLIENT[route]
                status[i] = np.where(~fail & (rng.random(n) < p4), code, status[i])
            else:
                status[i] = np.where(~fail & (rng.random(n) < 0.003), 400, status[i])
        # totals bottom-up; failures propagate to the parent as 502 (504 when the child timed out)
        total = own.copy()
        upstream = np.full((k, n), -1, dtype=np.int64)
        for i in range(k - 1, -1, -1):
            for c in children[i]:
                total[i] += total[c] + 0.3
                bad = (status[c] >= 500) & (status[i] < 500) & (rng.random(n) < 0.92)
                status[i] = np.where(bad, np.where(status[c] == 504, 504, 502), status[i])
                upstream[i] = np.where(bad & (upstream[i] < 0), c, upstream[i])
        slow_root = (total[0] > TIMEOUT_MS) & (status[0] < 500)
        status[0] = np.where(slow_root, 504, status[0])
        # starts top-down: children run one after another inside their parent
        start = np.zeros((k, n))
        for i in range(k):
            offset = start[i] + 0.2
            for c in children[i]:
                start[c] = offset
                offset = offset + total[c] + 0.3
        spans = np.stack([T.hex_ids(rng, n, 8) for _ in range(k)])
        keep = (rng.random(n) < SAMPLE_RATE) | (status >= 500).any(axis=0) | (total[0] > 1000)

        for i, (svc, method, route, parent, _median) in enumerate(nodes):
            s_idx = SVC_VOCAB.index(svc)
            hosts = np.array(HOSTS_OF[svc])[rng.integers(0, len(HOSTS_OF[svc]), size=n)]
            svc_arr = np.full(n, s_idx, dtype=np.int64)
            begin = t0 + (start[i] * 1000).astype(np.int64)
            finish = begin + (total[i] * 1000).astype(np.int64)
            dur = np.round(total[i], 1)
            path = _paths(route, n, rng)
            st = status[i]
            sev = np.where(st >= 500, 17, np.where(st >= 400, 13, 9)).astype(np.int32)
            ms = pc.cast(pa.array(np.round(total[i]).astype(np.int64)), pa.string())
            body = pc.binary_join_element_wise(method, " ", path, " ", pc.cast(pa.array(st), pa.string()),
                                               " in ", ms, "ms", "")
            ids = dict(trace=trace, span=spans[i])
            self._log_rows(finish, sev, svc_arr, hosts, body, method=pa.repeat(method, n),
                           route=pa.repeat(route, n), status=st, dur=dur, **ids)
            request = pc.binary_join_element_wise(method, " ", path, "")
            ctx = {"ms": ms, "request": request}
            # informational lines, written mid-request
            p_app, tmpl = T.APP_LINES[svc]
            rows = np.flatnonzero((rng.random(n) < p_app) & (st < 500))
            mid = begin + (own[i] * 500).astype(np.int64)
            self._templated(tmpl, rows, mid, svc_arr, hosts, ctx, trace=trace, span=spans[i])
            if svc == "search":
                slow = np.flatnonzero((own[i] > 1000) & (st < 500))
                self._templated([(1, 13, T.SLOW_QUERY)], slow, finish, svc_arr, hosts, ctx,
                                trace=trace, span=spans[i])
            # error lines where a failure starts
            for c_idx in np.unique(cause[i][origin[i]]):
                rows = np.flatnonzero(origin[i] & (cause[i] == c_idx))
                key = (svc, self.tl.causes[c_idx] if c_idx >= 0 else "")
                tmpl_err = T.ORIGIN_ERRORS.get(key) or T.ORIGIN_ERRORS[(svc, "")]
                self._templated(tmpl_err, rows, finish - 1000, svc_arr, hosts, ctx, trace=trace, span=spans[i])
            # and where they pass through
            rows = np.flatnonzero(upstream[i] >= 0)
            if len(rows):
                up_names = pa.array([nodes[c][0] for c in range(k)])
                ctx_up = dict(ctx, upstream=pc.take(up_names, pa.array(np.maximum(upstream[i], 0))),
                              upstream_status=pc.cast(pa.array(status[np.maximum(upstream[i], 0), np.arange(n)]),
                                                      pa.string()))
                self._templated([(1, 17, T.UPSTREAM_ERROR)], rows, finish - 500, svc_arr, hosts, ctx_up,
                                trace=trace, span=spans[i])
            # spans of the kept traces
            sel = np.flatnonzero(keep)
            if len(sel):
                m = len(sel)
                parent_span = T.strings(spans[parent][sel]) if parent >= 0 else pa.nulls(m, pa.string())
                st_sel = st[sel]
                status_code = np.where(st_sel >= 500, 2, 0)
                self.spans.append(_table({
                    "Timestamp": pa.array(begin[sel], pa.timestamp("us", tz="UTC")),
                    "TraceId": T.strings(trace[sel]),
                    "SpanId": T.strings(spans[i][sel]),
                    "ParentSpanId": parent_span,
                    "SpanName": pa.repeat(f"{method} {route}", m),
                    "SpanKind": pa.repeat("SERVER", m),
                    "ServiceName": pa.repeat(svc, m),
                    "Duration": pa.array((total[i][sel] * 1e6).astype(np.int64)),
                    "StatusCode": pc.take(pa.array(["Unset", "Ok", "Error"]), pa.array(status_code)),
                    "StatusMessage": pc.if_else(pa.array(st_sel >= 500),
                                                pc.binary_join_element_wise("HTTP", pc.cast(pa.array(st_sel), pa.string()), " "),
                                                pa.scalar(None, pa.string())),
                    "ResourceAttributes": self._resource(svc_arr[sel], hosts[sel], begin[sel]),
                    "SpanAttributes": _string_map(
                        ["http.request.method", "http.route", "http.response.status_code", "host.name"],
                        [pa.repeat(method, m), pa.repeat(route, m), pc.cast(pa.array(st_sel), pa.string()),
                         pc.take(pa.array(HOSTS), pa.array(hosts[sel]))]),
                }, "spans"))

    # ------------------------------------------------------------ host lines
    def background(self) -> None:
        rng = self.rng
        bg_scale = max(self.scale, 0.25)  # hosts talk regardless of traffic; keep some in small worlds
        minute_us = self.day0_us + np.arange(DAY_MIN, dtype=np.int64) * US_MIN
        live = minute_us < self.end_us
        for h in range(len(HOSTS)):
            rate, tmpl = T.BACKGROUND[HOST_ROLE[h]]
            counts = rng.poisson(rate * bg_scale * live)
            n = int(counts.sum())
            ts = np.repeat(minute_us, counts) + rng.integers(0, US_MIN, size=n)
            svc = np.full(n, SVC_VOCAB.index(HOST_SERVICE[h]), dtype=np.int64)
            hosts = np.full(n, h, dtype=np.int64)
            self._templated(tmpl, np.arange(n), ts, svc, hosts, {})
        fill = self.plan.disk_fill
        if fill is None:
            return
        name, fill_start, full, cleaned = fill
        h = HOSTS.index(name)
        for lo, hi, rate, tmpl in ((fill_start + (full - fill_start) * 0.6, full, 0.5, T.DISK_WARN_LINES),
                                   (full, cleaned, 15.0, T.DISK_FULL_LINES)):
            a, b = _us(lo), _us(hi)
            inside = (minute_us >= a) & (minute_us < b) & live
            counts = rng.poisson(rate * bg_scale * inside)
            n = int(counts.sum())
            ts = np.repeat(minute_us, counts) + rng.integers(0, US_MIN, size=n)
            svc = np.full(n, SVC_VOCAB.index(HOST_SERVICE[h]), dtype=np.int64)
            self._templated(tmpl, np.arange(n), ts, svc, np.full(n, h, dtype=np.int64), {})

    def metrics(self) -> pa.Table:
        """cpu_used_percent, memory_used_percent and disk_used_percent per host per minute."""
        rng = self.rng
        minute_us = self.day0_us + np.arange(DAY_MIN, dtype=np.int64) * US_MIN
        minute_us = minute_us[minute_us < self.end_us]
        m, H = len(minute_us), len(HOSTS)
        load = diurnal(minute_us)
        start_us = _us(self.plan.world.start)
        days_in = (minute_us - start_us) / 86_400_000_000
        base_cpu = {"web": 22, "app": 30, "db": 28, "cache": 9, "search": 38}
        cpu = np.empty((H, m))
        mem = np.empty((H, m))
        disk = np.empty((H, m))
        host_rng = np.random.default_rng([self.plan.world.seed, 3])  # per-host constants, same every day
        disk_base = host_rng.uniform(35, 68, size=H)
        mem_base = host_rng.uniform(45, 70, size=H)
        minutes_rel = ((minute_us - self.day0_us) // US_MIN).astype(np.int64)
        for h in range(H):
            role, svc = HOST_ROLE[h], HOST_SERVICE[h]
            env_f = 0.3 if HOST_ENV[h] != "prod" else 1.0
            cpu[h] = base_cpu[role] * load * env_f + rng.normal(0, 3, m)
            if svc in self.tl.latency:
                cpu[h] += 40 * np.clip(self.tl.latency[svc][minutes_rel] - 1, 0, 1)
                cpu[h] += 60 * self.tl.error[svc][minutes_rel]
            mem[h] = mem_base[h] + 4 * np.sin(days_in * 2 * np.pi) + rng.normal(0, 0.8, m)
            disk[h] = disk_base[h] + 0.35 * days_in + rng.normal(0, 0.05, m)
        fill = self.plan.disk_fill
        if fill is not None:
            name, fill_start, full, cleaned = fill
            h = HOSTS.index(name)
            a, b, c = _us(fill_start), _us(full), _us(cleaned)
            rising = (minute_us >= a) & (minute_us < b)
            base = disk[h]
            frac = np.clip((minute_us - a) / max(b - a, 1), 0.0, 1.0)
            disk[h] = np.where(rising, base + (100 - base) * frac ** 1.5, base)
            disk[h] = np.where((minute_us >= b) & (minute_us < c), 99.7 + rng.uniform(0, 0.3, m), disk[h])
            disk[h] = np.where(minute_us >= c, base - 9, disk[h])
        cpu = np.clip(cpu, 0.5, 99.5)
        mem = np.clip(mem, 1, 99)
        disk = np.clip(disk, 1, 100)
        names = ["cpu_used_percent", "memory_used_percent", "disk_used_percent"]
        values = np.concatenate([cpu.ravel(), mem.ravel(), disk.ravel()])
        n = len(values)
        host_idx = np.tile(np.repeat(np.arange(H), m), 3)
        return pa.table({
            "Timestamp": pa.array(np.tile(minute_us, 3 * H), pa.timestamp("us", tz="UTC")),
            "MetricName": pc.take(pa.array(names), pa.array(np.repeat(np.arange(3), H * m))),
            "ServiceName": pc.take(pa.array(HOST_SERVICE), pa.array(host_idx)),
            "HostName": pc.take(pa.array(HOSTS), pa.array(host_idx)),
            "Value": pa.array(np.round(values, 2)),
            "Attributes": pa.nulls(n, pa.map_(pa.string(), pa.string())),
        }, schema=SCHEMAS["metrics"])

    # ---------------------------------------------------------------- output
    def render(self) -> dict[str, pa.Table]:
        """Every table of this day, each sorted by time."""
        self.traces()
        self.background()
        out = {"metrics": self.metrics()}
        for name, parts in (("logs", self.logs), ("spans", self.spans)):
            if parts:
                tbl = pa.concat_tables(parts)
                cut = pc.less(tbl.column("Timestamp"), pa.scalar(self.end_us, pa.timestamp("us", tz="UTC")))
                out[name] = tbl.filter(cut).sort_by("Timestamp")
        return out


T_CLIENT = CLIENT_ERROR


def _paths(route: str, n: int, rng: np.random.Generator) -> pa.Array:
    """Concrete request paths for a route template (ids and search terms filled in)."""
    if "{id}" in route:
        pre, post = route.split("{id}", 1)
        ids = T.ints(rng.integers(1000, 99999, size=n))
        return pc.binary_join_element_wise(pre, ids, post, "")
    if route in ("/search", "/api/search"):
        terms = pc.take(pa.array([t.replace(" ", "+") for t in T.TERMS]),
                        pa.array(rng.integers(0, len(T.TERMS), size=n)))
        return pc.binary_join_element_wise(route + "?q=", terms, "")
    return pa.repeat(route, n)


def days_of(start: datetime, end: datetime) -> list[datetime]:
    """Start instants of the 24-hour chunks covering ``[start, end)``."""
    out, t = [], start
    while t < end:
        out.append(t)
        t += timedelta(days=1)
    return out
