"""The common case of row normalisation with Arrow kernels, without a DuckDB round trip.

:func:`opsnb.logs.formats.normalise_sql` is the reference: it turns a format's loose
fields (``ts``, ``lvl``, ``body``, ``status`` ...) into lake columns and handles every
odd spelling (epoch stamps, zone-less stamps, numeric levels, base64 ids, ``12s``
durations ...). Most rows of a real log are not odd, and for them the SQL costs more
than the parsing itself. :func:`fast_outer` computes the same columns with Arrow for
the rows it is sure about, and returns a mask of the rows it is not sure about (odd
spellings, and every row that would be quarantined, so the reasons stay the SQL's
exact text); the caller sends those through the SQL. A row is never guessed: it is
either computed exactly as the SQL would, or handed back.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsnb.logs import formats as F

if TYPE_CHECKING:
    import duckdb

TS_TYPE = pa.timestamp("us", tz="UTC")
# ISO 8601 with a zone and at most microseconds: Arrow's cast and DuckDB's agree on these.
ISO_ZONED = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
CLF_ZONED = r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$"  # access logs
HEX = {32: r"^[0-9a-fA-F]{32}$", 16: r"^[0-9a-fA-F]{16}$"}
INT_TEXT = r"^[0-9]{1,9}$"
NUM_TEXT = r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$"
MS_TEXT = r"^[0-9]{1,15}(\.[0-9]{1,15})?ms$"
# opsnb_sev in formats.MACROS, for upper-case ASCII words
SEV_WORDS = {"TRACE": 1, "DEBUG": 5, "DBG": 5, "INFO": 9, "INF": 9, "INFORMATION": 9, "NOTICE": 10,
             "WARN": 13, "WARNING": 13, "WRN": 13, "ERROR": 17, "ERR": 17, "SEVERE": 17, "FAIL": 17,
             "CRIT": 21, "CRITICAL": 21, "ALERT": 22, "EMERG": 23, "EMERGENCY": 23, "FATAL": 21, "PANIC": 24}
_SEV_KEYS = pa.array(list(SEV_WORDS), pa.string())
_SEV_VALS = pa.array(list(SEV_WORDS.values()), pa.int32())
LOOSE = ("ts", "sevnum", "lvl", "body", "svc", "host", "trace", "span", "method", "route", "status",
         "dur_ms", "dur_s")
SQL_ONLY = frozenset({"syslog3164", "journald"})  # year guessing; journald spellings
STRING_KEYS = frozenset({"ts", "lvl", "body", "svc", "host", "trace", "span", "method", "route"})


class NotSimple(Exception):
    """The batch has a column type the fast path does not handle: use the SQL for all of it."""


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, NULL as False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _str(arr: pa.Array | pa.ChunkedArray, n: int) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        return pa.nulls(n, pa.string())
    if pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if not pa.types.is_string(arr.type):
        raise NotSimple(str(arr.type))
    return arr


def _has_upper(arr: pa.Array) -> bool:
    """Whether any string holds an ASCII capital (numpy over the data buffer; a superset is fine)."""
    data = arr.buffers()[2]
    if data is None:
        return False
    b = np.frombuffer(data, dtype=np.uint8)
    return bool(((b >= ord("A")) & (b <= ord("Z"))).any())


def fixed_width(arr: pa.Array) -> np.ndarray | None:
    """Non-null strings of one width as an ``(n, width)`` byte matrix over Arrow's buffer (no copy).

    None when some string is null or of another width: then the caller uses the regular expression.
    """
    n = len(arr)
    if not n or arr.null_count or not pa.types.is_string(arr.type):
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != width * n or not (np.diff(offsets) == width).all():
        return None
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8, count=width * n, offset=int(offsets[0]))
    return data.reshape(n, width)


def all_hex(arr: pa.Array, width: int) -> bool:
    """Whether every string is ``width`` hex digits (what ``HEX[width]`` matches), without RE2.

    Ids of one width are the common case; RE2 over them cost a tenth of the normalising.
    """
    m = fixed_width(arr)
    if m is None or m.shape[1] != width:
        return False
    # uint8 arithmetic wraps, so each difference below is a range check in one comparison
    return bool((((m - 48) < 10) | (((m | 0x20) - 97) < 6)).all())


_ISO_ZONED_BYTES = re.compile(ISO_ZONED[1:-1].encode())


def all_iso_zoned(ts: pa.Array) -> bool:
    """Whether every stamp matches :data:`ISO_ZONED`, checked against the first one's template.

    Stamps of one width with digits where the first (matching) stamp has digits and the same
    other characters match the pattern too: its only digit atoms are ``\\d``. Anything else
    (other widths, zones, separators) returns False and the caller uses the regular expression.
    """
    m = fixed_width(ts)
    if m is None or not _ISO_ZONED_BYTES.fullmatch(m[0].tobytes()):
        return False
    first = m[0]
    digit = (first >= 48) & (first <= 57)
    return bool(((m[:, digit] - 48) < 10).all() and (m[:, ~digit] == first[~digit]).all())


def _nullif_empty(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


MONTHS = {m: i + 1 for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec"))}


def _clf_to_ts(ts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``22/Nov/2026:06:15:00 +0130`` stamps (all matching :data:`CLF_ZONED`) as timestamps.

    Arrow's strptime costs about 2 us a row; the days of a log are few, so each distinct
    ``22/Nov/2026`` is rewritten once in Python and the rest is slicing and one ISO cast.

    Returns:
        The stamps, and the mask of rows whose month name is English (the others are not sure).
    """
    days = pc.dictionary_encode(pc.utf8_slice_codeunits(ts, 0, 11))
    iso_days = []
    for d in days.dictionary.to_pylist():
        month = MONTHS.get(d[3:6])
        iso_days.append(f"{d[7:11]}-{month:02d}-{d[0:2]}T" if month else "1970-01-01T")
    named = np.array([d[3:6] in MONTHS for d in days.dictionary.to_pylist()], dtype=bool)
    day_iso = pc.take(pa.array(iso_days, pa.string()), days.indices)
    iso = pc.binary_join_element_wise(day_iso, pc.utf8_slice_codeunits(ts, 12, 20),
                                      pc.utf8_slice_codeunits(ts, 21, 24), pa.scalar(":"),
                                      pc.utf8_slice_codeunits(ts, 24, 26), "")
    ok = named[np.asarray(days.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    return pc.cast(iso, TS_TYPE), ok


def json_loose(tbl: pa.Table, *, journald: bool = False) -> pa.Table:
    """The loose fields of a flattened JSON batch, as :func:`formats.json_inner_sql` picks them.

    Raises:
        NotSimple: A picked column has a type whose text form only DuckDB spells right.
    """
    if journald:
        raise NotSimple("journald")
    n = tbl.num_rows
    present = set(tbl.column_names)
    cols: dict[str, pa.Array] = {"_i": tbl.column("_i").combine_chunks()}
    for key in LOOSE:
        used = [c for c in F.ALIASES[key] if c in present]
        arrs = [tbl.column(c).combine_chunks() for c in used]
        arrs = [a for a in arrs if not pa.types.is_null(a.type)]
        if not arrs:
            cols[key] = pa.nulls(n, pa.string())
            continue
        if key in ("sevnum", "status") and len(arrs) == 1 and pa.types.is_integer(arrs[0].type):
            cols[key] = arrs[0]
            continue
        if key == "dur_ms" and len(arrs) == 1 and (pa.types.is_integer(arrs[0].type)
                                                   or pa.types.is_floating(arrs[0].type)):
            cols["dur_num"] = arrs[0].cast(pa.float64())
            continue
        if key == "dur_s" and len(arrs) == 1 and (pa.types.is_integer(arrs[0].type)
                                                  or pa.types.is_floating(arrs[0].type)):
            cols["dur_s_num"] = arrs[0].cast(pa.float64())
            continue
        arrs = [_str(a, n) for a in arrs]  # other types: DuckDB's VARCHAR spelling decides, so SQL
        cols[key] = arrs[0] if len(arrs) == 1 else pc.coalesce(*arrs)
    cols["parse_err"] = pa.nulls(n, pa.string())
    return pa.table(cols)


def fast_outer(loose: pa.Table, opts: F.ParseOptions, fmt: str,
               observed: datetime) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Lake columns for the rows the fast path is sure about, and the mask of the others.

    Args:
        loose: The inner query's fields (``_i``, ``ts``, ``lvl`` ... as :func:`formats.normalise_sql`
            reads them); numeric ``sevnum``/``status``, ``dur_num`` and ``dur_s_num`` are allowed.
        opts: Parse options (default service and host, future limit).
        fmt: The format (``syslog3164`` stamps have no year: always the SQL).
        observed: The ingest time.

    Returns:
        Columns named as the SQL names them (``Timestamp`` ... ``DurationMs``, ``_assumed``, ``_err``)
        and a boolean mask of rows to recompute with the SQL (their values here are meaningless).

    Raises:
        NotSimple: The batch cannot take the fast path at all.
    """
    if fmt in SQL_ONLY:
        raise NotSimple(fmt)
    n = loose.num_rows
    names = set(loose.column_names)

    def col(name: str) -> pa.Array:
        if name not in names:
            return pa.nulls(n, pa.string())
        a = loose.column(name)
        return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a

    unsure = np.zeros(n, dtype=bool)
    if "parse_err" in names:
        unsure |= _np(pc.is_valid(col("parse_err")))
    # Timestamp: only stamps with a zone; the rest (epoch, naive, other spellings) go to the SQL.
    ts = _str(col("ts"), n)
    iso = np.ones(n, dtype=bool) if all_iso_zoned(ts) else _np(pc.match_substring_regex(ts, ISO_ZONED))
    clf = _np(pc.match_substring_regex(ts, CLF_ZONED)) if not iso.all() else np.zeros(n, dtype=bool)
    try:
        valid_ts = ts if iso.all() else pc.if_else(pa.array(iso), ts, pa.scalar("1970-01-01T00:00:00Z"))
        parsed = pc.cast(valid_ts, TS_TYPE)
        if clf.any():
            alt, named = _clf_to_ts(pc.if_else(pa.array(clf), ts, pa.scalar("01/Jan/1970:00:00:00 +0000")))
            clf &= named
            parsed = pc.if_else(pa.array(clf), alt, parsed)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise NotSimple("time stamps") from None  # e.g. month 13: the SQL says which row
    unsure |= ~(iso | clf)
    limit = pa.scalar(observed + timedelta(seconds=float(opts.max_future_s)), TS_TYPE)
    unsure |= _np(pc.greater(parsed, limit))
    # Severity: coalesce(sevnum, sevnum_pri, word of lvl, 0)
    sev = pa.nulls(n, pa.int32())
    for name in ("sevnum", "sevnum_pri"):
        if name not in names:
            continue
        a = col(name)
        if a.null_count == n:  # absent: each kernel below would still cost a pass over n rows
            continue
        if pa.types.is_string(a.type) or pa.types.is_large_string(a.type):
            ok = pc.match_substring_regex(a, INT_TEXT)
            unsure |= _np(pc.and_kleene(pc.is_valid(a), pc.invert(ok))) & _np(pc.is_null(sev))
            a = pc.cast(pc.if_else(ok, a, pa.scalar(None, a.type)), pa.int32())
        elif pa.types.is_integer(a.type):
            big = pc.or_(pc.greater(a, 2**31 - 1), pc.less(a, -(2**31)))
            unsure |= _np(big)
            a = pc.if_else(big, pa.scalar(None, a.type), a).cast(pa.int32())
        else:
            raise NotSimple(f"{name} {a.type}")
        sev = pc.coalesce(sev, a)
    lvl = _str(col("lvl"), n)
    word = pc.index_in(pc.utf8_upper(lvl), value_set=_SEV_KEYS)
    from_word = pc.take(_SEV_VALS, word)
    need_word = _np(pc.is_null(sev)) & _np(pc.is_valid(lvl))
    odd_word = _np(pc.or_(pc.is_null(word), pc.invert(pc.string_is_ascii(lvl))))
    unsure |= need_word & odd_word
    severity = pc.coalesce(sev, from_word, pa.scalar(0, pa.int32()))
    # Ids: lower-case hex; base64 spellings go to the SQL.
    ids = {}
    for name, width in (("trace", 32), ("span", 16)):
        v = _nullif_empty(_str(col(name), n))
        if v.null_count == n:
            ids[name] = v
            continue
        if all_hex(v, width):
            ids[name] = pc.utf8_lower(v) if _has_upper(v) else v
            continue
        hexed = pc.match_substring_regex(v, HEX[width])
        if not (v.null_count == 0 and pc.all(hexed).as_py()):
            # a hex id is never base64's length, so only the others need the check
            b64_len = width // 3 * 2 + 4 - (width // 3 * 2 + 4) % 4
            unsure |= _np(pc.equal(pc.utf8_length(v), b64_len))
        ids[name] = pc.if_else(hexed, pc.utf8_lower(v), v) if _has_upper(v) else v
    # Service and host
    svc = _nullif_empty(_str(col("svc"), n))
    svc = pc.coalesce(svc, pa.scalar(opts.service or "unknown_service", pa.string()))
    host = _nullif_empty(_str(col("host"), n))
    if opts.host:
        host = pc.coalesce(host, pa.scalar(opts.host, pa.string()))
    body = _str(col("body"), n)
    unsure |= _np(pc.is_null(body))
    method = _nullif_empty(_str(col("method"), n))
    unsure |= _np(pc.invert(pc.string_is_ascii(method)))
    route = _nullif_empty(_str(col("route"), n))
    # Status
    st = col("status")
    if st.null_count == n:
        status = pa.nulls(n, pa.int32())
    elif pa.types.is_integer(st.type):
        big = pc.or_(pc.greater(st, 2**31 - 1), pc.less(st, -(2**31)))
        unsure |= _np(big)
        status = pc.if_else(big, pa.scalar(None, st.type), st).cast(pa.int32())
    else:
        st = _str(st, n)
        ok = pc.match_substring_regex(st, INT_TEXT)
        unsure |= _np(pc.and_kleene(pc.is_valid(st), pc.invert(ok)))
        status = pc.cast(pc.if_else(ok, st, pa.scalar(None, pa.string())), pa.int32())
    # Duration: coalesce(dur_num, dur_ms text, dur_s * 1000)
    dur = col("dur_num").cast(pa.float64()) if "dur_num" in names else pa.nulls(n, pa.float64())
    for name, scale in (("dur_ms", 1.0), ("dur_s", 1000.0)):
        if name == "dur_s" and "dur_s_num" in names:
            num = col("dur_s_num")
            unsure |= _np(pc.invert(pc.is_finite(num))) & _np(pc.is_null(dur))
            dur = pc.coalesce(dur, pc.multiply(num, scale))
            continue
        v = _str(col(name), n)
        if v.null_count == n:
            continue
        plain = pc.match_substring_regex(v, NUM_TEXT)
        ms = pc.match_substring_regex(v, MS_TEXT) if scale == 1.0 else pa.repeat(False, n)
        odd = pc.and_kleene(pc.is_valid(v), pc.invert(pc.or_(plain, ms)))
        unsure |= _np(odd) & _np(pc.is_null(dur))
        val = pc.if_else(plain, v, pc.if_else(ms, pc.utf8_slice_codeunits(v, 0, -2), pa.scalar(None, pa.string())))
        num = pc.cast(val, pa.float64())
        dur = pc.coalesce(dur, pc.if_else(plain, pc.multiply(num, scale), num))
    out = {
        "_i": col("_i"),
        "Timestamp": parsed,
        "ObservedTimestamp": pa.repeat(pa.scalar(observed, TS_TYPE), n),
        "TraceId": ids["trace"],
        "SpanId": ids["span"],
        "SeverityNumber": severity,
        "SeverityText": lvl,
        "ServiceName": svc,
        "HostName": host,
        "Body": body,
        "HttpMethod": pc.utf8_upper(method),
        "HttpRoute": route,
        "HttpStatus": status,
        "DurationMs": dur,
    }
    return out, unsure


def logfmt_loose(tbl: pa.Table) -> pa.Table:
    """:func:`formats.logfmt_inner_sql` with numpy: each alias's first value, the other pairs as lists.

    Args:
        tbl: ``_i``, ``line`` and per-line ``k``/``v`` lists (``v`` NULL for an empty value).
    """
    n = tbl.num_rows
    k = tbl.column("k").combine_chunks()
    v = tbl.column("v").combine_chunks()
    flat_k = pc.list_flatten(k)
    flat_v = pc.list_flatten(v)
    rows = np.asarray(pc.list_parent_indices(k).to_numpy(zero_copy_only=False), dtype=np.int64)
    enc = pc.dictionary_encode(flat_k).combine_chunks() if isinstance(flat_k, pa.ChunkedArray) \
        else pc.dictionary_encode(flat_k)
    codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    code_of = {key: i for i, key in enumerate(enc.dictionary.to_pylist())}
    null_str = pa.nulls(n, pa.string())

    def first(key: str) -> pa.Array | None:
        code = code_of.get(key)
        if code is None:
            return None
        pos = np.flatnonzero(codes == code)
        r = rows[pos]
        head = np.ones(len(pos), dtype=bool)
        head[1:] = r[1:] != r[:-1]  # list_position: the first occurrence in the row
        idx = np.full(n, -1, dtype=np.int64)
        idx[r[head]] = pos[head]
        return flat_v.take(pa.array(idx, mask=idx < 0))

    def val(keys: tuple[str, ...]) -> pa.Array:
        picks = [a for a in (first(key) for key in keys) if a is not None]
        if not picks:
            return null_str
        return picks[0] if len(picks) == 1 else pc.coalesce(*picks)

    cols: dict[str, pa.Array] = {"_i": tbl.column("_i").combine_chunks()}
    for key in ("ts", *[key for key in F.ALIASES if key not in ("body", "ts")]):
        cols[key] = val(F.ALIASES[key])
    line = tbl.column("line").combine_chunks()
    body = val(F.ALIASES["body"])
    cols["body"] = pc.coalesce(body, line.cast(pa.string()) if pa.types.is_large_string(line.type) else line)
    known = [code_of[key] for ks in F.ALIASES.values() for key in ks if key in code_of]
    other = ~np.isin(codes, np.asarray(known, dtype=np.int64)) if known else np.ones(len(codes), dtype=bool)
    counts = np.bincount(rows[other], minlength=n) if len(rows) else np.zeros(n, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    mask = pa.array(other)
    cols["_ak"] = pa.ListArray.from_arrays(pa.array(offsets), flat_k.filter(mask))
    cols["_av"] = pa.ListArray.from_arrays(pa.array(offsets), flat_v.filter(mask))
    lens = np.asarray(pc.fill_null(pc.list_value_length(k), 0).to_numpy(zero_copy_only=False))
    cols["parse_err"] = pc.if_else(pa.array(lens == 0), pa.scalar("not logfmt: no key=value pair"), null_str)
    return pa.table(cols)


# A logfmt line whose pairs can be cut without a regex scan: no backslash or vertical tab (Arrow's
# blank, not RE2's), and every quote opens
# the value of a ``key="..."`` token (ending at a blank or the end), so the quotes pair up.
SIMPLE_LOGFMT = r'^(?:(?:[^"\\\x0b]*\s)?=*[^\s="\\\x0b]+="[^"\\\x0b]*"(?:\s|$))*[^"\\\x0b]*$'


def logfmt_split_simple(lines: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Pairs of lines matching :data:`SIMPLE_LOGFMT`, exactly as ``regexp_extract_all(line, LOGFMT_PAIR)``
    then unquoting would give them, with string splits instead of a regex scan.

    Outside quotes a blank-separated token ``==key=value`` is the pair ``key``/``value`` (leading ``=``
    cannot start a key; a token without another ``=`` is no pair); a token ``key=`` right before a quote
    takes the quoted text as its value.

    Returns:
        Per pair: its line (ascending), key, and value (NULL when empty).
    """
    segs = pc.split_pattern(lines, '"')
    seg_off = np.asarray(segs.offsets.to_numpy(), dtype=np.int64)
    seg_off = seg_off - seg_off[0]
    flat_segs = pc.list_flatten(segs)
    nsegs = np.diff(seg_off)
    seg_line = np.repeat(np.arange(len(lines)), nsegs)
    seg_j = np.arange(len(seg_line)) - seg_off[seg_line]
    outside = seg_j % 2 == 0
    out_idx = np.flatnonzero(outside)
    toks = pc.ascii_split_whitespace(flat_segs.take(pa.array(out_idx)))
    tok_off = np.asarray(toks.offsets.to_numpy(), dtype=np.int64)
    tok_off = tok_off - tok_off[0]
    flat_toks = pc.list_flatten(toks)
    # the last token of an outside segment followed by a quoted one takes the quoted text
    quoted_next = seg_j[out_idx] + 1 < nsegs[seg_line[out_idx]]
    last_tok = tok_off[1:][quoted_next] - 1
    quoted_seg = out_idx[quoted_next] + 1
    kv = pc.split_pattern(pc.utf8_ltrim(flat_toks, characters="="), "=", max_splits=1)
    kv_off = np.asarray(kv.offsets.to_numpy(), dtype=np.int64)
    kv_off = kv_off - kv_off[0]
    flat_kv = pc.list_flatten(kv)
    is_pair = np.diff(kv_off) == 2
    val_idx = kv_off[:-1] + 1
    val_idx[last_tok] = len(flat_kv) + quoted_seg
    pairs = np.flatnonzero(is_pair)
    tok_line = seg_line[out_idx][np.repeat(np.arange(len(out_idx)), np.diff(tok_off))]
    keys = flat_kv.take(pa.array(kv_off[:-1][pairs]))
    both = pa.concat_arrays([flat_kv, flat_segs.cast(flat_kv.type)])
    vals = both.take(pa.array(val_idx[pairs]))
    vals = pc.if_else(pc.equal(vals, ""), pa.scalar(None, vals.type), vals)
    return tok_line[pairs], keys, vals


def logfmt_pairs(con: duckdb.DuckDBPyConnection, lines: pa.Table) -> pa.Table:
    """Add per-line key and value lists ``k``/``v`` to ``lines`` (``_i, line``); values unquoted, NULL when empty.

    Lines without backslashes whose quotes all open ``key="..."`` values (nearly all) are cut with
    Arrow string splits (:func:`normalise.logfmt_split_simple`); the others take one RE2 scan in
    DuckDB (``regexp_extract_all``), which costs about three times more.
    """
    n = lines.num_rows
    line = lines.column("line").combine_chunks().cast(pa.string())
    simple = np.asarray(pc.fill_null(pc.match_substring_regex(line, SIMPLE_LOGFMT), False)
                        .to_numpy(zero_copy_only=False), dtype=bool)
    rows_parts: list[np.ndarray] = []
    k_parts: list[pa.Array] = []
    v_parts: list[pa.Array] = []
    if simple.any():
        where = np.flatnonzero(simple)
        r, k, v = logfmt_split_simple(line if len(where) == n else line.filter(pa.array(simple)))
        rows_parts.append(where[r])
        k_parts.append(k)
        v_parts.append(v)
    if not simple.all():
        where = np.flatnonzero(~simple)
        con.register("L", lines.filter(pa.array(~simple)))
        try:
            pairs = con.sql(f"SELECT regexp_extract_all(line, {F.sql_str(F.LOGFMT_PAIR)}) AS p FROM L"
                                 ).to_arrow_table().column("p").combine_chunks()
        finally:
            con.unregister("L")
        kv = pc.split_pattern(pairs.flatten(), "=", max_splits=1)
        k = pc.list_element(kv, 0)
        v = pc.list_element(kv, 1)
        unq = pc.replace_substring(pc.replace_substring(pc.utf8_slice_codeunits(v, 1, -1), '\\"', '"'),
                                   "\\\\", "\\")
        v = pc.if_else(pc.starts_with(v, '"'), unq, v)
        v = pc.if_else(pc.equal(v, ""), pa.scalar(None, pa.string()), v)
        rows_parts.append(where[np.asarray(pc.list_parent_indices(pairs).to_numpy(zero_copy_only=False),
                                           dtype=np.int64)])
        k_parts.append(k)
        v_parts.append(v)
    rows = np.concatenate(rows_parts)
    k = pa.concat_arrays([a.cast(pa.string()) for a in k_parts])
    v = pa.concat_arrays([a.cast(pa.string()) for a in v_parts])
    if len(rows_parts) > 1:  # back to line order; a line's pairs come from one side, in order
        order = np.argsort(rows, kind="stable")
        rows, k, v = rows[order], k.take(pa.array(order)), v.take(pa.array(order))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n) if len(rows) else np.zeros(n, dtype=np.int64), out=offsets[1:])
    off = pa.array(offsets)
    return lines.append_column("k", pa.ListArray.from_arrays(off, k)).append_column(
        "v", pa.ListArray.from_arrays(off, v))
