"""Following a remote journal by its cursor when the last entries of a batch are damaged.

The cursor committed with a batch is the last entry's ``__CURSOR``; a damaged last line has none.
Keeping the previous batch's cursor would fetch (and store) that batch again on the next run; the
checkpoint keeps the last good cursor and the number of damaged entries after it, which the next
run skips.
"""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd


class DamagedJournal:
    """``journalctl -o json`` over raw output lines (some damaged), honouring ``--after-cursor``."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.calls: list[list[str]] = []

    def add(self, n: int) -> None:
        for _ in range(n):
            k = sum(1 for ln in self.lines if ln.startswith("{"))
            self.lines.append(json.dumps({"__CURSOR": f"s=1;i={k:x}", "__REALTIME_TIMESTAMP": str(1772323200000000 + k),
                                          "MESSAGE": f"ev-{k}", "PRIORITY": "6", "_SYSTEMD_UNIT": "app.service"}))

    def damage(self) -> None:
        self.lines.append('\x00\x01 garbled entry "__CURSOR" lost')

    def __call__(self, host: str, argv: list[str]) -> pd.DataFrame:
        self.calls.append(argv)
        after = next((a.split("=", 1)[1] for a in argv if a.startswith("--after-cursor=")), None)
        start = 0
        if after is not None:
            start = next(i for i, ln in enumerate(self.lines) if ln.startswith("{")
                         and json.loads(ln)["__CURSOR"] == after) + 1
        out = "".join(ln + "\n" for ln in self.lines[start:])
        return pd.DataFrame([{"host": host, "exit_status": 0, "stdout": out, "stderr": "", "error": None}])


def test_damaged_last_entries_are_skipped_not_fetched_again(ops_sqlite) -> None:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor
    from opsnb.logs.ingest_remote import RemoteIngest

    fake = DamagedJournal()
    fake.add(120)
    fake.damage()
    fake.damage()
    opts = ParseOptions(source="h1:journald", format="journald")

    def once() -> tuple[int, int]:
        ing = Ingestor(ops_sqlite.lake, batch_rows=50)
        try:
            r = RemoteIngest(ing, fake).journal("h1", None, "2026-03-01 00:00:00", opts)  # type: ignore[arg-type]
            return r.stored, r.quarantined
        finally:
            ing.close()

    assert once() == (120, 2)
    assert once() == (0, 0) and fake.calls[-1][-1] == "--after-cursor=s=1;i=77"
    fake.add(30)
    fake.damage()
    assert once() == (30, 1)
    fake.add(5)
    assert once() == (5, 0)
    bodies = Counter(ops_sqlite.lake.query("SELECT Body FROM logs")["Body"])
    assert sorted(bodies) == sorted(f"ev-{k}" for k in range(155)) and set(bodies.values()) == {1}
    assert ops_sqlite.lake.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == 3
