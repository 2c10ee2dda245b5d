"""Files that mix formats: each line parsed by the format that explains it, or quarantined alone.

Detection (:func:`opsnb.logs.formats.detect`) names the format that explains most of the
first lines. When it does not explain all of them, each of those lines is detected by itself
(:func:`plan`): the most common format becomes the primary and the others found are the
fallbacks (a file is refused only when no mix of known formats explains half of its first
lines). The primary parses every chunk at full speed, as for a single-format file; only the
lines it rejects as not its own (not damaged lines: NUL bytes, invalid UTF-8, over-long or
over-deep lines stay quarantined as they are) are parsed again by each fallback in turn
(:func:`reparse`), in one vectorised pass per chunk. A multi-line primary (plain text,
syslog) does not take a line that starts an entry of a fallback as a continuation line.

The mix is the format name ``primary+fallback+...`` (in the summary and the checkpoint, so a
resumed read keeps it); the summary counts rows stored per format (``SourceResult.formats``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from opsnb.logs import formats as F

if TYPE_CHECKING:
    from datetime import datetime

    from opsnb.logs.ingest import Ingestor, _Part

# Where an entry of each format starts (RE2, for Arrow): lines of a fallback that a multi-line
# primary must not join to the entry before them.
STARTS = {
    "jsonl": r"^\s*\{",
    "journald": r"^\s*\{",
    "syslog5424": r"^<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ ",
    "syslog3164": r"^(?:<\d{1,3}>)?[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \S+ ",
    "access": r'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} ',
    "logfmt": r'^[^\s="]+=("(?:[^"\\]|\\.)*"|[^\s"]*)\s+[^\s="]+=',
    "plain": F.PLAIN_HEADER,
}
# Reasons of damage, not of another format: such lines are not parsed again.
DAMAGE = ("binary data", "invalid UTF-8", "line of ", "JSON nested", "truncated input")
ORDER = ["journald", "jsonl", "syslog5424", "access", "syslog3164", "logfmt", "plain"]
SAMPLE_LINES = 200


def split(fmt: str) -> tuple[str, tuple[str, ...]]:
    """``("jsonl", ("logfmt",))`` for ``"jsonl+logfmt"``."""
    primary, *rest = fmt.split("+")
    return primary, tuple(rest)


def line_mix(head: bytes) -> tuple[Counter[str], int]:
    """Formats of the first lines, each detected by itself, and how many lines were looked at."""
    mix: Counter[str] = Counter()
    n = 0
    for raw in head.split(b"\n")[:SAMPLE_LINES * 2]:
        if not raw.strip() or raw[:1] in (b" ", b"\t") or b"\x00" in raw:
            continue  # blank, a continuation line, or damage (quarantined by itself)
        n += 1
        det = F.detect(raw[:4096] + b"\n")
        if det.format is not None:
            mix["jsonl" if det.format == "journald" else det.format] += 1
        if n >= SAMPLE_LINES:
            break
    return mix, n


def plan(head: bytes, det: F.Detection) -> str | None:
    """The format (``primary+fallback...``) for a file whose first lines one format does not all explain."""
    if det.format == "otlp":
        return det.format
    mix, n = line_mix(head)
    if not n:
        return det.format
    primary = det.format
    if primary is None:
        if sum(mix.values()) < n / 2 or not mix:
            return None
        primary = max(mix, key=lambda f: (mix[f], -ORDER.index(f)))
    family = {"jsonl", "journald"} if primary in ("jsonl", "journald") else {primary}
    others = sorted((f for f in mix if f not in family), key=lambda f: (-mix[f], ORDER.index(f)))
    return "+".join([primary, *others])


def other_starts(lines: pa.Table, fallbacks: tuple[str, ...]) -> Any:
    """Per line: does it start an entry of a fallback format (numpy bool array)."""
    col = lines.column("line")
    hit = None
    for fb in fallbacks:
        m = pc.match_substring_regex(col, STARTS[fb])
        hit = m if hit is None else pc.or_(hit, m)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def reparse(ing: Ingestor, part: _Part, fallbacks: tuple[str, ...], opts: F.ParseOptions,
            observed: datetime, resource: dict[str, str]) -> None:
    """Parse again, by each fallback in turn, the lines of ``part`` its primary quarantined as not its own."""
    from opsnb.logs.ingest import _Part as Part
    from opsnb.logs.models import SourceResult

    res = part.res
    todo = [k for k, q in enumerate(part.quarantine)
            if not q["Reason"].startswith(DAMAGE) and b"\n" not in q["Raw"] and q["Raw"].strip()]
    done: set[int] = set()
    for fb in fallbacks:
        if not todo:
            break
        fmt, fo = F.engine(fb, opts)
        data = b"\n".join(part.quarantine[k]["Raw"] for k in todo) + b"\n"
        sub = Part(SourceResult(source=res.source))
        ing._chunk_into(data, 0, fmt, fo, sub, observed, {**resource, "opsnb.format": fb}, None, False,
                        others=())
        failed = {q["Line"] for q in sub.quarantine}  # lines of the sub-buffer, from 0
        kept = [k for j, k in enumerate(todo) if j not in failed]
        done.update(kept)
        part.good.extend(sub.good)
        res.stored += sub.res.stored
        res.formats[fb] += sub.res.stored
        todo = [k for j, k in enumerate(todo) if j in failed]
    if done:
        from opsnb.logs.ingest import _reason_key

        for k in done:
            res.quarantined -= 1
            key = _reason_key(part.quarantine[k]["Reason"])
            res.reasons[key] -= 1
            if res.reasons[key] <= 0:
                del res.reasons[key]
        part.quarantine = [q for k, q in enumerate(part.quarantine) if k not in done]

