"""Plotly figure builders shared by notebooks and dashboards.

Each builder takes a tidy DataFrame (UTC times) and returns a ``go.Figure`` with
the house look: one colour per service everywhere, deploys as dotted vertical
lines, incident windows shaded, times in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

PALETTE: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
SERVICE_COLORS: dict[str, str] = dict(zip(
    ("frontend", "checkout", "payments", "catalog", "search", "auth", "postgres", "redis"), PALETTE, strict=False))
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
    "hovermode": "x unified",
}


def color_of(name: str) -> str:
    """The colour of a service (stable across figures)."""
    if name not in SERVICE_COLORS:
        SERVICE_COLORS[name] = PALETTE[len(SERVICE_COLORS) % len(PALETTE)]
    return SERVICE_COLORS[name]


def timeseries(df: pd.DataFrame, *, x: str, y: str, color: str | None = None, title: str = "",
               yaxis_title: str = "", percent: bool = False, markers: pd.DataFrame | None = None,
               windows: Iterable[tuple[datetime, datetime, str]] = (), height: int = 380) -> go.Figure:
    """Lines of ``y`` over ``x``, one per ``color`` group, with deploy markers and shaded windows.

    Args:
        df: Tidy rows (``x`` is a UTC time column).
        x, y, color: Column names; ``color`` groups lines (a service column, usually).
        percent: Format the y axis as a percentage (values are ratios 0..1).
        markers: Deploys as from ``ops.deploys.markers`` (``at``, ``label``, ``kind``).
        windows: ``(start, end, label)`` spans to shade (incident impact).
    """
    fig = go.Figure()
    groups: Sequence[tuple[Any, pd.DataFrame]] = list(df.groupby(color, sort=True)) if color else [(y, df)]
    for name, part in groups:
        part = part.sort_values(x)
        fig.add_trace(go.Scatter(x=part[x], y=part[y], name=str(name), mode="lines",
                                 line={"width": 1.6, "color": color_of(str(name)) if color else None}))
    fig.update_layout(title=title, height=height, yaxis_title=yaxis_title, xaxis_title="time (UTC)", **LAYOUT)
    if percent:
        fig.update_yaxes(tickformat=".1%")
    add_windows(fig, windows)
    if markers is not None:
        add_markers(fig, markers)
    return fig


def add_markers(fig: go.Figure, markers: pd.DataFrame) -> go.Figure:
    """Draw deploys (``at``, ``label``, ``kind``) as dotted vertical lines, rollbacks in orange."""
    for row in markers.itertuples(index=False):
        at = pd.Timestamp(row.at)
        colour = "#e67e22" if getattr(row, "kind", "deploy") == "rollback" else "#7f8c8d"
        fig.add_shape(type="line", x0=at, x1=at, y0=0, y1=1, yref="paper",
                      line={"dash": "dot", "width": 1.2, "color": colour})
        fig.add_annotation(x=at, y=1, yref="paper", text=str(row.label), showarrow=False, textangle=-90,
                           xanchor="right", yanchor="top", font={"size": 10, "color": colour})
    return fig


def add_windows(fig: go.Figure, windows: Iterable[tuple[datetime, datetime, str]]) -> go.Figure:
    """Shade ``(start, end, label)`` spans, e.g. an incident's impact."""
    for start, end, label in windows:
        fig.add_vrect(x0=pd.Timestamp(start), x1=pd.Timestamp(end), fillcolor="#e74c3c", opacity=0.08,
                      line_width=0, annotation_text=label, annotation_position="top left")
    return fig


def top_bar(df: pd.DataFrame, *, label: str, value: str, title: str = "", max_label: int = 90,
            height: int | None = None) -> go.Figure:
    """A horizontal bar chart of the largest ``value`` rows, labels cut to ``max_label`` characters."""
    part = df.sort_values(value, ascending=True)
    labels = [s if len(s) <= max_label else s[: max_label - 1] + "…" for s in part[label].astype(str)]
    fig = go.Figure(go.Bar(x=part[value], y=labels, orientation="h", marker_color="#c0392b"))
    fig.update_layout(title=title, height=height or max(220, 30 * len(part) + 90), xaxis_title=value,
                      **{**LAYOUT, "margin": {"l": 20, "r": 20, "t": 50, "b": 40}})
    fig.update_yaxes(automargin=True)
    return fig


def waterfall(spans: pd.DataFrame, *, title: str = "") -> go.Figure:
    """One trace as a waterfall: a bar per span from its start, indented by depth, errors in red.

    ``spans`` needs Timestamp, SpanId, ParentSpanId, ServiceName, SpanName, Duration (ns), StatusCode.
    """
    if spans.empty:
        return go.Figure().update_layout(title=title or "no spans", **LAYOUT)
    df = spans.copy()
    parent = dict(zip(df["SpanId"], df["ParentSpanId"], strict=True))

    def depth(sid: str) -> int:
        d, cur = 0, parent.get(sid)
        while isinstance(cur, str) and cur in parent and d < 50:
            d, cur = d + 1, parent.get(cur)
        return d

    df["depth"] = [depth(s) for s in df["SpanId"]]
    t0 = df["Timestamp"].min()
    df["start_ms"] = (df["Timestamp"] - t0).dt.total_seconds() * 1000
    df["ms"] = df["Duration"] / 1e6
    df = df.sort_values(["start_ms", "depth"]).reset_index(drop=True)
    labels = ["  " * d + f"{svc}: {name}" for d, svc, name in zip(df["depth"], df["ServiceName"], df["SpanName"],
                                                                    strict=True)]
    colours = ["#c0392b" if s == "Error" else color_of(str(svc)) for s, svc in zip(df["StatusCode"], df["ServiceName"],
                                                                                    strict=True)]
    fig = go.Figure(go.Bar(base=df["start_ms"], x=df["ms"], y=labels, orientation="h", marker_color=colours,
                           hovertemplate="%{y}<br>start %{base:.1f} ms, took %{x:.1f} ms<extra></extra>"))
    fig.update_layout(title=title, height=max(200, 34 * len(df) + 80), xaxis_title="ms since trace start",
                      **{**LAYOUT, "hovermode": "closest"})
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def style_health(df: pd.DataFrame, *, ratio_columns: Sequence[str] = (), bad: float = 0.01) -> Any:
    """A pandas Styler for a service health table: error ratios as percentages, red above ``bad``."""
    fmt: dict[str, Any] = {c: "{:.2%}" for c in ratio_columns}
    for c in df.columns:
        if c not in fmt and pd.api.types.is_float_dtype(df[c]):
            fmt[c] = "{:,.1f}"

    def shade(v: Any) -> str:
        return "color:#c0392b;font-weight:bold" if isinstance(v, float) and v > bad else ""

    # Styler does not escape by default: a service name from ingested logs would be markup in a
    # stakeholder's browser. Values, the index and the headers are all escaped.
    styler = df.style.format(fmt, na_rep="–", escape="html").format_index(escape="html", axis=0)
    styler = styler.format_index(escape="html", axis=1)
    if ratio_columns:
        styler = styler.map(shade, subset=list(ratio_columns))
    return styler
