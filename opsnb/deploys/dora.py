"""DORA figures per service and environment, by the Four Keys definitions.

- **Deployment frequency**: deploys that took effect (``succeeded`` or later ``rolled_back``)
  in the period, and per day. Failed deploys never reached users and are not counted.
- **Lead time for changes**: median of commit time → deploy finished, over deploys that carry a
  commit time (CI webhooks send it; ``committed_at=`` in the library).
- **Change failure rate**: deploys linked to an incident or rolled back ÷ deploys that took
  effect. Rollback records themselves are deploys too (they took effect), but are never failures
  on their own account.
- **Failed deployment recovery time**: for each failed deploy, from when it finished to the end
  of its failure: its rollback record's finish, else the linked incident's ``mitigated``
  (else ``resolved``) milestone. Median and p90, in minutes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

COLUMNS = ["service", "env", "deploys", "deploys_per_day", "lead_time_median_h", "failures",
           "change_failure_rate", "recovery_median_min", "recovery_p90_min", "start", "end"]


def _incident_links(wb: Workbench) -> dict[str, datetime | None]:
    """deploy id -> end of the linked incident's impact (mitigated, else resolved)."""
    out: dict[str, datetime | None] = {}
    inc = wb.incidents.list()  # an incident opened before the period may still name a deploy in it
    for iid in inc["id"] if len(inc) else []:
        i = wb.incidents.get(str(iid))
        end = i.milestones.get("mitigated") or i.milestones.get("resolved")
        for dep in i.linked("deploy"):
            out[dep] = end
    return out


def compute(wb: Workbench, *, start: Any = "30d", end: Any = "now", service: str | None = None,
            env: str | None = None) -> pd.DataFrame:
    """The four figures per (service, env) over ``[start, end)`` (see the module docstring)."""
    import numpy as np
    import pandas as pd

    from opsnb.timeparse import parse_instant

    lo = parse_instant(start, name="start", ago=True)
    hi = parse_instant(end, name="end")
    df = wb.deploys.list(service=service, env=env, since=lo, until=hi, limit=1_000_000)
    df = df[df["status"].isin(["succeeded", "rolled_back"])]
    links = _incident_links(wb)
    days = max((hi - lo).total_seconds() / 86400.0, 1e-9)
    everything = wb.deploys.list(service=service, env=env, since=lo, limit=1_000_000)
    rollback_end = {r.rollback_of: r.finished_at for r in everything.itertuples()
                    if isinstance(r.rollback_of, str) and not pd.isna(r.finished_at)}
    rows = []
    for (svc, e), g in df.groupby(["service", "env"], sort=True):
        lead = (g["finished_at"] - g["committed_at"]).dropna().dt.total_seconds() / 3600.0
        failed = g[(g["status"] == "rolled_back") | g["id"].isin(list(links))]
        recov = []
        for f in failed.itertuples():
            stop = rollback_end.get(f.id)
            if stop is None:
                stop = links.get(f.id)
            if stop is not None and not pd.isna(f.finished_at):
                recov.append((pd.Timestamp(stop) - f.finished_at).total_seconds() / 60.0)
        rows.append({
            "service": svc, "env": e, "deploys": len(g), "deploys_per_day": round(len(g) / days, 3),
            "lead_time_median_h": round(float(lead.median()), 2) if len(lead) else None,
            "failures": len(failed), "change_failure_rate": round(len(failed) / len(g), 4),
            "recovery_median_min": round(float(np.median(recov)), 1) if recov else None,
            "recovery_p90_min": round(float(np.percentile(recov, 90)), 1) if recov else None,
            "start": lo, "end": hi,
        })
    return pd.DataFrame(rows, columns=COLUMNS)
