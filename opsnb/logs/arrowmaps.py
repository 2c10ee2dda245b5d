"""Building ``map<string, string>`` columns with Arrow and numpy, never row by row.

DuckDB's MAP construction managed about half a million rows a second here;
assembling the map's offsets, keys and values with numpy is several times
faster, so formats hand attributes over as loose columns or key/value lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STRMAP = pa.map_(pa.string(), pa.string())


def as_strings(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one string array (numbers and booleans in their JSON spelling)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    return pc.cast(arr, pa.string())


def const_map(n: int, items: dict[str, str]) -> pa.Array:
    """The same map on ``n`` rows."""
    if not items:
        return pa.nulls(n, STRMAP)
    keys = pa.array(list(items), pa.string())
    vals = pa.array(list(items.values()), pa.string())
    k = len(items)
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    rep = pa.array(np.tile(np.arange(k), n))
    return pa.MapArray.from_arrays(offsets, keys.take(rep), vals.take(rep), type=STRMAP)


def build_map(n: int, static: Sequence[tuple[str, pa.Array | pa.ChunkedArray]],
              dynamic: tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray] | None = None) -> pa.Array:
    """One map per row from named columns (NULL values left out) and per-row key/value lists.

    Args:
        n: Rows.
        static: ``(key, column)`` pairs; a row gets ``key`` when its value is not NULL.
        dynamic: Two list columns of equal lengths per row: keys and values.
    """
    rows_parts: list[np.ndarray] = []
    keys_parts: list[pa.Array] = []
    vals_parts: list[pa.Array] = []
    seen: set[str] = set()
    for key, col in static:
        if key in seen:  # e.g. a JSON field named like an opsnb flag: the first one wins
            continue
        seen.add(key)
        v = as_strings(col)
        if v.null_count == len(v):
            continue
        if v.null_count:
            valid = np.asarray(v.is_valid().to_numpy(zero_copy_only=False))
            where = np.flatnonzero(valid)
            v = v.filter(pa.array(valid))
        else:
            where = np.arange(n)
        rows_parts.append(where)
        keys_parts.append(pa.repeat(pa.scalar(key, pa.string()), len(where)))
        vals_parts.append(v)
    if dynamic is not None:
        ks, vs = dynamic
        if isinstance(ks, pa.ChunkedArray):
            ks = ks.combine_chunks()
        if isinstance(vs, pa.ChunkedArray):
            vs = vs.combine_chunks()
        lens = pc.fill_null(pc.list_value_length(ks), 0).to_numpy(zero_copy_only=False)
        rows_parts.append(np.repeat(np.arange(n), lens))
        keys_parts.append(as_strings(pc.list_flatten(ks)))
        vals_parts.append(as_strings(pc.list_flatten(vs)))
    if not rows_parts:
        return pa.nulls(n, STRMAP)
    rows = np.concatenate(rows_parts)
    keys = pa.concat_arrays(keys_parts)
    vals = pa.concat_arrays(vals_parts)
    if len(rows_parts) > 1:
        # Row-major order: each entry's place is its row's start plus the entries of the parts
        # before it in that row (an O(n) scatter; a stable argsort cost several times more).
        counts = np.bincount(rows, minlength=n)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        fill = np.zeros(n, dtype=np.int64)
        dest_parts = []
        for part in rows_parts:
            if len(part) and len(part) > 1 and (part[1:] == part[:-1]).any():  # several entries per row
                first_of_row = np.searchsorted(part, part)  # part is sorted
                rank = np.arange(len(part)) - first_of_row
                dest_parts.append(starts[part] + fill[part] + rank)
                np.add.at(fill, part, 1)
            else:
                dest_parts.append(starts[part] + fill[part])
                fill[part] += 1
        dest = np.concatenate(dest_parts)
        order_np = np.empty(len(dest), dtype=np.int64)
        order_np[dest] = np.arange(len(dest))
        order = pa.array(order_np)
        keys, vals, rows = keys.take(order), vals.take(order), rows[order_np]
    if dynamic is not None and len(rows):
        rows, keys, vals = _first_keys(rows, keys, vals)  # static keys are distinct already
    counts = np.bincount(rows, minlength=n) if len(rows) else np.zeros(n, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.MapArray.from_arrays(pa.array(offsets), keys, vals, type=STRMAP)


def _first_keys(rows: np.ndarray, keys: pa.Array, vals: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Only the first entry of a key in each row (``rows`` sorted): a map with a key twice breaks queries.

    A logfmt line may repeat a key (``x=1 x=2``); the first one wins, as for the mapped columns.
    """
    enc = pc.dictionary_encode(keys)
    codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    pair = rows.astype(np.int64) * (len(enc.dictionary) + 1) + codes
    if len(np.unique(pair)) == len(pair):
        return rows, keys, vals
    _, first = np.unique(pair, return_index=True)
    first.sort()
    take = pa.array(first)
    return rows[first], keys.take(take), vals.take(take)
