"""Masking: the variable parts of a log message replaced by typed placeholders.

:func:`mask` is the digit-word masking error fingerprints key on (kept as it is so stored
fingerprints do not change); :func:`premask` is what the template miner uses: general shapes
of variables first (URLs, paths, host:port, clock durations, ``key=value`` values, ``name[pid]``), then
:func:`mask`, then every token made only of placeholders and punctuation (``<NUM>:<NUM><ID>``,
a Debian version ``1:2.36-9``) written as one ``<*>``. One setting for every input, none per
data set; every rule treats the ten digits alike, so equal digit shapes mask alike
(:func:`opsnb.logs.patterns.digit_shape`).
"""

from __future__ import annotations

import re
from typing import Any

# Characters that end a "word" for masking: a placeholder replaces the value
# after ``key=``, ``ip:port`` or inside ``(...)`` and leaves the key and brackets.
_DELIM = r"\s=:,;()\[\]{}<>\"'|"
# A word holding a digit. The lookbehind anchors it at a word start, and possessive
# quantifiers (never give back) keep the scan linear: no backtracking inside words.
_DIGIT_WORD = re.compile(rf"(?<![^{_DELIM}])[^{_DELIM}\d]*+\d[^{_DELIM}]*+")
_KINDS: list[tuple[str, str]] = [
    ("IP", r"/?(?:\d{1,3}\.){3}\d{1,3}"),
    ("NUM", r"[-+]?\d+(?:[.,]\d+)*\.?"),
    ("UUID", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    ("HEX", r"0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}"),
    ("DUR", r"[-+]?\d+(?:\.\d+)?(?:ns|us|\u00b5s|ms|s|sec|secs|m|min|mins|h|hrs?)"),
    ("SIZE", r"\d+(?:\.\d+)?(?:[KMGTP]i?B|[kmgtp]b|B|bytes)"),
]
_KIND_RX = re.compile("|".join(f"(?P<{k}>(?:{rx})\\Z)" for k, rx in _KINDS))
_HAS_DIGIT = re.compile(r"\d")
_word_cache: dict[str, str] = {}


def _classify(word: str) -> str:
    m = _KIND_RX.match(word)
    return f"<{m.lastgroup}>" if m is not None else "<ID>"


def _repl(m: re.Match[str], _get: Any = _word_cache.get) -> str:
    word = m.group()
    if word.isdecimal():  # the commonest value, and one the cache fills up with: \d is Unicode's Nd, as isdecimal
        return "<NUM>"
    out = _get(word)
    if out is None:
        out = _classify(word)
        if len(_word_cache) < 200_000:  # repeated values (small numbers, ports) are cheap
            _word_cache[word] = out
    return out


_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.){0,256}"')
_QUERY = re.compile(r"(?<=\?)[\w.%-]+=[^\s\"]*")


def mask(message: str) -> str:
    """Replace variable parts of a message by placeholders.

    Double-quoted strings become ``<STR>`` and URL query strings ``?<QUERY>`` (user input:
    search terms, names). Then every word holding a digit becomes a typed placeholder:
    ``<NUM>``, ``<IP>``, ``<UUID>``, ``<HEX>``, ``<DUR>`` (35ms, 1.5s), ``<SIZE>`` (4KB),
    else ``<ID>`` (``blk_-42``, ``core.2275``). Words end at white space and ``=:,;()[]{}<>"'|``.

    Example:
        >>> mask('took 35ms to reach 10.0.0.1:80 for blk_-42 uid=0 q="rain jacket"')
        'took <DUR> to reach <IP>:<NUM> for <ID> uid=<NUM> q=<STR>'
    """
    if '"' in message:
        message = _QUOTED.sub("<STR>", message)
    if "?" in message:
        message = _QUERY.sub("<QUERY>", message)
    if _HAS_DIGIT.search(message) is None:
        return message  # the common no-number case skips the substitution
    return _DIGIT_WORD.sub(_repl, message)


# General shapes of variables that masking by digit-words misses or splits (one setting for
# every input, none per data set): URLs, absolute paths, host:port, clock-style durations
# (00:01, 1:02:03.456) and the value of key=value. They treat every digit alike, like mask().
_URL = r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+"
_PATH = r"(?<![^\s=:(\[\"'])(?:/[\w.@%+~-]+){2,}/?"
_HOSTPORT = r"(?<![^\s=(\[\"'@])[A-Za-z][\w-]*(?:\.[\w-]+)+:\d+\b"
_CLOCK = r"(?<![\w:.])\d{1,2}(?::\d\d){1,2}(?:\.\d+)?(?![\w:])"
# Scans, each behind a cheap substring test, cost well under one scan of the alternation.
_URL_RX = re.compile(_URL)
_PATH_RX = re.compile(_PATH)
# host:port and clock durations, one scan each with a plain replacement (no Python call per
# match): they cannot overlap (one starts at a letter, the other holds none), so the two scans
# give what one scan of their alternation did. Both need a ':' then a digit, as a ctime date
# does: one cheap search for that skips all three on most messages.
_HOSTPORT_RX = re.compile(_HOSTPORT)
_CLOCK_RX = re.compile(_CLOCK)
_COLON_DIGIT = re.compile(r":\d")
# A key=value's value without digits (user=alice); one with digits is masked by type below.
_KV = re.compile(r"(?<![^\s,;(\[])([A-Za-z_][\w.-]*=)(?![<\s,;])[^\s\d,;\"'<>()\[\]]+(?![^\s,;\"'<>()\[\]])")


# A date written inside a message, ctime style (asctime(), syslog, many C programs):
# "Sat Jul  9 22:53:19 2005" or "Jul 9 22:53:19"; the day and month names are not constants.
_CTIME_RX = re.compile(r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +"
                       r"\d{1,2},? +\d{1,2}:\d\d(?::\d\d(?:\.\d+)?)?(?: +\d{4})?\b")

_MONTH_RX = re.compile(r"[JFMASOND][aepuco][nbrylgptvc] +\d")  # every month name, then a number


# The human-readable size some programs print in brackets after a byte count, only past some
# size: ``512 bytes`` but ``1,234 bytes (1.20 KB)``. It restates the count, and left in it would
# change the word count with the value (two templates for one format string), so it is dropped:
# both read ``<NUM> bytes``, the unit staying a constant as Loghub's templates keep it.
_SIZE_RESTATED_RX = re.compile(r"(?<=\d bytes) \(\d+(?:\.\d+)? ?[KMGTP]i?B\)")


# A process written ``name[pid]`` (``nginx[4242]:``, as the kernel and syslog print a task):
# the pid is a value, and so is the name, the same event printing any program's.
_NAME_PID_RX = re.compile(r"(?<![^\s(])[A-Za-z][\w.:/-]*\[\d+\]:?(?!\S)")


def premask(message: str) -> str:
    """:func:`mask`, after the shapes it misses: URLs, paths, host:port, clocks, ``key=value`` values, ``name[pid]``.

    The miner uses this; error fingerprints keep :func:`mask` so stored fingerprints do not change.

    Example:
        >>> premask("GET http://a.example/x from cache.example.org:5070 took 01:02:03 user=alice in /var/log/syslog")
        'GET <URL> from <ADDR> took <DUR> user=<*> in <PATH>'
    """
    if "/" in message:
        if "://" in message:
            message = _URL_RX.sub("<URL>", message)
        message = _PATH_RX.sub("<PATH>", message)
    if ":" in message and _COLON_DIGIT.search(message) is not None:
        if _MONTH_RX.search(message) is not None:  # a cheap scan first: 0.3 us instead of 0.8
            message = _CTIME_RX.sub("<DATE>", message)
        message = _HOSTPORT_RX.sub("<ADDR>", message)
        message = _CLOCK_RX.sub("<DUR>", message)  # a clock duration is one variable, 00:01 and 01:02:03 alike
    if "=" in message:
        message = _KV.sub(r"\1<*>", message)
    if "[" in message:
        message = _NAME_PID_RX.sub("<*>", message)
    if " bytes (" in message:
        message = _SIZE_RESTATED_RX.sub("", message)
    message = mask(message)
    if "<" in message:
        message = _VAR_TOKEN.sub("<*>", message)
    return message


# A token made only of placeholders and punctuation is one variable, whatever pieces it was
# masked into: a Debian version 1:2.36-9 (<NUM>:<NUM><ID>), <IP>:<NUM>, (<NUM>), <STR>, ...
# Left as it is, each shape would be a constant of its own and split one template into many.
# A token that is one placeholder alone (<NUM>) keeps its type: the lookahead leaves it out, so
# the replacement is a plain string (no Python call per token).
_VAR_TOKEN = re.compile(r"(?<!\S)(?!<[A-Z*]+>(?!\S))[^\w\s<>]*+(?:<[A-Z*]+>[^\w\s<>]*+)++(?!\S)")
