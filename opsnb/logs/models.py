"""Value objects of the logs domain: what an ingest read, stored and quarantined."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class SourceResult:
    """What happened to one source."""

    source: str
    format: str | None = None
    lines: int = 0  # physical lines read
    events: int = 0  # entries seen (multi-line entries count once)
    stored: int = 0
    spans: int = 0
    quarantined: int = 0
    blank: int = 0
    bytes: int = 0
    error: str | None = None  # the source stopped early or could not be read
    resumed_at: int = 0  # bytes already committed by an earlier ingest (read from there on)
    reasons: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)  # rows stored per format (a file may mix them)

    def add(self, other: SourceResult) -> None:
        """Add the counts of ``other`` (a part of this source) to these."""
        self.lines += other.lines
        self.events += other.events
        self.stored += other.stored
        self.spans += other.spans
        self.quarantined += other.quarantined
        self.blank += other.blank
        self.reasons.update(other.reasons)
        self.formats.update(other.formats)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "formats": dict(self.formats.most_common()),
                "lines": self.lines, "events": self.events,
                "stored": self.stored, "spans": self.spans, "quarantined": self.quarantined,
                "blank": self.blank, "bytes": self.bytes, "error": self.error,
                "reasons": dict(self.reasons.most_common(10))}


@dataclass
class IngestSummary:
    """The result of one ingest: per source, totals, and the rate."""

    sources: list[SourceResult]
    seconds: float
    peak_rss_mb: float | None = None

    @property
    def read(self) -> int:
        return sum(s.events for s in self.sources)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.sources)

    @property
    def spans(self) -> int:
        return sum(s.spans for s in self.sources)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.sources)

    @property
    def rate(self) -> float:
        """Events read per second."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Something was stored, or the sources were read before and hold nothing new (the CLI exits
        non-zero otherwise)."""
        if self.stored + self.spans > 0:
            return True
        return any(s.resumed_at and not s.events and not s.error for s in self.sources)

    @property
    def reasons(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for s in self.sources:
            total.update(s.reasons)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "stored": self.stored, "spans": self.spans,
                "quarantined": self.quarantined, "seconds": round(self.seconds, 3),
                "rate": round(self.rate, 1), "ok": self.ok,
                "reasons": dict(self.reasons.most_common(10)),
                "sources": [s.as_dict() for s in self.sources]}

    def table(self) -> pd.DataFrame:
        """One row per source."""
        import pandas as pd

        rows = [s.as_dict() for s in self.sources]
        for r in rows:
            r["reasons"] = "; ".join(f"{k} ({v})" for k, v in r["reasons"].items())
            r["formats"] = ", ".join(f"{k} {v:,}" for k, v in r["formats"].items())
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        return (f"read {self.read:,} events in {self.seconds:.2f}s ({self.rate:,.0f}/s): "
                f"stored {self.stored:,}" + (f", spans {self.spans:,}" if self.spans else "")
                + f", quarantined {self.quarantined:,}"
                + (" (to the quarantine table: opsnb logs quarantine)" if self.quarantined else ""))

    def _repr_html_(self) -> str:
        import html

        head = f"<b>ingest</b>: {html.escape(str(self))}"
        return head + self.table().to_html(index=False)
