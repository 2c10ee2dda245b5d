"""Export a postmortem notebook to HTML (interactive charts) or Markdown (charts as static PNG images).

Charts are Plotly figures (``application/vnd.plotly.v1+json`` outputs). In HTML each becomes a
``<div>`` drawn by plotly.js, which is inlined once, so the file works offline and from a mail
attachment. In Markdown (GitHub shows it) each becomes a PNG beside the file
(``<name>_files/figure-<n>.png``): drawn by kaleido when it is installed (``pip install
'opsnb[export]'``), else by a headless Chromium through Playwright (Debian's ``chromium``).
Code cells can be hidden (the default: readers want the figures, not the code).
"""

from __future__ import annotations

import copy
import html
import json
import os
import shutil
from pathlib import Path
from typing import Any

from opsnb.errors import PostmortemError, ValidationError

PLOTLY_MIME = "application/vnd.plotly.v1+json"
FORMATS = ("html", "md")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync"]


def _figures(nb: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(o, o["data"][PLOTLY_MIME]) for c in nb.get("cells", []) if c.get("cell_type") == "code"
            for o in c.get("outputs", []) if PLOTLY_MIME in (o.get("data") or {})]


def _without_plotly_html(nb: dict[str, Any]) -> None:
    """Drop papermill's own hints (error cell tags) and keep the outputs nbconvert can render."""
    for c in nb.get("cells", []):
        c.get("metadata", {}).pop("papermill", None)
    nb.get("metadata", {}).pop("papermill", None)


def _node(nb: dict[str, Any]) -> Any:
    """A notebook node as nbformat reads one from disk (multi-line sources joined)."""
    import nbformat

    return nbformat.reads(json.dumps(nb), as_version=4)


def to_html(nb: dict[str, Any], *, hide_code: bool = True, title: str = "Postmortem") -> str:
    """The notebook as one self-contained HTML page with interactive charts."""
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    work = copy.deepcopy(nb)
    _without_plotly_html(work)
    for n, (out, fig) in enumerate(_figures(work)):
        div = f"pm-figure-{n}"
        spec = json.dumps(fig).replace("</", "<\\/")  # data is text, never markup
        out["data"] = {"text/html": f"<div id='{div}' class='pm-figure'></div><script>Plotly.newPlot("
                                    f"{json.dumps(div)}, {spec}.data, {spec}.layout || {{}}, "
                                    "{responsive: true});</script>"}
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(_node(work), resources={"metadata": {"name": title}})
    head = f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    return body.replace("</head>", head + "</head>", 1) if "</head>" in body else head + body


def _png_kaleido(figs: list[dict[str, Any]]) -> list[bytes] | None:
    try:
        import kaleido  # noqa: F401
        import plotly.io as pio
    except ImportError:
        return None
    return [pio.to_image(pio.from_json(json.dumps(f)), format="png", width=900, height=420) for f in figs]


def _png_chromium(figs: list[dict[str, Any]]) -> list[bytes] | None:
    exe = os.environ.get("OPSNB_CHROMIUM") or next((p for p in CHROMIUM_PATHS if Path(p).is_file()), None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if exe is None:
        return None
    from plotly.offline import get_plotlyjs

    page_html = f"<html><head><script>{get_plotlyjs()}</script></head><body style='margin:0'>" \
                "<div id='f' style='width:900px;height:420px'></div></body></html>"
    out: list[bytes] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 420})
            page.set_content(page_html)
            for f in figs:
                page.evaluate("spec => Plotly.newPlot('f', spec.data, Object.assign({}, spec.layout || {}, "
                              "{width: 900, height: 420}), {staticPlot: true})", f)
                out.append(page.locator("#f").screenshot(type="png"))
        finally:
            browser.close()
    return out


def to_markdown(nb: dict[str, Any], target: Path, *, hide_code: bool = True) -> str:
    """The notebook as Markdown; each chart written as a PNG in ``<target stem>_files/``."""
    from nbconvert import MarkdownExporter

    work = copy.deepcopy(nb)
    _without_plotly_html(work)
    found = _figures(work)
    if found:
        specs = [f for _, f in found]
        images = _png_kaleido(specs) or _png_chromium(specs)
        if images is None:
            raise PostmortemError("a Markdown export draws its charts as images, which needs kaleido "
                                  "(pip install 'opsnb[export]') or Chromium with Playwright; "
                                  "export --format html keeps them interactive instead")
        files = target.parent / f"{target.stem}_files"
        if files.exists():
            shutil.rmtree(files)
        files.mkdir(parents=True)
        for n, ((out, spec), png) in enumerate(zip(found, images, strict=True)):
            name = f"figure-{n + 1}.png"
            (files / name).write_bytes(png)
            title = (spec.get("layout", {}).get("title") or {})
            alt = title.get("text", f"figure {n + 1}") if isinstance(title, dict) else str(title)
            out["data"] = {"text/markdown": f"![{html.escape(str(alt))}]({files.name}/{name})"}
    exporter = MarkdownExporter()
    exporter.exclude_input = hide_code
    text, _res = exporter.from_notebook_node(_node(work))
    return str(text)


def export(nb: dict[str, Any], target: Path, *, format: str = "html", hide_code: bool = True) -> Path:
    """Write ``nb`` to ``target`` as ``format`` (``html`` or ``md``); returns the path.

    Raises:
        ValidationError: Unknown format, or a target that is a directory.
        PostmortemError: Markdown charts cannot be drawn (no kaleido, no Chromium).
    """
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}, got {format!r}", field="format")
    target = Path(target)
    if target.is_dir():
        raise ValidationError(f"{target} is a directory; give a file name", field="output", value=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    text = to_html(nb, hide_code=hide_code) if format == "html" else to_markdown(nb, target, hide_code=hide_code)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
