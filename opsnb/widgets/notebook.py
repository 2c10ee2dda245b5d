"""A runbook's output notebook as readable, inert HTML: each cell's source and its text outputs.

A share-link viewer cannot open files on the server, so the runbook-runs dashboard shows the
output notebook itself. Only text is shown (cell sources, streams, ``text/plain`` results, error
names and messages), every piece escaped: an output notebook's HTML or scripts never run on
the dashboard page.
"""

from __future__ import annotations

from typing import Any

from opsnb.widgets import esc

MAX_TEXT = 4000  # characters of one output shown; a long log is cut with a note


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT:,} more characters)"


def output_text(out: Any) -> tuple[str, str]:
    """(kind, text) of one output: ``stream``, ``result``, ``error`` (name: message) or ``other``."""
    kind = out.get("output_type", "")
    if kind == "stream":
        return "stream", _text(out.get("text"))
    if kind in ("execute_result", "display_data"):
        data = out.get("data", {})
        if "text/plain" in data:
            return "result", _text(data["text/plain"])
        return "other", f"({', '.join(sorted(data)) or 'empty'} output, not shown here)"
    if kind == "error":
        return "error", f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
    return "other", ""


def notebook_html(nb: Any, *, title: str = "") -> str:
    """The cells of ``nb`` (an nbformat node or dict) as escaped HTML."""
    pre = ('style="white-space:pre-wrap;overflow-wrap:anywhere;margin:2px 0;padding:4px 8px;font-size:12px;'
           'background:{bg};border-left:3px solid {line}"')
    parts = [f"<div class='opsnb-notebook'>{f'<h4>{esc(title)}</h4>' if title else ''}"]
    for i, cell in enumerate(nb.get("cells", []), 1):
        source = _text(cell.get("source"))
        if cell.get("cell_type") == "markdown":
            parts.append(f"<div {pre.format(bg='#fff', line='#d5dbdb')}>{esc(source)}</div>")
            continue
        if cell.get("cell_type") != "code":
            continue
        parts.append(f"<div class='opsnb-meta'>cell {i}</div><pre {pre.format(bg='#f4f6f6', line='#2874a6')}>"
                     f"{esc(source)}</pre>")
        for out in cell.get("outputs", []):
            kind, text = output_text(out)
            if not text:
                continue
            line = "#c0392b" if kind == "error" else "#7f8c8d"
            parts.append(f"<pre {pre.format(bg='#fff', line=line)}>{esc(_cut(text))}</pre>")
    parts.append("</div>")
    return "".join(parts)
