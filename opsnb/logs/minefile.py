"""Mining a log file: safe reading, finding each line's message, a template id per line.

This is the path behind ``opsnb logs templates FILE``. Reading is bounded
and never gives up on a file because of a few bad lines:

- a line longer than ``max_bytes`` is cut (its rest is skipped without being held in
  memory) and reported;
- invalid UTF-8 is replaced by U+FFFD and reported; the line is still mined;
- a binary line (NUL bytes, or more than 10 % control bytes) is reported and not mined.

Speed: a block of the file that is clean (no control bytes, valid UTF-8: nearly
all real logs) is decoded and split in one C call; only a dirty block is
checked line by line. The block's digit shapes (digits made 1) are made in one C call
too: the built-in header shapes and masking read no digit's value, so a line whose shape
was seen (a repeated message with a new time stamp and new numbers) takes its template
from a dict without header recognition or masking.
"""

from __future__ import annotations

import collections
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from opsnb.errors import ParseError, ValidationError
from opsnb.logs.patterns import _MAX_KEY, _MAX_SHAPES, _SHAPE, TemplateMiner

# Control bytes that make a line suspicious: all below 0x20 except tab, LF, CR and ESC (ANSI colours).
_CTRL = bytes(b for b in range(32) if b not in (9, 10, 13, 27))


@dataclass(frozen=True)
class RawLine:
    """One line of a file: its number (from 1), text (None when not minable) and any problem."""

    no: int
    text: str | None
    problem: str | None = None


def _decode(raw: bytes, size: int, max_bytes: int) -> tuple[str | None, str | None]:
    """Decode one raw line (``size`` is its true length before any cut): ``(text, problem)``."""
    problems = []
    if size > max_bytes:
        problems.append(f"{size:,} bytes long; only the first {max_bytes:,} were mined")
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if b"\x00" in raw or len(raw) - len(raw.translate(None, _CTRL)) > len(raw) // 10:
        return None, "binary data (NUL or control bytes), not mined"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if size > max_bytes and exc.start >= len(raw) - 3:
            text = raw[: exc.start].decode("utf-8", errors="replace")  # the cut split a character
        else:
            text = raw.decode("utf-8", errors="replace")
            problems.append(f"invalid UTF-8 at byte {exc.start} (replaced by U+FFFD)")
    return text, "; ".join(problems) or None


def _batches(fh: Any, max_bytes: int, chunk: int, *, shapes: bool = False) -> Iterator[
        tuple[list[str | None], list[bytes | None] | None, list[tuple[int, str]]]]:
    """Yield ``(texts, keys, problems)`` per block read; texts hold one entry per line (None: not minable).

    With ``shapes``, ``keys`` holds each clean line's digit shape (its raw bytes with the
    digits turned into 1, see :func:`opsnb.logs.patterns.digit_shape`; made for the whole
    block in one C call), None for a line that needed checking on its own; without, None.
    """
    chunk = max(1, min(chunk, max_bytes))  # so a line inside one block is never longer than max_bytes
    no = 0
    carry, carry_size = b"", 0  # the current unfinished line (kept up to max_bytes) and its true size
    while True:
        block = fh.read(chunk)
        if not block:
            break
        first = block.find(b"\n")
        if first < 0:
            carry_size += len(block)
            if len(carry) < max_bytes:
                carry += block[: max_bytes - len(carry)]
            continue
        texts: list[str | None] = []
        keys: list[bytes | None] | None = [None] if shapes else None
        problems: list[tuple[int, str]] = []
        head = block[:first]
        carry_size += len(head)
        if len(carry) < max_bytes:
            carry += head[: max_bytes - len(carry)]
        no += 1
        text, prob = _decode(carry, carry_size, max_bytes)
        texts.append(text)
        if prob:
            problems.append((no, prob))
        last = block.rfind(b"\n")
        if last > first:
            middle = block[first + 1:last]
            clean = None
            if b"\x00" not in middle and len(middle.translate(None, _CTRL)) == len(middle):
                try:
                    clean = middle.decode("utf-8")
                except UnicodeDecodeError:
                    clean = None
            if clean is not None:
                lines: list[str] = clean.split("\n")
                if "\r" in clean:
                    lines = [x[:-1] if x.endswith("\r") else x for x in lines]
                texts.extend(lines)
                no += len(lines)
                if keys is not None:
                    # Every digit becomes 1 (see patterns._SHAPE), but the 0 of "0x" (HEX's one
                    # literal digit) becomes NUL, a byte no clean block holds, so it stays told apart.
                    keys.extend(_mark_0x(middle, middle.translate(_SHAPE)).split(b"\n"))
            else:
                for raw in middle.split(b"\n"):
                    no += 1
                    text, prob = _decode(raw, len(raw), max_bytes)
                    texts.append(text)
                    if prob:
                        problems.append((no, prob))
                if keys is not None:
                    keys.extend([None] * (len(texts) - len(keys)))
        carry = block[last + 1:]
        carry_size = len(carry)
        yield texts, keys, problems
    if carry_size:
        no += 1
        text, prob = _decode(carry, carry_size, max_bytes)
        yield [text], ([None] if shapes else None), ([(no, prob)] if prob else [])


_0X = re.compile(rb"0[xX]")


def _mark_0x(raw: bytes, shape: bytes) -> bytes:
    """``shape`` with a NUL where ``raw`` has the 0 of an ``0x``/``0X``.

    One regex scan (a 1 MB block holds a few ``0x`` at most) set in a copy: a substring test
    for an absent ``0X`` alone scans the whole block, and two ``bytes.replace`` passes cost
    about three times as much as this.
    """
    at = [m.start() for m in _0X.finditer(raw)]
    if not at:
        return shape
    out = bytearray(shape)
    for p in at:
        out[p] = 0
    return bytes(out)


def _open(source: str | os.PathLike[str] | Any) -> Any:
    if hasattr(source, "read"):
        return source
    try:
        return open(source, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise ParseError(f"{source}: cannot open: {exc.strerror or exc}", source=str(source)) from None


def read_lines(source: str | os.PathLike[str] | Any, *, max_bytes: int = 1 << 20,
               chunk: int = 1 << 20) -> Iterator[RawLine]:
    """Read a log file line by line, safely: bounded memory, every line accounted for.

    Args:
        source: A path, or a binary file object (``sys.stdin.buffer``).
        max_bytes: Longest line kept, in bytes.
        chunk: Bytes read at a time.

    Raises:
        ParseError: The path cannot be opened (names the path).
    """
    fh = _open(source)
    try:
        no = 0
        for texts, _keys, problems in _batches(fh, max_bytes, chunk):
            why = dict(problems)
            for text in texts:
                no += 1
                yield RawLine(no, text, why.get(no))
    finally:
        if fh is not source:
            fh.close()


BODY_FORMATS = ("auto", "raw", "json", "logfmt", "syslog", "apache", "access", "leveled")
_JSON_KEYS = ("message", "msg", "Body", "body", "log", "text", "MESSAGE")
_LOGFMT_MSG = re.compile(r'(?:^|\s)(?:msg|message)=(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def body_extractor(fmt: str = "auto", header_regex: str | None = None,
                   sample: Sequence[str] = ()) -> Callable[[str], str]:
    """A function ``line -> message body`` for a file of format ``fmt``.

    Args:
        fmt: ``auto`` (recognise common headers), ``raw`` (whole line), ``json`` (the
            message/msg/body field of each JSON object), ``logfmt`` (its ``msg=``), or one
            header shape (``syslog``, ``apache``, ``access``, ``leveled``) to prefer.
        header_regex: A regex with a named group ``body``; wins over ``fmt``.
        sample: First lines of the file, used to pick the header shape.

    Raises:
        ValidationError: Unknown format or a bad ``header_regex``.
    """
    from opsnb.logs.headers import HEADER_PATTERNS, HeaderSplitter

    if fmt not in BODY_FORMATS:
        raise ValidationError(f"unknown format {fmt!r}; choose one of {', '.join(BODY_FORMATS)}", field="format")
    if header_regex is not None:
        return HeaderSplitter(header_regex).body
    if fmt == "raw":
        return lambda line: line
    splitter = HeaderSplitter()
    if fmt in HEADER_PATTERNS:
        splitter.prefer(fmt)
    else:
        splitter.fit(sample)
    if fmt == "json":
        def from_json(line: str) -> str:
            s = line.lstrip()
            if s.startswith("{"):
                try:
                    obj = json.loads(s)
                except ValueError:
                    return splitter.body(line)
                if isinstance(obj, dict):
                    for k in _JSON_KEYS:
                        v = obj.get(k)
                        if isinstance(v, str):
                            return v
            return splitter.body(line)
        return from_json
    if fmt == "logfmt":
        def from_logfmt(line: str) -> str:
            m = _LOGFMT_MSG.search(line)
            if m is None:
                return splitter.body(line)
            return m.group(1).replace('\\"', '"') if m.group(1) is not None else m.group(2)
        return from_logfmt
    return splitter.body


@dataclass
class MinedFile:
    """What :func:`mine_file` found: a template id per line (None: not mined) and the problems."""

    miner: TemplateMiner
    ids: list[int | None]
    problems: list[tuple[int, str]]

    def rows(self) -> Iterable[tuple[int, int | None, str]]:
        """``(line, template_id, template)`` for every line of the file, in order."""
        text = {int(r.template_id): str(r.template) for r in self.miner.templates().itertuples()}
        for i, tid in enumerate(self.ids, 1):
            yield i, tid, (text[tid] if tid is not None else "")


def mine_file(source: str | os.PathLike[str] | Any, *, fmt: str = "auto", header_regex: str | None = None,
              miner: TemplateMiner | None = None, max_bytes: int = 1 << 20) -> MinedFile:
    """Mine the templates of a log file: every line's message gets a template id.

    The file's header shape is chosen from its first 200 lines (see
    :mod:`opsnb.logs.headers`) unless ``fmt`` or ``header_regex`` says otherwise.

    Args:
        source: Path or binary file object.
        fmt: See :func:`body_extractor`.
        header_regex: Python regex with a named group ``body`` (the message).
        miner: Continue an existing miner (e.g. one loaded from JSON); default a new one.
        max_bytes: Longest line read (longer lines are cut and reported).

    Returns:
        A :class:`MinedFile`; ``problems`` lists ``(line, what)`` for cut, invalid or binary lines.

    Raises:
        ParseError: The file cannot be opened.
        ValidationError: Unknown ``fmt`` or a bad ``header_regex``.
    """
    if header_regex is not None or fmt not in ("auto", *BODY_FORMATS):
        body_extractor(fmt, header_regex)  # fail on a bad option before reading anything
    miner = miner or TemplateMiner()
    ids: list[int | None] = []
    problems: list[tuple[int, str]] = []
    # The built-in header shapes, like masking, treat all digits alike, so a line's digit shape
    # fixes its template: a repeated shape skips header recognition and masking. Not for a
    # user's regex (it may name digits) nor JSON/logfmt (escapes like \u0041 hold digits).
    shapes = header_regex is None and fmt not in ("json", "logfmt")
    seen: dict[bytes, int] = {}  # line shape -> template id
    wait = 0  # blocks left to mine without the line-shape cache (see _mine_batch)
    fh = _open(source)
    try:
        pending: list[str | None] = []
        pending_keys: list[bytes | None] = []
        body: Callable[[str], str] | None = None
        for texts, keys, probs in _batches(fh, max_bytes, 1 << 20, shapes=shapes):
            problems.extend(probs)
            if body is None:
                pending.extend(texts)
                if keys is not None:
                    pending_keys.extend(keys)
                if len(pending) < 200:
                    continue
                body = body_extractor(fmt, header_regex, [t for t in pending[:200] if t is not None])
                texts, pending, keys, pending_keys = pending, [], (pending_keys if shapes else None), []
            if wait > 0:  # the line-shape cache did not pay lately: skip it for a while
                wait -= 1
                keys = None
            paid = _mine_batch(miner, body, texts, keys, seen, ids)
            if not paid and keys is not None and len(ids) > 50_000:  # judged after a warm-up
                wait = 8
        if body is None:
            body = body_extractor(fmt, header_regex, [t for t in pending[:200] if t is not None])
            _mine_batch(miner, body, pending, pending_keys if shapes else None, seen, ids)
    finally:
        if fh is not source:
            fh.close()
    # Settle once the whole file is mined, and re-assign every line to its settled template.
    moved = miner.settle()
    if moved:
        ids = list(map(moved.get, ids, ids))  # type: ignore[arg-type]  # None stays None: no id is None
    return MinedFile(miner, ids, problems)


def _mine_batch(miner: TemplateMiner, body: Callable[[str], str], texts: list[str | None],
                keys: list[bytes | None] | None, seen: dict[bytes, int], ids: list[int | None]) -> bool:
    """Append the template id of each of ``texts`` to ``ids``; ``keys`` are their digit shapes (or None).

    Returns whether the line-shape cache paid here (at least one line in four found in ``seen``).
    """
    add = miner._add
    if keys is None:
        ids.extend([add(body(t))[0].id if t is not None else None for t in texts])
        return False
    get = seen.get
    # The hot path in C: every line's shape looked up at once (None for a new shape, and for a
    # line with no key); only the misses are visited in Python, found by list.index.
    found: list[int | None] = list(map(get, keys))  # type: ignore[arg-type]  # a None key is never there
    counts = collections.Counter(found)  # lines of each template found here, before the misses
    misses = counts.pop(None, 0)
    templates = miner._templates
    for tid, n in counts.items():
        templates[tid].count += n  # type: ignore[index]  # None was popped
    i = -1
    index = found.index
    for _ in range(misses):
        i = index(None, i + 1)
        key = keys[i]
        if key is not None:
            tid = get(key)
            if tid is not None:  # a shape first seen earlier in this batch
                templates[tid].count += 1
                found[i] = tid
                misses -= 1
                continue
        text = texts[i]
        if text is None:
            continue
        t, final = add(body(text))
        found[i] = t.id
        if final and key is not None and len(seen) < _MAX_SHAPES and len(key) <= _MAX_KEY:
            seen[key] = t.id
    ids.extend(found)
    return (len(texts) - misses) * 3 >= misses
