"""``ops.logs.window(...)``: everything about the minutes around a moment, in one call.

One scan of the window gives volume, errors and latency quantiles per minute;
message bodies of the window and of a baseline period feed the pattern diff
(new and spiking templates); error rows feed the error fingerprints; the most
erroring trace ids and the deploys of the period complete the picture. The window of an
incident (``incident="INC-1"``) also carries its top suspect changes, ranked with their reasons
by the deploys domain (``ops.deploys.suspects``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsnb.errors import ValidationError
from opsnb.logs import query as Q
from opsnb.timeparse import parse_duration, parse_instant

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from opsnb.workbench import Workbench

PATTERN_COLUMNS = ["template", "before", "after", "status", "ratio", "example"]
ERROR_COLUMNS = ["fingerprint", "label", "exception_type", "count", "first_seen", "last_seen", "services",
                 "sample_trace_ids", "example"]
DEPLOY_COLUMNS = ["time", "service", "env", "version", "label", "kind", "status", "id"]
SUSPECT_COLUMNS = ["rank", "score", "kind", "id", "service", "env", "summary", "at", "minutes_before", "reasons"]
TOP_SUSPECTS = 5
BODY_SAMPLE = 20_000  # messages per side mined for patterns: shares, not counts, are compared


@dataclass
class Window:
    """The evidence around one moment. Every attribute is a DataFrame except the times.

    Attributes:
        around: The moment of interest (UTC).
        start: Window start (``around - before``).
        end: Window end (``around + after``).
        baseline: ``(start, end)`` of the period patterns are compared against.
        service: The service looked at, or None for all.
        volume: ``time, count`` per bucket.
        error_rate: ``time, total, errors, error_ratio`` per bucket.
        latency: ``time, count, p50, p90, p99`` of DurationMs per bucket.
        patterns: New / spiking / vanished templates against the baseline.
        errors: Top error fingerprints of the window.
        trace_ids: Traces with the most errors in the window.
        deploys: Deploys that started in the window.
        notes: What could not be computed and why (a module missing, no data).
        incident: The incident the window is of, if any.
        suspects: That incident's top suspect changes (deploys, config, flags), best first, with
            ``reasons``; empty for a window around a bare moment.
    """

    around: datetime
    start: datetime
    end: datetime
    baseline: tuple[datetime, datetime]
    service: str | None
    volume: pd.DataFrame
    error_rate: pd.DataFrame
    latency: pd.DataFrame
    patterns: pd.DataFrame
    errors: pd.DataFrame
    trace_ids: pd.DataFrame
    deploys: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    incident: str | None = None
    suspects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SUSPECT_COLUMNS))

    @property
    def total(self) -> int:
        return int(self.volume["count"].sum()) if len(self.volume) else 0

    @property
    def error_total(self) -> int:
        return int(self.error_rate["errors"].sum()) if len(self.error_rate) else 0

    def summary(self) -> dict[str, Any]:
        """Headline numbers."""
        worst = None
        if len(self.error_rate) and self.error_rate["error_ratio"].notna().any():
            row = self.error_rate.loc[self.error_rate["error_ratio"].idxmax()]
            worst = {"time": row["time"], "error_ratio": float(row["error_ratio"])}
        return {"service": self.service, "around": self.around, "start": self.start, "end": self.end,
                "events": self.total, "errors": self.error_total, "worst_minute": worst,
                "new_patterns": int((self.patterns.get("status") == "new").sum()) if len(self.patterns) else 0,
                "deploys": len(self.deploys), "incident": self.incident,
                "prime_suspect": self.suspects.iloc[0]["id"] if len(self.suspects) else None}

    def figure(self) -> go.Figure:
        """Volume and errors, error ratio, and latency quantiles on one shared time axis."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                            subplot_titles=("events per bucket", "error ratio", "latency (ms)"))
        if len(self.error_rate):
            er = self.error_rate
            fig.add_trace(go.Bar(x=er["time"], y=er["total"] - er["errors"], name="ok",
                                 marker_color="#7f8c8d"), row=1, col=1)
            fig.add_trace(go.Bar(x=er["time"], y=er["errors"], name="errors", marker_color="#c0392b"),
                          row=1, col=1)
            fig.add_trace(go.Scatter(x=er["time"], y=er["error_ratio"], name="error ratio",
                                     mode="lines", line={"color": "#c0392b"}), row=2, col=1)
        for col, color in (("p50", "#2980b9"), ("p90", "#8e44ad"), ("p99", "#d35400")):
            if col in self.latency:
                fig.add_trace(go.Scatter(x=self.latency["time"], y=self.latency[col], name=col, mode="lines",
                                         line={"color": color}), row=3, col=1)
        fig.update_layout(barmode="stack", height=620, margin={"l": 50, "r": 20, "t": 50, "b": 30},
                          title=f"{self.service or 'all services'} around {self.around:%Y-%m-%d %H:%M} UTC",
                          legend={"orientation": "h"})
        fig.add_vline(x=self.around, line_dash="dash", line_color="black")
        for _, d in self.deploys.iterrows():
            fig.add_vline(x=d["time"], line_dash="dot", line_color="#27ae60")
            fig.add_annotation(x=d["time"], y=1.0, yref="paper", text=f"deploy {d.get('version', '')}",
                               showarrow=False, font={"color": "#27ae60", "size": 10})
        for _, c in self.suspects.iterrows():  # marked apart from plain deploys: these are ranked causes
            if self.start <= c["at"] <= self.end:
                fig.add_vline(x=c["at"], line_dash="dash", line_color="#e67e22")
                fig.add_annotation(x=c["at"], y=0.94, yref="paper", text=f"suspect #{c['rank']} {c['id']}",
                                   showarrow=False, font={"color": "#e67e22", "size": 10})
        return fig

    def _repr_html_(self) -> str:
        s = self.summary()
        worst = (f"{s['worst_minute']['error_ratio']:.1%} at {s['worst_minute']['time']:%H:%M}"
                 if s["worst_minute"] else "n/a")
        parts = [f"<h4>{html.escape(str(self.service or 'all services'))}: "
                 f"{self.start:%Y-%m-%d %H:%M} to {self.end:%H:%M} UTC</h4>",
                 f"<p>{s['events']:,} events, {s['errors']:,} errors, worst bucket {worst}, "
                 f"{s['new_patterns']} new patterns, {s['deploys']} deploys.</p>"]
        for title, df, cols in (
                ("New and spiking patterns", self.patterns, ["status", "template", "before", "after", "ratio",
                                                             "example"]),
                ("Top errors", self.errors, ["label", "exception_type", "count", "first_seen", "last_seen",
                                             "services", "example"]),
                ("Traces with errors", self.trace_ids, ["TraceId", "errors", "first_seen", "services", "example"]),
                ("Deploys", self.deploys, ["time", "service", "env", "version", "status", "id"]),
                ("Suspect changes", self.suspects.assign(reasons=self.suspects["reasons"].map("; ".join))
                 if len(self.suspects) else self.suspects, ["rank", "kind", "id", "summary", "minutes_before",
                                                            "reasons"])):
            if len(df):
                parts.append(f"<b>{title}</b>" + html_table(df.head(10), cols))
        for n in self.notes:
            parts.append(f"<p><i>{html.escape(n)}</i></p>")
        return "<div style='max-width:100%;overflow-x:auto'>" + "".join(parts) + "</div>"


_FOLD = 160  # characters of a one-line cell shown before the rest folds away


def html_cell(value: Any) -> str:
    """One cell for a notebook: escaped; a stack trace or long text folds to its first line.

    The rest is a ``<details>`` element, so a window of errors reads as a list of headlines
    and each trace opens on a click instead of running off the right edge.
    """
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        return "∞" if value == float("inf") else f"{value:.4g}"
    if isinstance(value, list | tuple) or (hasattr(value, "tolist") and not isinstance(value, str)):
        items = value.tolist() if hasattr(value, "tolist") else value
        value = ", ".join(str(v) for v in items) if isinstance(items, list) else str(items)
    text = str(value).rstrip()
    first, _, rest = text.partition("\n")
    if not rest and len(first) <= _FOLD:
        return html.escape(first)
    head = first if len(first) <= _FOLD else first[:_FOLD] + "…"
    return (f"<details><summary>{html.escape(head)}</summary>"
            f"<pre style='white-space:pre-wrap;word-break:break-word;margin:0'>{html.escape(text)}</pre></details>")


def html_table(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A DataFrame as a compact HTML table whose cells wrap and fold (see :func:`html_cell`)."""
    cols = [c for c in (columns or list(df.columns)) if c in df.columns] or list(df.columns)
    td = "style='text-align:left;vertical-align:top;white-space:normal;word-break:break-word'"
    head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in cols)
    rows = "".join("<tr>" + "".join(f"<td {td}>{html_cell(v)}</td>" for v in r) + "</tr>"
                   for r in df[cols].itertuples(index=False, name=None))
    return f"<table style='table-layout:auto;max-width:100%'><tr>{head}</tr>{rows}</table>"


def baseline_range(start: datetime, baseline: Any, end: datetime | None = None) -> tuple[datetime, datetime]:
    """The baseline period: ``"-24h"``/``"24h"``/timedelta = that long right before ``start``,
    or an explicit ``(start, end)`` pair."""
    if isinstance(baseline, tuple | list) and len(baseline) == 2:
        return Q.time_range(baseline[0], baseline[1])
    if isinstance(baseline, str) and baseline.strip().startswith("-"):
        # "-24h" is an instant relative to the window's start: the 24 hours before it
        length = start - parse_instant(baseline, now=start, name="baseline")
        if length <= timedelta(0):
            raise ValidationError("baseline must reach back before the window's start", field="baseline")
    else:
        length = parse_duration(baseline, name="baseline")
    return start - length, start


def bodies(ops: Workbench, flt: Q.LogFilter, n: int = BODY_SAMPLE) -> list[str]:
    """Up to ``n`` message bodies matching ``flt``, sampled evenly when there are more."""
    where, params = flt.sql()
    sql = (f'SELECT "Body" FROM (SELECT "Body" FROM logs WHERE {where}) '
           f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (7)")
    df = Q.run(ops.lake, sql, params, flt)
    return [b for b in df["Body"].tolist() if isinstance(b, str)]


def pattern_table(ops: Workbench, flt: Q.LogFilter, base: Q.LogFilter, top: int = 20,
                  notes: list[str] | None = None) -> pd.DataFrame:
    """The pattern diff of the filter's bodies against the baseline's."""
    from opsnb.logs.patterns import pattern_diff

    return pattern_diff(bodies(ops, base), bodies(ops, flt), top=top)


def error_rows(ops: Workbench, flt: Q.LogFilter, limit: int = 50_000) -> pd.DataFrame:
    """Error rows of the filter (newest ``limit``) with the columns fingerprinting needs."""
    from dataclasses import replace

    f = replace(flt, errors_only=True)
    return Q.select(ops.lake, f, columns=["Timestamp", "ServiceName", "HostName", "SeverityNumber",
                                          "SeverityText", "Body", "TraceId", "HttpStatus"],
                    limit=limit, order="desc")


def error_table(ops: Workbench, flt: Q.LogFilter, notes: list[str] | None = None) -> pd.DataFrame:
    """The error fingerprints of the filter's error rows."""
    from opsnb.logs.fingerprints import error_table as fingerprint_table

    return fingerprint_table(error_rows(ops, flt))


def deploy_markers(ops: Workbench, start: datetime, end: datetime, service: str | None,
                   notes: list[str] | None = None) -> pd.DataFrame:
    """Deploys in ``[start, end)`` from the deploys domain."""
    df = ops.deploys.markers(start, end, service=service)
    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(df)
    if "time" not in df.columns:
        for alt in ("started_at", "at", "timestamp", "Timestamp"):
            if alt in df.columns:
                df = df.rename(columns={alt: "time"})
                break
    return df.reset_index(drop=True)


def build(ops: Workbench, *, around: Any = None, service: str | None = None, before: Any = "30m",
          after: Any = "15m", baseline: Any = "1h", every: Any = "1m", top: int = 20, incident: str | None = None,
          **filters: Any) -> Window:
    """Compute a :class:`Window` (see :meth:`opsnb.logs.service.Logs.window`)."""
    if (around is None) == (incident is None):
        raise ValidationError("a window needs around= (a moment) or incident= (an incident id), one of them",
                              field="around")
    suspects = pd.DataFrame(columns=SUSPECT_COLUMNS)
    if incident is not None:
        inc = ops.incidents.get(incident)
        around, service = inc.started_at, service or inc.service
        suspects = ops.deploys.suspects(inc.id).head(TOP_SUSPECTS)[SUSPECT_COLUMNS].reset_index(drop=True)
    t = parse_instant(around, name="around")
    start = t - parse_duration(before, name="before", allow_zero=True)
    end = t + parse_duration(after, name="after", allow_zero=True)
    if end <= start:
        raise ValidationError("the window is empty: before and after are both zero", field="before")
    flt = Q.make_filter(start, end, service=service, **filters)
    notes: list[str] = []
    per = Q.metric(ops.lake, flt,
                   f"count(*) AS total, count(*) FILTER (WHERE {Q.ERROR_SQL}) AS errors, "
                   'count("DurationMs") AS count, '
                   'quantile_cont("DurationMs", [0.5, 0.9, 0.99]) AS _q',
                   every=every, fill={"total": 0, "errors": 0, "count": 0})
    for c in ("total", "errors", "count"):
        per[c] = per[c].astype("int64")
    qv = per.pop("_q")
    for k, name in enumerate(("p50", "p90", "p99")):
        per[name] = [Q.nth(v, k) for v in qv]
    per["error_ratio"] = (per["errors"] / per["total"].where(per["total"] > 0)).astype("float64")
    volume = per[["time", "total"]].rename(columns={"total": "count"})
    error_rate = per[["time", "total", "errors", "error_ratio"]].copy()
    latency = per[["time", "count", "p50", "p90", "p99"]].copy()
    b0, b1 = baseline_range(start, baseline)
    base = Q.make_filter(b0, b1, service=service, **filters)
    patterns = pattern_table(ops, flt, base, top=top, notes=notes)
    if len(patterns) and "status" in patterns:
        patterns = patterns[patterns["status"].isin(["new", "spiking"])].reset_index(drop=True)
    errors = error_table(ops, flt, notes=notes)
    where, params = Q.LogFilter(**{**flt.__dict__, "errors_only": True}).sql()
    trace_ids = Q.run(ops.lake, f"""
        SELECT "TraceId", count(*) AS errors, min("Timestamp") AS first_seen,
               string_agg(DISTINCT "ServiceName", ', ') AS services, any_value("Body") AS example
        FROM logs WHERE {where} AND "TraceId" IS NOT NULL
        GROUP BY "TraceId" ORDER BY errors DESC, first_seen LIMIT 10""", params, flt)
    deploys = deploy_markers(ops, start, end, service, notes=notes)
    if volume["count"].sum() == 0:
        notes.append("no log events in the window")
    return Window(around=t, start=start, end=end, baseline=(b0, b1), service=service, volume=volume,
                  error_rate=error_rate, latency=latency, patterns=patterns, errors=errors,
                  trace_ids=trace_ids, deploys=deploys, notes=notes, incident=incident, suspects=suspects)
