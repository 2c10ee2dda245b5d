"""A reconstructed trace: span tree, critical path, self time, waterfall.

Spans arrive as rows (OpenTelemetry columns); a trace is rebuilt as a tree
by ``ParentSpanId``. Real data is messy, so the builder is defensive: a span
whose parent never arrived becomes a root (the trace is *incomplete*), a
duplicated span id keeps its first row, and a parent cycle (corrupt data)
is broken rather than followed forever.

All times are integer microseconds internally (exact arithmetic: no float
drift in the critical path), reported as milliseconds.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#B279A2", "#72B7B2", "#EECA3B", "#9D755D", "#FF9DA6",
           "#BAB0AC", "#79706E", "#D67195", "#439894"]
SPAN_COLUMNS = ["span_id", "parent_span_id", "service", "name", "kind", "start", "end", "offset_ms",
                "duration_ms", "self_ms", "depth", "status", "status_message", "attributes"]
MAX_DEPTH = 500  # deeper chains are corrupt data: deeper spans are listed, not descended into


def service_colors(services: list[str]) -> dict[str, str]:
    """A stable color per service (sorted names map to the palette in order)."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sorted(set(services)))}


@dataclass
class _Node:
    idx: int
    span_id: str
    parent: str | None
    b: int  # start, microseconds since epoch
    e: int  # end
    children: list[_Node]


class Trace:
    """One trace. Build it with ``ops.traces.get(trace_id)`` or :meth:`from_frame`.

    Attributes:
        trace_id: The trace id.
        spans: DataFrame, one row per span in tree order (depth-first, children by start):
            span_id, parent_span_id, service, name, kind, start, end (UTC), offset_ms (from the
            trace start), duration_ms, self_ms, depth, status, status_message, attributes.
        incomplete: True when some span's parent is missing (it was shown as a root).
    """

    def __init__(self, trace_id: str, spans: pd.DataFrame, *, incomplete: bool, ops: Any = None) -> None:
        self.trace_id = trace_id
        self.spans = spans
        self.incomplete = incomplete
        self._ops = ops
        self._roots: list[_Node] = []

    # ---------------------------------------------------------------- building
    @classmethod
    def from_frame(cls, trace_id: str, raw: pd.DataFrame, ops: Any = None) -> Trace:
        """Build a trace from lake ``spans`` rows (Timestamp, SpanId, ParentSpanId, Duration ns, ...)."""
        raw = raw.drop_duplicates("SpanId", keep="first").reset_index(drop=True)
        ts = pd.to_datetime(raw["Timestamp"], utc=True).dt.tz_convert(None)
        start_us = ts.to_numpy().astype("datetime64[us]").astype("int64")
        dur_us = raw["Duration"].fillna(0).clip(lower=0).astype("int64") // 1000
        nodes: dict[str, _Node] = {}
        for i, (sid, parent, b, d) in enumerate(zip(raw["SpanId"], raw["ParentSpanId"], start_us, dur_us,
                                                    strict=True)):
            p = parent if isinstance(parent, str) and parent else None
            nodes[str(sid)] = _Node(i, str(sid), p, int(b), int(b) + int(d), [])
        roots: list[_Node] = []
        incomplete = False
        for n in nodes.values():
            parent_node = nodes.get(n.parent) if n.parent else None
            if parent_node is None or parent_node is n:
                incomplete |= n.parent is not None
                roots.append(n)
            else:
                parent_node.children.append(n)
        # Cycles: nodes unreachable from any root belong to a parent loop; cut it at its earliest span.
        order, depth = cls._walk(roots)
        if len(order) < len(nodes):
            seen = {n.span_id for n in order}
            for n in sorted((n for n in nodes.values() if n.span_id not in seen), key=lambda n: n.b):
                if n.span_id in seen:
                    continue
                parent_node = nodes.get(n.parent or "")
                if parent_node is not None:
                    parent_node.children = [c for c in parent_node.children if c is not n]
                roots.append(n)
                incomplete = True
                more, more_depth = cls._walk([n])
                order.extend(more)
                depth.update(more_depth)
                seen.update(m.span_id for m in more)
            roots.sort(key=lambda n: n.b)
            order, depth = cls._walk(roots)
        t0 = min((n.b for n in nodes.values()), default=0)
        rows = []
        for n in order:
            r = raw.iloc[n.idx]
            attrs = r.get("SpanAttributes")
            rows.append({
                "span_id": n.span_id, "parent_span_id": n.parent, "service": r.get("ServiceName"),
                "name": r.get("SpanName"), "kind": r.get("SpanKind"),
                "start": pd.Timestamp(n.b, unit="us", tz="UTC"), "end": pd.Timestamp(n.e, unit="us", tz="UTC"),
                "offset_ms": (n.b - t0) / 1000, "duration_ms": (n.e - n.b) / 1000,
                "self_ms": _self_us(n) / 1000, "depth": depth[n.span_id],
                "status": r.get("StatusCode") or "Unset", "status_message": r.get("StatusMessage"),
                "attributes": _attrs(attrs),
            })
        spans = pd.DataFrame(rows, columns=SPAN_COLUMNS)
        for c in ("start", "end"):
            spans[c] = pd.to_datetime(spans[c], utc=True)
        t = cls(trace_id, spans, incomplete=incomplete, ops=ops)
        t._roots = roots
        return t

    @staticmethod
    def _walk(roots: list[_Node]) -> tuple[list[_Node], dict[str, int]]:
        order: list[_Node] = []
        depth: dict[str, int] = {}
        seen: set[str] = set()
        stack = [(r, 0) for r in sorted(roots, key=lambda n: n.b, reverse=True)]
        while stack:
            n, d = stack.pop()
            if n.span_id in seen:
                continue
            seen.add(n.span_id)
            order.append(n)
            depth[n.span_id] = d
            if d < MAX_DEPTH:
                stack.extend((c, d + 1) for c in sorted(n.children, key=lambda c: c.b, reverse=True))
        return order, depth

    # --------------------------------------------------------------- summaries
    @property
    def start(self) -> pd.Timestamp:
        return self.spans["start"].min()

    @property
    def end(self) -> pd.Timestamp:
        return self.spans["end"].max()

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start).total_seconds() * 1000

    @property
    def root(self) -> pd.Series:
        """The first root span (earliest)."""
        return self.spans.iloc[0]

    @property
    def services(self) -> list[str]:
        return sorted({s for s in self.spans["service"].dropna()})

    @property
    def errors(self) -> int:
        return int((self.spans["status"] == "Error").sum())

    def self_time(self) -> pd.DataFrame:
        """Time each service spent itself (span time not covered by its children).

        Returns:
            DataFrame service, self_ms, share (of the summed self time), spans, errors; largest first.
        """
        g = self.spans.groupby("service", dropna=False).agg(
            self_ms=("self_ms", "sum"), spans=("span_id", "count"),
            errors=("status", lambda s: int((s == "Error").sum())))
        total = g["self_ms"].sum()
        g["share"] = g["self_ms"] / total if total else 0.0
        return g.reset_index()[["service", "self_ms", "share", "spans", "errors"]].sort_values(
            "self_ms", ascending=False, ignore_index=True)

    def critical_path(self) -> pd.DataFrame:
        """The chain of work that set the trace's duration: shorten any of it and the trace ends sooner.

        Walking back from the root's end, the child that finished last holds the path; before it
        started, the next child that finished before that, and so on; gaps are the parent's own work.

        Returns:
            DataFrame of segments in time order: span_id, service, name, start_ms, end_ms, duration_ms
            (offsets from the trace start). Their durations sum to the root's duration.
        """
        roots = self._roots
        if not roots:
            return pd.DataFrame(columns=["span_id", "service", "name", "start_ms", "end_ms", "duration_ms"])
        root = max(roots, key=lambda n: n.e - n.b)
        segs: list[tuple[_Node, int, int]] = []
        _critical(root, root.e, segs, 0)
        segs.sort(key=lambda s: s[1])
        info = self.spans.set_index("span_id")
        t0 = min(n.b for n in roots)
        rows = [{"span_id": n.span_id, "service": info.at[n.span_id, "service"], "name": info.at[n.span_id, "name"],
                 "start_ms": (b - t0) / 1000, "end_ms": (e - t0) / 1000, "duration_ms": (e - b) / 1000}
                for n, b, e in segs if e > b]
        # adjacent pieces of the same span read better as one
        merged: list[dict[str, Any]] = []
        for r in rows:
            if merged and merged[-1]["span_id"] == r["span_id"] and merged[-1]["end_ms"] == r["start_ms"]:
                merged[-1]["end_ms"] = r["end_ms"]
                merged[-1]["duration_ms"] = merged[-1]["end_ms"] - merged[-1]["start_ms"]
            else:
                merged.append(r)
        return pd.DataFrame(merged, columns=["span_id", "service", "name", "start_ms", "end_ms", "duration_ms"])

    def logs(self) -> pd.DataFrame:
        """Log lines of this trace (lake ``logs`` by TraceId), each beside its span's service and name.

        Returns:
            DataFrame Timestamp, offset_ms, ServiceName, SeverityText, Body, SpanId, span_name.
        """
        from datetime import timedelta

        cols = ["Timestamp", "offset_ms", "ServiceName", "SeverityText", "Body", "SpanId", "span_name"]
        if self._ops is None:
            return pd.DataFrame(columns=cols)
        lo = self.start.to_pydatetime() - timedelta(hours=1)
        hi = self.end.to_pydatetime() + timedelta(hours=1)
        df = self._ops.lake.query(
            "SELECT Timestamp, ServiceName, SeverityText, Body, SpanId FROM logs WHERE TraceId = $t "
            "ORDER BY Timestamp", {"t": self.trace_id}, start=lo, end=hi, tables=["logs"])
        df["offset_ms"] = (df["Timestamp"] - self.start).dt.total_seconds() * 1000
        names = dict(zip(self.spans["span_id"], self.spans["name"], strict=True))
        df["span_name"] = df["SpanId"].map(names)
        return df[cols]

    # ---------------------------------------------------------------- pictures
    def waterfall(self, *, highlight_critical: bool = True, logs: bool = False) -> go.Figure:
        """Plotly waterfall: one bar per span (tree order, root on top), coloured by service.

        Error spans get a red outline; the critical path is drawn as a thin black bar inside.

        Args:
            highlight_critical: Draw the critical path.
            logs: Also mark each log line of the trace on its span's row, at its time
                (hover shows the line; errors in red).
        """
        import plotly.graph_objects as go

        s = self.spans.reset_index(drop=True)
        labels = [f"{i:>3} {'  ' * int(d)}{svc}: {name}"
                  for i, (d, svc, name) in enumerate(zip(s["depth"], s["service"], s["name"], strict=True))]
        colors = service_colors([str(x) for x in s["service"]])
        fig = go.Figure()
        for svc in sorted(colors):
            part = s[s["service"].astype(str) == svc]
            fig.add_trace(go.Bar(
                name=svc, orientation="h", y=[labels[i] for i in part.index], x=part["duration_ms"],
                base=part["offset_ms"], marker={
                    "color": colors[svc],
                    "line": {"color": ["#d62728" if st == "Error" else colors[svc] for st in part["status"]],
                             "width": [3 if st == "Error" else 0 for st in part["status"]]}},
                customdata=list(zip(part["span_id"], part["status"], part["self_ms"], strict=True)),
                hovertemplate=("%{y}<br>start +%{base:.1f} ms, %{x:.1f} ms<br>self %{customdata[2]:.1f} ms"
                               "<br>status %{customdata[1]}<br>span %{customdata[0]}<extra></extra>")))
        if highlight_critical and len(s):
            cp = self.critical_path()
            row_of = dict(zip(s["span_id"], labels, strict=True))
            fig.add_trace(go.Bar(name="critical path", orientation="h", y=[row_of[x] for x in cp["span_id"]],
                                 x=cp["duration_ms"], base=cp["start_ms"], width=0.2,
                                 marker={"color": "black"}, hoverinfo="skip"))
        if logs and len(s):
            lg = self.logs()
            row_of = dict(zip(s["span_id"], labels, strict=True))
            lg = lg[lg["SpanId"].isin(row_of)]
            if len(lg):
                err = lg["SeverityText"].fillna("").str.upper().isin(["ERROR", "FATAL", "CRITICAL"])
                fig.add_trace(go.Scatter(
                    name="logs", mode="markers", x=lg["offset_ms"], y=[row_of[x] for x in lg["SpanId"]],
                    marker={"symbol": "diamond", "size": 9, "color": ["#d62728" if e else "#333" for e in err]},
                    hovertext=[str(b)[:300] for b in lg["Body"]], hoverinfo="text"))
        fig.update_layout(
            barmode="overlay", title=f"trace {self.trace_id}: {self.duration_ms:.1f} ms, {len(s)} spans"
                                     f"{' (incomplete)' if self.incomplete else ''}",
            xaxis_title="ms since trace start", height=max(240, 60 + 22 * len(s)),
            legend_title="service", margin={"l": 10, "r": 10, "t": 50, "b": 40})
        fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
        return fig

    def _repr_html_(self) -> str:
        s = self.spans
        total = max(self.duration_ms, 1e-9)
        colors = service_colors([str(x) for x in s["service"]])
        rows = []
        for r in s.head(200).itertuples():
            left, width = 100 * r.offset_ms / total, max(100 * r.duration_ms / total, 0.3)
            err = " style='color:#d62728'" if r.status == "Error" else ""
            rows.append(
                f"<tr><td{err} style='white-space:nowrap;padding-left:{8 + 14 * r.depth}px'>"
                f"{html.escape(str(r.service))}: {html.escape(str(r.name))}</td>"
                f"<td style='text-align:right'>{r.duration_ms:.1f}</td>"
                f"<td style='width:50%'><div style='margin-left:{left:.2f}%;width:{width:.2f}%;height:10px;"
                f"background:{colors.get(str(r.service), '#888')}'></div></td></tr>")
        more = f"<p>... {len(s) - 200} more spans</p>" if len(s) > 200 else ""
        return (f"<b>trace</b> <code>{html.escape(self.trace_id)}</code> &middot; {self.duration_ms:.1f} ms"
                f" &middot; {len(s)} spans &middot; {len(self.services)} services &middot; {self.errors} errors"
                f"{' &middot; <i>incomplete</i>' if self.incomplete else ''}"
                f"<table><tr><th>span</th><th>ms</th><th></th></tr>{''.join(rows)}</table>{more}")

    def __repr__(self) -> str:
        return f"<Trace {self.trace_id} {self.duration_ms:.1f} ms, {len(self.spans)} spans>"


def _attrs(v: Any) -> dict[str, Any]:
    """A map column as a dict (DuckDB/Arrow hand maps over as dicts or lists of pairs; nulls as NA)."""
    if isinstance(v, dict):
        return {str(k): x for k, x in v.items()}
    if isinstance(v, list | tuple):
        out: dict[str, Any] = {}
        for item in v:
            if isinstance(item, dict) and "key" in item:
                out[str(item["key"])] = item.get("value")
            elif isinstance(item, list | tuple) and len(item) == 2:
                out[str(item[0])] = item[1]
        return out
    return {}


def _self_us(n: _Node) -> int:
    """Span time not covered by the union of its children (clipped to the span)."""
    iv = sorted((max(c.b, n.b), min(c.e, n.e)) for c in n.children)
    covered, cur_b, cur_e = 0, None, None
    for b, e in iv:
        if e <= b:
            continue
        if cur_e is None or b > cur_e:
            if cur_e is not None and cur_b is not None:
                covered += cur_e - cur_b
            cur_b, cur_e = b, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None and cur_b is not None:
        covered += cur_e - cur_b
    return max(n.e - n.b - covered, 0)


def _critical(n: _Node, bound: int, out: list[tuple[_Node, int, int]], depth: int) -> None:
    """Append the critical-path segments of ``n`` ending no later than ``bound``."""
    cursor = min(n.e, bound)
    if depth < MAX_DEPTH:
        for c in sorted(n.children, key=lambda c: c.e, reverse=True):
            c_end = min(c.e, cursor)
            if c.b >= cursor or c_end <= n.b:
                continue  # starts after the part already explained, or outside the span
            if c_end < cursor:
                out.append((n, c_end, cursor))  # the parent's own work after the child returned
            _critical(c, c_end, out, depth + 1)
            cursor = max(c.b, n.b)
            if cursor <= n.b:
                break
    if cursor > n.b:
        out.append((n, n.b, cursor))
