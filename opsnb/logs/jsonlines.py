"""JSON lines (and ``journalctl -o json``) to Arrow: pyarrow for whole pieces, Python for the lines it refuses.

Split from :mod:`opsnb.logs.ingest`, which hands each chunk's kept lines here and
normalises what comes back.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsnb.logs import formats as F

SLOW_PIECE = 64  # JSON pieces this small are read line by line when pyarrow refuses them
# Deeper lines are quarantined before pyarrow sees them: its parser recurses per level, and a
# 40 KB line nested 20,000 deep crashed the process (SIGSEGV) instead of raising.
MAX_DEPTH = 512
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def too_deep(data: bytes, starts: np.ndarray, ends: np.ndarray, lengths: np.ndarray,
             keep: np.ndarray) -> list[tuple[int, int]]:
    """The kept lines nested deeper than :data:`MAX_DEPTH`, with their depth.

    Conservative and cheap: only a line longer than twice the limit can be that deep, and only one
    with that many brackets (``bytes.count``) is measured exactly (brackets in strings do not count).
    """
    out = []
    for i in np.flatnonzero(keep & (lengths > 2 * MAX_DEPTH)):
        raw = data[starts[i]:ends[i]]
        if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
            continue
        depth = nesting_depth(raw)
        if depth > MAX_DEPTH:
            out.append((int(i), depth))
    return out


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, outside strings."""
    bare = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    step = (bare == 91).astype(np.int32) + (bare == 123) - (bare == 93) - (bare == 125)
    return int(np.cumsum(step).max(initial=0))


def parse(data: bytes, starts: np.ndarray, ends: np.ndarray, idx: np.ndarray, *, journald: bool,
          schema: pa.Schema | None, max_line_bytes: int,
          use_threads: bool) -> tuple[list[pa.Table], list[tuple[int, str]]]:
    """Parse the JSON lines at ``idx``: pyarrow for whole pieces, Python for the pieces it refuses.

    A piece pyarrow refuses is cut in halves until the bad lines are alone; pieces of
    :data:`SLOW_PIECE` lines or fewer are read line by line.

    Args:
        data: Whole lines; ``starts``/``ends`` give each line's bytes (without its newline).
        idx: The lines to read (the others were quarantined already).
        journald: ``journalctl -o json`` (a ``MESSAGE`` may be an array of bytes).
        schema: Columns whose type is fixed (see :func:`explicit_schema`).
        max_line_bytes: The longest line (pyarrow's block must hold two).
        use_threads: pyarrow's own threads (off when chunks are parsed in parallel already).

    Returns:
        Tables (every column VARCHAR-castable, plus ``_i``, the line's index) and the bad lines
        with their reason.
    """
    import pyarrow.json as pj

    block = max(4 << 20, 2 * max_line_bytes + 2)
    read_opts = pj.ReadOptions(block_size=block, use_threads=use_threads)
    parse_opts = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer",
                                 newlines_in_values=False)
    tables: list[pa.Table] = []
    bad: list[tuple[int, str]] = []
    contiguous = bool(len(idx) == len(starts))
    stack = [(0, len(idx))]
    while stack:
        lo, hi = stack.pop()
        sel = idx[lo:hi]
        if contiguous and lo == 0 and hi == len(idx):
            buf = data
        else:
            buf = b"\n".join(data[starts[i]:ends[i]] for i in sel) + b"\n"
        try:
            t = pj.read_json(pa.BufferReader(buf), read_options=read_opts, parse_options=parse_opts)
            if t.num_rows != len(sel):
                raise pa.ArrowInvalid("row count differs from line count")
            t = flatten(t)
            if journald and has_list(t, "MESSAGE"):
                raise pa.ArrowInvalid("journald MESSAGE as bytes")
            tables.append(with_index(t, sel))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            if hi - lo <= SLOW_PIECE:
                t, b = parse_slow(data, starts, ends, sel)
                if t is not None:
                    tables.append(t)
                bad.extend(b)
            else:
                mid = (lo + hi) // 2
                stack.append((mid, hi))
                stack.append((lo, mid))
    return tables, bad


def explicit_schema(head: bytes) -> pa.Schema | None:
    """Time stamp keys that are strings in the first lines are declared strings.

    pyarrow would otherwise read ISO stamps as zone-less timestamps and lose the zone.
    """
    keys: dict[str, pa.DataType] = {}
    ts_keys = set(F.ALIASES["ts"]) | set(F.JOURNALD_ALIASES["ts"])
    for line in head.split(b"\n")[:50]:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            continue
        if isinstance(obj, dict):
            for k in ts_keys & obj.keys():
                if isinstance(obj[k], str):
                    keys[k] = pa.string()
    return pa.schema(list(keys.items())) if keys else None


def flatten(t: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in t.schema):
        t = t.flatten()
    return t


def has_list(t: pa.Table, name: str) -> bool:
    return name in t.column_names and pa.types.is_list(t.schema.field(name).type)


def with_index(t: pa.Table, sel: np.ndarray) -> pa.Table:
    """All columns as VARCHAR-castable (lists become JSON text), plus ``_i``."""
    cols = []
    names = []
    for f, col in zip(t.schema, t.columns, strict=True):
        name = f.name if f.name != "_i" else "_i_field"
        if pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or pa.types.is_map(f.type):
            col = pa.array([None if v is None else json.dumps(v, default=str, separators=(",", ":"))
                            for v in col.to_pylist()], pa.string())
        elif pa.types.is_null(f.type):
            col = col.cast(pa.string())
        elif pa.types.is_timestamp(f.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
        cols.append(col)
        names.append(name)
    cols.append(pa.array(sel.astype(np.int64)))
    names.append("_i")
    return pa.table(cols, names=names)


def _flat_dict(obj: dict[str, Any], prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    out = {} if out is None else out
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _flat_dict(v, key + ".", out)
        elif v is None:
            continue
        elif isinstance(v, str):
            out[key] = v
        elif isinstance(v, bool):
            out[key] = "true" if v else "false"
        else:
            out[key] = json.dumps(v, separators=(",", ":"))
    return out


def parse_slow(data: bytes, starts: np.ndarray, ends: np.ndarray,
               sel: np.ndarray) -> tuple[pa.Table | None, list[tuple[int, str]]]:
    """Line-by-line JSON for the few lines pyarrow refused: all values become strings."""
    rows: list[dict[str, str]] = []
    idx: list[int] = []
    bad: list[tuple[int, str]] = []
    for i in sel:
        raw = data[starts[i]:ends[i]]
        try:
            obj = json.loads(raw)
        except RecursionError:
            bad.append((int(i), "JSON nested too deep"))
            continue
        except ValueError as exc:
            bad.append((int(i), f"invalid JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            bad.append((int(i), f"JSON value is a {type(obj).__name__}, not an object"))
            continue
        msg = obj.get("MESSAGE")
        if isinstance(msg, list) and all(isinstance(b, int) and 0 <= b < 256 for b in msg):
            # journald writes a non-UTF-8 message as an array of bytes
            obj["MESSAGE"] = bytes(msg).decode("utf-8", errors="replace")
        flat = _flat_dict(obj)
        if "_i" in flat:
            flat["_i_field"] = flat.pop("_i")
        rows.append(flat)
        idx.append(int(i))
    if not rows:
        return None, bad
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    cols = {k: pa.array([r.get(k) for r in rows], pa.string()) for k in keys}
    cols["_i"] = pa.array(idx, pa.int64())
    return pa.table(cols), bad
