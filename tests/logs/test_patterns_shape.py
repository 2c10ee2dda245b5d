"""The digit-shape caches of mining change speed only, never results.

Masking and the built-in header shapes treat the digits alike (only HEX's ``0x`` names one),
so mining keys two caches on a line's digit shape. These tests pin that claim: masking a
message and masking its shape agree on hostile random text, and a file mined through
both caches gets exactly the ids, templates and counts of a miner that caches no shape.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from opsnb.logs.headers import HeaderSplitter
from opsnb.logs.minefile import mine_file
from opsnb.logs.patterns import _MAX_KEY, TemplateMiner, digit_shape, mask

# Characters that steer masking: digits (ASCII and not), hex letters, x/X, unit suffixes,
# delimiters, quotes and the query mark, dots and dashes, non-ASCII letters.
_ALPHABET = list("0123456789" "0000" "xXabcdefABCDEF" "msKBhu" " =:,;()[]{}<>\"'|" "?&./-_+" "\u00e9\u0663\u00b5")


def _noisy(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(_ALPHABET) for _ in range(n))


def test_digit_shape_keeps_what_masking_reads() -> None:
    assert digit_shape("took 35ms from 10.0.0.255") == b"took 11ms from 11.1.1.111"
    assert digit_shape("mask 0x7f, 5x7f") == b"mask 0x1f, 1x1f"  # "0x" is HEX's one literal digit
    assert digit_shape("caf\u00e9 \u0663 7") == "caf\u00e9 \u0663 1".encode()  # only ASCII digits change
    assert digit_shape("lone \ud800 7") == b"lone \xed\xa0\x80 1"  # a lone surrogate is kept, not an error


def test_mask_of_a_message_equals_mask_of_its_shape() -> None:
    rnd = random.Random(20261122)
    for _ in range(4000):
        msg = _noisy(rnd, rnd.randrange(1, 60))
        assert mask(msg) == mask(digit_shape(msg).decode("utf-8", "surrogatepass")), msg


class _NoShapes(dict[Any, Any]):
    """A shape cache that never stores: the miner then masks and routes every message."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _lines(rnd: random.Random, n: int) -> list[str]:
    """Lines whose shapes repeat, with values that flip masking (0x/5x, IP octets, widths)."""
    shapes = [
        "2026-11-22 07:{m:02d}:{s:02d},{ms:03d} INFO [worker-{w}] com.x.Svc{w}: user {n} from {ip} took {n}ms",
        "2026-11-22 07:{m:02d}:{s:02d},{ms:03d} WARN [worker-{w}] com.x.Svc{w}: reg {d}x{h} value {n}",
        "2026-11-22 07:{m:02d}:{s:02d},{ms:03d} ERROR com.x.Db: slow {n}.{n}s on {ip}:{n} size {n}KB",
        "Jun {w} 07:{m:02d}:{s:02d} host{w} sshd[{n}]: Failed password for root from {ip} port {n} ssh2",
        "Jun {w} 07:{m:02d}:{s:02d} host{w} kernel: id {hx}-{n} blk_{n} \"q {n}\" ?a={n}&b=c",
        "[Sun Dec 04 04:{m:02d}:{s:02d} 2005] [error] mod_jk child {n} in error state {w}",
        "no header at all {n} {d}X{h} {n}.{n}.{n}.{n}.{n}\r",
        "2026-11-22 07:{m:02d}:{s:02d},{ms:03d} INFO pair {e}x{h} {d}x{h} end",  # <HEX> <ID> vs <ID> (collapsed)
        "\u0663\u0664 unicode digits {n} caf\u00e9",
    ]
    out = []
    for _ in range(n):
        out.append(rnd.choice(shapes).format(
            m=rnd.randrange(60), s=rnd.randrange(60), ms=rnd.randrange(1000), w=rnd.randrange(1, 10),
            n=rnd.choice([0, 7, 42, 255, 256, 1000, 99999, rnd.randrange(10**9)]),
            ip=".".join(str(rnd.choice([0, 9, 10, 255, 1000])) for _ in range(4)),
            d=rnd.choice("0123456789"), e=rnd.choice("05"), h=rnd.choice(["1f", "7", "ab12", "c0ffee"]),
            hx=f"{rnd.getrandbits(36):09x}"))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_mine_file_with_shape_caches_equals_uncached_mining(tmp_path: Path, seed: int) -> None:
    lines = _lines(random.Random(seed), 3000)
    path = tmp_path / "mixed.log"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    got = mine_file(path)

    ref = TemplateMiner()
    ref._seen = _NoShapes()
    texts = [x[:-1] if x.endswith("\r") else x for x in lines]
    splitter = HeaderSplitter(sample=texts[:200])
    want = [ref.add(splitter.body(t)) for t in texts]
    moved = ref.settle()  # mine_file settles at the end of the file: so must the reference
    want = [moved.get(i, i) for i in want]

    assert got.ids == want
    assert len(got.miner._seen) > 0  # the cache was really used
    assert [(t.id, t.tokens, t.count, t.example) for t in got.miner._templates.values()] == \
        [(t.id, t.tokens, t.count, t.example) for t in ref._templates.values()]


def test_miner_with_shape_cache_equals_uncached_miner() -> None:
    rnd = random.Random(3)
    msgs = [_noisy(rnd, rnd.randrange(1, 30)) for _ in range(500)] + _lines(rnd, 2000)
    msgs += msgs[:1000]
    cached, plain = TemplateMiner(), TemplateMiner()
    plain._seen = _NoShapes()
    assert cached.mine(msgs) == plain.mine(msgs)
    assert [t.tokens for t in cached._templates.values()] == [t.tokens for t in plain._templates.values()]
    assert [t.count for t in cached._templates.values()] == [t.count for t in plain._templates.values()]


def test_long_messages_are_not_cached_by_shape() -> None:
    m = TemplateMiner()
    m.mine(["x" * (_MAX_KEY + 1) + f" {i}" for i in range(50)])
    assert len(m._seen) == 0 and len(m) == 1


def test_shape_cache_turns_off_when_it_does_not_pay_and_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from opsnb.logs import patterns

    monkeypatch.setattr(patterns, "_SHAPE_WINDOW", 64)
    rnd = random.Random(5)
    unique = [f"req {rnd.getrandbits(64):016x}ab took {rnd.randrange(999)}ms" for _ in range(2000)]
    repeating = _lines(rnd, 3000)
    cached, plain = TemplateMiner(), TemplateMiner()
    plain._seen = _NoShapes()
    assert cached.mine(unique) == plain.mine(unique)
    assert cached._shapes_on is False  # every shape new: the cache stopped paying
    assert cached.mine(repeating) == plain.mine(repeating)
    assert cached._shapes_on is True  # it came back and paid again
    assert [(t.tokens, t.count) for t in cached._templates.values()] == \
        [(t.tokens, t.count) for t in plain._templates.values()]


def _premask_one_pass(message: str) -> str:
    """premask as first written: host:port and clocks in one alternation, a Python call per variable token."""
    import re

    from opsnb.logs import premask as pm

    colon = re.compile(f"(?P<ADDR>{pm._HOSTPORT})|(?P<DUR>{pm._CLOCK})")
    var = re.compile(r"(?<!\S)[^\w\s<>]*+(?:<[A-Z*]+>[^\w\s<>]*+)++(?!\S)")
    if "/" in message:
        if "://" in message:
            message = pm._URL_RX.sub("<URL>", message)
        message = pm._PATH_RX.sub("<PATH>", message)
    if ":" in message:
        message = pm._CTIME_RX.sub("<DATE>", message)
        message = colon.sub(lambda m: f"<{m.lastgroup}>", message)
    if "=" in message:
        message = pm._KV.sub(r"\1<*>", message)
    if "[" in message:
        message = pm._NAME_PID_RX.sub("<*>", message)
    message = mask(message)
    if "<" in message:
        message = var.sub(lambda m: m[0] if m[0][0] == "<" and m[0][-1] == ">" and m[0].count("<") == 1
                          else "<*>", message)
    return message


def test_premask_scans_equal_their_one_pass_definition() -> None:
    from opsnb.logs.premask import premask

    rnd = random.Random(7)
    pieces = ["a.b:80", "host-1.x:8080:9", "12:30", "1:02:03.5", "-1:22", "x1:22", "Sat Jul  9 22:53:19 2005",
              "<NUM>", "(<NUM>)", "<*>:", "<A*>", "1:2.36-9+deb12u4", "10.0.0.1:22", "k=v", "/a/b", "http://h/x",
              "nginx[42]:", "a[1]"]
    for _ in range(3000):
        msg = " ".join(rnd.choice(pieces) if rnd.random() < 0.5 else _noisy(rnd, rnd.randrange(1, 12))
                       for _ in range(rnd.randrange(1, 8)))
        assert premask(msg) == _premask_one_pass(msg), msg


def test_mark_0x_sets_nul_where_the_raw_block_has_0x() -> None:
    from opsnb.logs.minefile import _mark_0x
    from opsnb.logs.patterns import _SHAPE

    raw = b"a 0x1f 50x7 0X0x\n0xx 00x"
    want = raw.replace(b"0x", b"\0x").replace(b"0X", b"\0X").translate(_SHAPE)
    assert _mark_0x(raw, raw.translate(_SHAPE)) == want
