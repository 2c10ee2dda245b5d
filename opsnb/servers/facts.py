"""Facts about a server, gathered by one fixed read-only POSIX shell script and parsed here.

The script is a constant (never built from input) that prints marked sections;
:func:`parse_facts` turns its output into a :class:`Facts` and tolerates missing
or garbled sections (a container without systemd, a BSD without /proc), leaving
those facts empty instead of failing the whole host.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

SCRIPT = r"""
echo '@@os'; (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || uname -s
echo '@@kernel'; uname -r
echo '@@uptime'; cat /proc/uptime 2>/dev/null
echo '@@load'; cat /proc/loadavg 2>/dev/null
echo '@@mem'; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>/dev/null
echo '@@df'; df -P -k -x tmpfs -x devtmpfs -x squashfs -x overlay 2>/dev/null || df -P -k 2>/dev/null
echo '@@failed'; command -v systemctl >/dev/null 2>&1 && systemctl list-units --failed --no-legend --plain 2>/dev/null
echo '@@end'
true
"""

COLUMNS = ["host", "taken_at", "os", "kernel", "uptime_s", "load1", "load5", "load15", "mem_total",
           "mem_available", "mem_used_pct", "disk_max_used_pct", "disks", "failed_units", "error"]


@dataclass
class Facts:
    """Facts of one server. Sizes in bytes; ``disks`` lists mounts with size/used/avail/used_pct."""

    os: str = ""
    kernel: str = ""
    uptime_s: float | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    mem_total: float | None = None
    mem_available: float | None = None
    disks: list[dict[str, Any]] = field(default_factory=list)
    failed_units: list[str] = field(default_factory=list)

    @property
    def mem_used_pct(self) -> float | None:
        if not self.mem_total or self.mem_available is None:
            return None
        return round(100.0 * (self.mem_total - self.mem_available) / self.mem_total, 1)

    @property
    def disk_max_used_pct(self) -> float | None:
        pcts = [d["used_pct"] for d in self.disks if d.get("used_pct") is not None]
        return max(pcts) if pcts else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@") and re.fullmatch(r"@@[a-z]+", line.strip()):
            cur = out.setdefault(line.strip()[2:], [])
        elif cur is not None:
            cur.append(line)
    return out


def _float(s: str) -> float | None:
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def parse_facts(text: str) -> Facts:
    """Parse the output of :data:`SCRIPT` (unknown or malformed lines are ignored)."""
    sec = _sections(text)
    f = Facts()
    f.os = (sec.get("os") or [""])[0].strip()[:200]
    f.kernel = (sec.get("kernel") or [""])[0].strip()[:200]
    up = (sec.get("uptime") or [""])[0].split()
    f.uptime_s = _float(up[0]) if up else None
    load = (sec.get("load") or [""])[0].split()
    if len(load) >= 3:
        f.load1, f.load5, f.load15 = (_float(x) for x in load[:3])
    for line in sec.get("mem", []):
        m = re.match(r"^(MemTotal|MemAvailable):\s+(\d+)\s*kB", line)
        if m:
            val = float(m.group(2)) * 1024
            if m.group(1) == "MemTotal":
                f.mem_total = val
            else:
                f.mem_available = val
    seen = set()
    for line in sec.get("df", [])[1:]:  # POSIX df: Filesystem 1024-blocks Used Available Capacity Mounted-on
        parts = line.split()
        if len(parts) < 6 or not parts[1].isdigit():
            continue
        mount = " ".join(parts[5:])
        if mount in seen:
            continue
        seen.add(mount)
        size, used, avail = (int(x) * 1024 if x.isdigit() else None for x in parts[1:4])
        pct = _float(parts[4].rstrip("%"))
        f.disks.append({"mount": mount, "device": parts[0], "size": size, "used": used, "avail": avail,
                        "used_pct": pct})
    for line in sec.get("failed", []):
        parts = line.split()
        if parts and parts[0] not in ("●", "*"):
            f.failed_units.append(parts[0])
        elif len(parts) > 1:
            f.failed_units.append(parts[1])
    return f
