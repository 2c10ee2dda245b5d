"""Scoring a template miner against ground truth: grouping accuracy and template accuracy.

Grouping accuracy is Loghub's (:func:`opsnb.logs.patterns.grouping_accuracy`). Template
accuracy is the share of lines whose mined template equals the true one once both are
written alike (:func:`normalise_template`): every placeholder (``<NUM>``, ``<IP>`` ...)
becomes ``<*>``, a token made only of placeholders and the punctuation between them
(``<*>:<*>``) becomes one ``<*>``, and a run of ``<*>`` tokens becomes one (a variable may be
printed as several words: a list, a phrase). The same rule is applied to both sides.

Used by ``benchmarks/bench_patterns.py`` and the accuracy tests; reads only the files it is given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsnb.logs.patterns import grouping_accuracy

_PH = re.compile(r"<[A-Z*]+>")
_PUNCT_ONLY = re.compile(r"^[^\w\s]*$")


def normalise_template(text: str) -> str:
    """A template written in the common form used to compare mined and true templates.

    Example:
        >>> normalise_template("Accepted <*> for <ID> from <IP>:<NUM>  port <NUM> <*> <*>")
        'Accepted <*> for <*> from <*> port <*>'
    """
    out: list[str] = []
    for tok in _PH.sub("<*>", text).split():
        if "<*>" in tok and _PUNCT_ONLY.match(tok.replace("<*>", "")):
            tok = "<*>"  # <*>:<*>, (<*>), [<*>]: only variables and the punctuation between them
        if tok == "<*>" and out and out[-1] == "<*>":
            continue
        out.append(tok)
    return " ".join(out)


def template_accuracy(mined: Sequence[str], truth: Sequence[str]) -> float:
    """Share of lines whose mined template equals the true one (both normalised)."""
    if len(mined) != len(truth):
        raise ValueError(f"{len(mined)} mined templates for {len(truth)} truths")
    if not truth:
        return 1.0
    cache: dict[str, str] = {}

    def norm(t: str) -> str:
        n = cache.get(t)
        if n is None:
            n = cache[t] = normalise_template(t)
        return n

    return sum(1 for a, b in zip(mined, truth, strict=True) if norm(a) == norm(b)) / len(truth)


@dataclass
class Score:
    """One data set's scores."""

    name: str
    lines: int
    grouping: float
    template: float | None
    templates: int


def read_truth(path: str | Path) -> tuple[list[str], list[str] | None]:
    """``(event ids, true templates or None)`` from a Loghub-style CSV (LineId, EventId[, EventTemplate])."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["EventId"] for r in rows]
    tmpl = [r["EventTemplate"] for r in rows] if rows and "EventTemplate" in rows[0] else None
    return ids, tmpl


def score(name: str, ids: Sequence[Any], templates: Sequence[str], truth_ids: Sequence[str],
          truth_templates: Sequence[str] | None) -> Score:
    """Score mined ids and templates against the truth."""
    return Score(name, len(truth_ids), grouping_accuracy(list(ids), list(truth_ids)),
                 template_accuracy(templates, truth_templates) if truth_templates is not None else None,
                 len(set(ids)))


def score_bodies(name: str, bodies: Sequence[str], mine: Callable[[Sequence[str]], tuple[list[Any], list[str]]],
                 truth_ids: Sequence[str], truth_templates: Sequence[str] | None) -> Score:
    """Mine ``bodies`` with ``mine`` (bodies -> ids, template per line) and score the result."""
    ids, templates = mine(bodies)
    return score(name, ids, templates, truth_ids, truth_templates)


def mine_opsnb(path: str | Path, header_regex: str | None = None) -> tuple[list[Any], list[str]]:
    """Mine a file with ``opsnb logs templates``' path: ids and each line's final template text."""
    from opsnb.logs.minefile import mine_file

    mined = mine_file(path, header_regex=header_regex)
    text = {int(r.template_id): str(r.template) for r in mined.miner.templates().itertuples()}
    return list(mined.ids), [text[i] if i is not None else "" for i in mined.ids]


def mine_drain3(bodies: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Mine message bodies with drain3's default configuration: cluster ids and final templates."""
    import logging

    from drain3 import TemplateMiner as Drain3
    from drain3.template_miner_config import TemplateMinerConfig

    logging.getLogger("drain3").setLevel(logging.ERROR)
    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    d3 = Drain3(config=cfg)
    ids = [d3.add_log_message(b)["cluster_id"] for b in bodies]
    tmpl = {c.cluster_id: c.get_template() for c in d3.drain.clusters}
    return ids, [tmpl[i] for i in ids]


def bodies_of(path: str | Path, header_regex: str | None = None) -> list[str]:
    """Each line's message body, split as ``mine_file`` would (its header shapes, or ``header_regex``)."""
    from opsnb.logs.headers import HeaderSplitter

    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    hs = HeaderSplitter(header_regex) if header_regex else HeaderSplitter(sample=lines[:200])
    return [hs.body(x) for x in lines]


def loghub_truth(loghub: Path, templates_dir: Path, name: str) -> tuple[list[str], list[str] | None]:
    """Loghub event ids per line and, when ``templates_dir`` has them, the true template per line."""
    ids, _ = read_truth(loghub / name / f"{name}_2k.log_eventids.csv")
    tp = templates_dir / f"{name}_templates.csv"
    if not tp.exists():
        return ids, None
    with open(tp, encoding="utf-8", newline="") as fh:
        by_id = {r["EventId"]: r["EventTemplate"] for r in csv.DictReader(fh)}
    return ids, [by_id.get(i, "") for i in ids]
