"""Reading log sources as chunks of whole lines: files, globs, gzip, stdin, byte strings.

A source is read in big blocks (16 MiB by default) and cut at the last newline,
so parsers always see whole lines and never one line at a time. A line longer
than ``max_line_bytes`` is not kept in memory: its first 64 KiB are kept for the
quarantine and the rest is skipped up to the next newline. A gzip stream that
ends early (truncated download, disk full) stops the source with a clear
error; every whole line before the damage is still read.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

HEAD_BYTES = 65_536  # what the quarantine keeps of an over-long line
GZIP_MAGIC = b"\x1f\x8b"
COUNT_PIECE = 1 << 18  # bytes per step of count_lines


@dataclass
class LongLine:
    """A line over the length limit: its number, its first bytes and its full size."""

    line: int
    head: bytes
    size: int
    truncated: bool = False  # the stream ended inside it


@dataclass
class Chunk:
    """Whole lines of one source.

    Attributes:
        first_line: 1-based number of the first line in ``data``.
        data: Lines, each ending in ``\\n`` (the last may lack it when the source ends without one).
        long: Over-long lines met since the previous chunk (not in ``data``).
        final: No chunk follows.
        tail_damaged: The source broke (truncated gzip): the last line of ``data`` may be cut short.
    """

    first_line: int
    data: bytes
    long: list[LongLine] = field(default_factory=list)
    final: bool = False
    tail_damaged: bool = False
    end: int = 0  # stream offset just past ``data`` (and the long lines), from the reader's start
    next_line: int = 0  # number of the line that starts at ``end``


class _Counting(io.RawIOBase):
    """Counts bytes read from the underlying (compressed) file, for progress bars."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_read = on_read
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(b)  # type: ignore[attr-defined]
        self.total += n or 0
        if self._on_read and n:
            self._on_read(n)
        return n


def count_lines(data: bytes, end: int | None = None) -> int:
    """Newlines in ``data[:end]``, counted by numpy: ``bytes.count`` holds the GIL for the whole scan
    (about 8 ms per 16 MiB), which stalled the parser threads."""
    arr = np.frombuffer(data, dtype=np.uint8, count=len(data) if end is None else end)
    # In pieces that stay in cache, into one reused mask: a mask of the whole chunk is 16 MiB of
    # fresh memory to fault in each time.
    mask = np.empty(min(len(arr), COUNT_PIECE), dtype=bool)
    n = 0
    for pos in range(0, len(arr), COUNT_PIECE):
        piece = arr[pos:pos + COUNT_PIECE]
        out = mask[:len(piece)]
        np.equal(piece, 10, out=out)
        n += int(np.count_nonzero(out))
    return n


def expand(paths: list[str] | tuple[str, ...] | str) -> tuple[list[str], list[str]]:
    """Expand globs (``**`` included) and directories; ``-`` is stdin.

    Returns:
        The files found, and one problem per path or pattern that found nothing.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [os.fspath(paths)]
    out: list[str] = []
    missing: list[str] = []
    for p in paths:
        p = os.fspath(p)
        if p == "-":
            out.append(p)
            continue
        p = os.path.expanduser(p)
        if glob.has_magic(p):
            hits = sorted(h for h in glob.glob(p, recursive=True) if os.path.isfile(h))
            if not hits:
                missing.append(f"{p}: the pattern matches no file")
            out.extend(hits)
        elif os.path.isdir(p):
            hits = sorted(str(h) for h in Path(p).rglob("*") if h.is_file())
            if not hits:
                missing.append(f"{p}: the directory holds no file")
            out.extend(hits)
        elif os.path.isfile(p):
            out.append(p)
        else:
            missing.append(f"{p}: no such file")
    return out, missing


class DecompressionLimit(Exception):
    """A compressed source expanded past a limit (raised inside :func:`read_some`, which reports it)."""


@dataclass
class Limits:
    """Bounds on decompression: total bytes out, and bytes out per byte in (once past ``ratio_floor``)."""

    max_bytes: int = 1 << 40
    max_ratio: float = 200.0
    ratio_floor: int = 64 << 20  # small files may compress far better, harmlessly


class _Bounded(io.RawIOBase):
    """Decompressed bytes of a gzip stream, stopped at :class:`Limits` (a bomb never fills memory)."""

    def __init__(self, inner: gzip.GzipFile, counted: _Counting, limits: Limits) -> None:
        self._inner = inner
        self._counted = counted
        self._limits = limits
        self.out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        # read1: one decompression step per call, so a stream that breaks loses nothing read before
        data = self._inner.read1(len(b))
        n = len(data)
        b[:n] = data
        self.out += n
        lim = self._limits
        if self.out > lim.max_bytes:
            raise DecompressionLimit(f"decompressed past the limit of {lim.max_bytes:,} bytes "
                                     "(setting ingest_max_decompressed_bytes)")
        if self.out > lim.ratio_floor and self.out > lim.max_ratio * max(1, self._counted.total):
            raise DecompressionLimit(
                f"decompresses more than {lim.max_ratio:g} times its compressed size "
                f"({self.out:,} bytes from {self._counted.total:,}; setting ingest_max_compression_ratio)")
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_file(raw: BinaryIO, on_read: Callable[[int], None] | None = None,
              limits: Limits | None = None, compressed: bool | None = None) -> BinaryIO:
    """Wrap an open binary file for reading: progress counting, gzip (found by its magic bytes
    unless ``compressed`` says) decompressed within ``limits``."""
    counted = _Counting(raw, on_read)
    buffered = io.BufferedReader(counted, buffer_size=1 << 20)
    if compressed is None:
        compressed = buffered.peek(2)[:2] == GZIP_MAGIC
    if compressed:
        inner = gzip.GzipFile(fileobj=buffered, mode="rb")
        return io.BufferedReader(_Bounded(inner, counted, limits or Limits()), buffer_size=1 << 20)
    return buffered


def open_source(path: str, on_read: Callable[[int], None] | None = None,
                limits: Limits | None = None) -> tuple[BinaryIO, int | None]:
    """Open a path (``-`` for stdin) for reading, decompressing gzip found by its magic bytes.

    Returns:
        The stream and the size on disk (``None`` for stdin).
    """
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        size = None
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the returned stream
        size = os.fstat(raw.fileno()).st_size
    return open_file(raw, on_read, limits), size


def skip(stream: BinaryIO, n: int) -> int:
    """Read and drop ``n`` bytes (resuming a compressed source); returns the bytes dropped."""
    done = 0
    while done < n:
        block = stream.read(min(n - done, 1 << 20))
        if not block:
            break
        done += len(block)
    return done


def read_some(stream: BinaryIO, n: int, already: int = 0) -> tuple[bytes, str | None]:
    """Up to ``n`` bytes: a plain file in one read, a gzip stream in 1 MiB reads so a broken one
    loses nothing it could decompress.

    Returns:
        The bytes and, when the stream broke, why (``already``: bytes read before, for the message).
    """
    parts: list[bytes] = []
    got = 0
    read1 = getattr(stream, "read1", None) or stream.read
    # A plain file is read in one go; a compressed one in 1 MiB pieces (see above).
    piece = 1 << 20 if isinstance(getattr(stream, "raw", None), _Bounded) else n
    error = None
    try:
        while got < n:
            block = read1(min(n - got, piece))
            if not block:
                break
            parts.append(block)
            got += len(block)
    except DecompressionLimit as exc:
        error = f"refused after {already + got:,} decompressed bytes: {exc}"
    except EOFError:
        error = f"truncated gzip: the stream ends before its end marker after {already + got:,} bytes"
    except (OSError, zlib.error) as exc:
        error = f"damaged input after {already + got:,} bytes: {exc}"
    return (parts[0] if len(parts) == 1 else b"".join(parts)), error


def read_head(stream: BinaryIO, n: int = 1 << 20) -> tuple[bytes, str | None]:
    """The first ``n`` bytes of a stream (for format detection) and the error that stopped it, if any."""
    return read_some(stream, n)


class LineReader:
    """Cut a byte stream into :class:`Chunk` objects of whole lines.

    Args:
        stream: Binary stream (already decompressed).
        chunk_bytes: Bytes read per block.
        max_line_bytes: Longer lines are reported in :attr:`Chunk.long`, not returned.
        prefix: Bytes already read from the stream (format detection), processed first.
    """

    def __init__(self, stream: BinaryIO, *, chunk_bytes: int = 16 << 20, max_line_bytes: int = 1 << 20,
                 prefix: bytes = b"", first_line: int = 1, error: str | None = None,
                 whole_lines: bool = False) -> None:
        self.stream = stream
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self.prefix = prefix
        self.first_line = first_line
        self.error: str | None = error  # set when the stream broke (maybe already while reading prefix)
        self.bytes_read = 0
        self.whole_lines = whole_lines  # keep back a last line without its newline (a file being written)

    def _blocks(self) -> Iterator[bytes]:
        if self.prefix:
            yield self.prefix
        while self.error is None:
            block, self.error = read_some(self.stream, self.chunk_bytes, self.bytes_read + len(self.prefix))
            if not block:
                return
            self.bytes_read += len(block)
            yield block

    def chunks(self) -> Iterator[Chunk]:
        """Chunks until the stream ends (see :attr:`error` afterwards)."""
        carry = b""
        line_no = self.first_line
        skipping: LongLine | None = None
        longs: list[LongLine] = []
        pos = 0  # stream offset of the start of the current block
        for block in self._blocks():
            base = pos
            pos += len(block)
            if skipping is not None:
                i = block.find(b"\n")
                if i < 0:
                    skipping.size += len(block)
                    continue
                skipping.size += i
                longs.append(skipping)
                skipping = None
                line_no += 1
                block = block[i + 1:]
                base = pos - len(block)
            cut = block.rfind(b"\n")
            if cut < 0:
                carry += block
            else:
                # one copy of the block: the carried start of a line, then the block's whole lines
                complete = carry + block[: cut + 1] if carry else block[: cut + 1]
                carry = block[cut + 1:]
                n = count_lines(complete)
                yield Chunk(line_no, complete, longs, end=base + cut + 1, next_line=line_no + n)
                longs = []
                line_no += n
            if len(carry) > self.max_line_bytes:
                skipping = LongLine(line_no, carry[:HEAD_BYTES], len(carry))
                carry = b""
        damaged = self.error is not None
        if skipping is not None:
            skipping.truncated = damaged
            longs.append(skipping)
        if self.whole_lines and carry and not damaged:
            # A line still being written: left for the next read, which starts at its first byte.
            yield Chunk(line_no, b"", longs, final=True, end=pos - len(carry), next_line=line_no)
            return
        yield Chunk(line_no, carry, longs, final=True, tail_damaged=damaged and bool(carry), end=pos,
                    next_line=line_no + (1 if carry else 0))
