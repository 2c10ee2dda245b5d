"""``ops.traces``: find traces, rebuild one, the service graph, compare a good and a bad trace.

Spans live in the lake's ``spans`` table (OpenTelemetry columns, Duration in
nanoseconds). Aggregations (find, service graph) run in DuckDB over the day
partitions of the window; only a single trace is rebuilt in Python.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsnb.errors import NotFound, ValidationError
from opsnb.timeparse import parse_instant, parse_range
from opsnb.traces.model import Trace, service_colors

if TYPE_CHECKING:
    import plotly.graph_objects as go

_SPAN_COLS = ("Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration, "
              "StatusCode, StatusMessage, SpanAttributes")
GRAPH_COLUMNS = ["caller", "callee", "requests", "errors", "error_rate", "p50_ms", "p99_ms"]
FIND_COLUMNS = ["trace_id", "start", "duration_ms", "root_service", "root_name", "spans", "errors", "services"]
STATUSES = ("error", "ok", "any")


def _window(start: Any, end: Any) -> tuple[datetime, datetime]:
    return parse_range(start, end, names=("start", "end"))


class Traces:
    """Trace queries over the lake (``ops.traces``)."""

    def __init__(self, ops: Any) -> None:
        self._ops = ops

    # ------------------------------------------------------------------ one
    def get(self, trace_id: str, *, around: Any = None) -> Trace:
        """Rebuild one trace.

        Args:
            trace_id: The trace id (hex).
            around: A time near the trace, to read only the day partitions around it (faster).

        Raises:
            NotFound: No span has this trace id.
        """
        if not isinstance(trace_id, str) or not trace_id.strip() or len(trace_id) > 128:
            raise ValidationError(f"bad trace id {trace_id!r}", field="trace_id")
        trace_id = trace_id.strip()
        lo = hi = None
        if around is not None:
            t = parse_instant(around, name="around")
            lo, hi = t - timedelta(days=1), t + timedelta(days=1)
        raw = self._ops.lake.query(f"SELECT {_SPAN_COLS} FROM spans WHERE TraceId = $t ORDER BY Timestamp",
                                   {"t": trace_id}, start=lo, end=hi, tables=["spans"])
        if raw.empty:
            raise NotFound(f"no trace {trace_id}", kind="trace", key=trace_id)
        return Trace.from_frame(trace_id, raw, ops=self._ops)

    # ------------------------------------------------------------------ many
    def find(self, start: Any, end: Any = None, *, service: str | None = None,
             min_duration: float | None = None, status: str = "any", limit: int = 100) -> pd.DataFrame:
        """Traces that started in ``[start, end)``.

        Args:
            start: Window start.
            end: Window end (default now).
            service: Only traces that touch this service.
            min_duration: Only traces at least this long, in milliseconds.
            status: ``error`` (some span failed), ``ok`` (none did) or ``any``.
            limit: Most rows returned (longest traces first).

        Returns:
            DataFrame trace_id, start, duration_ms, root_service, root_name, spans, errors, services.
        """
        lo, hi = _window(start, end)
        if status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}, got {status!r}", field="status")
        having = ["true"]
        params: dict[str, Any] = {"lo": lo, "hi": hi, "lim": int(limit)}
        if service:
            having.append("bool_or(ServiceName = $svc)")
            params["svc"] = service
        if min_duration is not None:
            having.append("(max(e) - min(b)) / 1000.0 >= $mind")
            params["mind"] = float(min_duration)
        if status == "error":
            having.append("count(*) FILTER (WHERE StatusCode = 'Error') > 0")
        elif status == "ok":
            having.append("count(*) FILTER (WHERE StatusCode = 'Error') = 0")
        sql = f"""
            WITH s AS (
                SELECT TraceId, SpanName, ServiceName, StatusCode,
                       epoch_us(Timestamp) AS b, epoch_us(Timestamp) + Duration // 1000 AS e,
                       CASE WHEN coalesce(ParentSpanId, '') = '' THEN 0 ELSE 1 END AS child
                FROM spans WHERE Timestamp >= $lo AND Timestamp < $hi)
            SELECT TraceId AS trace_id, make_timestamptz(min(b)) AS start,
                   round((max(e) - min(b)) / 1000.0, 3) AS duration_ms,
                   arg_min(ServiceName, child * 100000000000000000 + b) AS root_service,
                   arg_min(SpanName, child * 100000000000000000 + b) AS root_name,
                   count(*) AS spans, count(*) FILTER (WHERE StatusCode = 'Error') AS errors,
                   list_sort(list(DISTINCT ServiceName)) AS services
            FROM s GROUP BY TraceId HAVING {' AND '.join(having)}
            ORDER BY duration_ms DESC, trace_id LIMIT $lim"""
        df = self._ops.lake.query(sql, params, start=lo, end=hi, tables=["spans"])
        if df.empty:
            return pd.DataFrame(columns=FIND_COLUMNS)
        df["services"] = df["services"].map(list)
        return df[FIND_COLUMNS]

    def service_graph(self, start: Any, end: Any = None) -> pd.DataFrame:
        """Calls between services in ``[start, end)``: one row per (caller, callee) edge.

        A call is a span whose parent span belongs to another service (so a client span and
        the server span it caused count once).

        Returns:
            DataFrame caller, callee, requests, errors, error_rate, p50_ms, p99_ms; busiest first.
        """
        lo, hi = _window(start, end)
        sql = """
            WITH s AS (SELECT TraceId, SpanId, ParentSpanId, ServiceName, Duration, StatusCode
                       FROM spans WHERE Timestamp >= $lo AND Timestamp < $hi)
            SELECT p.ServiceName AS caller, c.ServiceName AS callee, count(*) AS requests,
                   count(*) FILTER (WHERE c.StatusCode = 'Error') AS errors,
                   quantile_cont(c.Duration, 0.5) / 1e6 AS p50_ms,
                   quantile_cont(c.Duration, 0.99) / 1e6 AS p99_ms
            FROM s AS c JOIN s AS p ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
            WHERE p.ServiceName IS DISTINCT FROM c.ServiceName
            GROUP BY 1, 2 ORDER BY requests DESC, caller, callee"""
        df = self._ops.lake.query(sql, {"lo": lo, "hi": hi}, start=lo, end=hi, tables=["spans"])
        if df.empty:
            return pd.DataFrame(columns=GRAPH_COLUMNS)
        df["error_rate"] = (df["errors"] / df["requests"]).round(4)
        df[["p50_ms", "p99_ms"]] = df[["p50_ms", "p99_ms"]].round(3)  # microsecond precision is plenty
        return df[GRAPH_COLUMNS]

    def graph_figure(self, start: datetime, end: datetime | None = None) -> go.Figure:
        """The service graph as a Plotly figure: services on a circle, arrows caller -> callee.

        Arrow width grows with requests; its colour goes from grey to red with the error rate.
        """
        import plotly.graph_objects as go

        edges = self.service_graph(start, end)
        names = sorted(set(edges["caller"].dropna()) | set(edges["callee"].dropna()))
        pos = {n: (math.cos(2 * math.pi * i / max(len(names), 1)), math.sin(2 * math.pi * i / max(len(names), 1)))
               for i, n in enumerate(names)}
        colors = service_colors(names)
        fig = go.Figure()
        top = max(edges["requests"].max(), 1) if len(edges) else 1
        for r in edges.itertuples():
            if r.caller not in pos or r.callee not in pos:
                continue
            (x0, y0), (x1, y1) = pos[r.caller], pos[r.callee]
            red = min(1.0, float(r.error_rate) * 5)
            fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=3, standoff=18, startstandoff=18,
                               arrowwidth=1 + 5 * r.requests / top,
                               arrowcolor=f"rgba({int(120 + 135 * red)},{int(120 * (1 - red))},{int(120 * (1 - red))},0.8)")
            fig.add_trace(go.Scatter(
                x=[(x0 + x1) / 2], y=[(y0 + y1) / 2], mode="markers", marker={"size": 6, "opacity": 0},
                showlegend=False,
                hovertext=f"{r.caller} → {r.callee}<br>{r.requests} requests, {r.errors} errors "
                          f"({r.error_rate:.1%})<br>p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms",
                hoverinfo="text"))
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text", text=names,
            textposition="top center", marker={"size": 26, "color": [colors[n] for n in names]},
            hoverinfo="text", showlegend=False))
        fig.update_layout(title="service graph", height=520, xaxis={"visible": False, "range": [-1.4, 1.4]},
                          yaxis={"visible": False, "range": [-1.3, 1.4], "scaleanchor": "x"},
                          margin={"l": 10, "r": 10, "t": 50, "b": 10})
        return fig

    # --------------------------------------------------------------- compare
    def compare(self, good_id: str, bad_id: str) -> pd.DataFrame:
        """Align two traces span by span (by their service/operation path) and show where time went.

        The n-th call to the same operation under the same parent path aligns with the n-th in
        the other trace; spans only one trace has appear with the other side empty.

        Returns:
            DataFrame path, service, operation, depth, good_ms, bad_ms, delta_ms, good_self_ms,
            bad_self_ms, delta_self_ms, good_status, bad_status, presence (both | good only |
            bad only); in the bad trace's tree order, then spans only the good trace has.
        """
        good, bad = self.get(good_id), self.get(bad_id)
        g, b = _paths(good.spans), _paths(bad.spans)
        m = b.merge(g, on="path", how="outer", suffixes=("_bad", "_good"), indicator=True)
        m["presence"] = m["_merge"].map({"both": "both", "left_only": "bad only", "right_only": "good only"}).astype(str)
        out = pd.DataFrame({
            "path": m["path"],
            "service": m["service_bad"].combine_first(m["service_good"]),
            "operation": m["name_bad"].combine_first(m["name_good"]),
            "depth": m["depth_bad"].combine_first(m["depth_good"]).astype(int),
            "good_ms": m["duration_ms_good"], "bad_ms": m["duration_ms_bad"],
            "delta_ms": m["duration_ms_bad"].fillna(0) - m["duration_ms_good"].fillna(0),
            "good_self_ms": m["self_ms_good"], "bad_self_ms": m["self_ms_bad"],
            "delta_self_ms": m["self_ms_bad"].fillna(0) - m["self_ms_good"].fillna(0),
            "good_status": m["status_good"], "bad_status": m["status_bad"], "presence": m["presence"],
            "_o1": m["order_bad"].fillna(math.inf), "_o2": m["order_good"].fillna(math.inf),
        })
        return out.sort_values(["_o1", "_o2"], ignore_index=True).drop(columns=["_o1", "_o2"])


def _paths(spans: pd.DataFrame) -> pd.DataFrame:
    """Each span's path: parent path > service:operation, with #n for the n-th repeat among siblings."""
    path_of: dict[str, str] = {}
    seen: dict[str, int] = {}
    paths = []
    for sid, parent, svc, name in zip(spans["span_id"], spans["parent_span_id"], spans["service"], spans["name"],
                                      strict=True):
        base = (path_of.get(parent, "") + " > " if parent in path_of else "") + f"{svc}:{name}"
        k = seen.get(base, 0)
        seen[base] = k + 1
        p = base if k == 0 else f"{base}#{k + 1}"
        path_of[sid] = p
        paths.append(p)
    out = spans[["service", "name", "depth", "duration_ms", "self_ms", "status"]].copy()
    out["path"] = paths
    out["order"] = range(len(out))
    return out
