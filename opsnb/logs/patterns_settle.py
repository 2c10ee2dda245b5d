"""Settling mined templates: merges the online pass cannot see, then re-assignment.

The online miner (:class:`opsnb.logs.patterns.TemplateMiner`) routes a message by its
length and first tokens, so two lines of one template land apart when a variable sits
in the routing tokens (a user name first) or changes the token count (a list, a phrase,
a command line). Once a batch is mined, :func:`settle` looks at the templates as a whole:

1. **Variable-length runs.** A template is written canonically with each run of
   wildcards as one ``<*>`` (``a <*> <*> b`` is ``a <*> b``); templates that are equal
   in that form, or up to trailing ``key: <*>`` fields that come and go (nginx's
   ``, referrer: "..."``), are one template.
2. **Phrases.** Templates that differ only in a phrase of 1-``_SPAN`` words, whatever its
   length, merge when the phrases occur in several contexts (punctuation glued to a phrase's
   last word aside: ``Started %s.``, ``Stopping %s...``) and are rarer than the frame
   around them (:func:`_merge_spans`); same-length runs of 1-3 positions likewise
   (:func:`_merge_runs`). A template's constants are its commonest words (Brain), and a
   phrase whose words sit at different offsets in different lines is a list or free text
   whatever their frequency (:func:`_moving_values`); a ``<*>`` an earlier merge made counts as
   one more value of its frame, so a late phrase joins it; a phrase one frame took as a value is
   a value in every frame (``Failed to start <*>``, whose words are rarer than the units it names).
   Templates sharing a prefix of at least three frequent constants whose tails are all
   rare words (free text after a label: an SQL statement, a command line) end in one
   ``<*>`` of any length (:func:`_merge_tails`).
3. **Keyed on constants, not position.** Templates of one length are compared with each
   other whatever their first tokens (Brain's and PIPLUP's point: the constant tokens
   are what a template *is*); a pair merges when the positions where both hold constants
   agree on at least ``similarity`` of them, the rest becoming ``<*>`` (``key=<*>`` where
   both are values of one key).
4. **Re-assignment.** Every template that was merged away is mapped to the template that
   now holds it (its *alias*), so every line, early or late, ends on the settled
   template; ``TemplateMiner.resolve`` follows the map. A miner continued from saved
   templates first folds the templates made since the load into saved ones they are an
   instance of (:func:`_refit`), so lines keep their ids across runs.

Pinned templates never change and never absorb others: an SRE pinned them to keep them.
Everything is deterministic (templates visited by id), so the same input settles to the
same templates and ids in every run.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from opsnb.logs.patterns import merge_token

if TYPE_CHECKING:
    from opsnb.logs.patterns import Template, TemplateMiner

WILDCARD = "<*>"


# A key's value is a value whatever its shape: ``TTY=pts/0`` (``TTY=<ID>``), ``TTY=unknown``
# (``TTY=<*>``) and ``PWD=/srv/app`` (``PWD=<PATH>``) beside ``PWD=/root`` are one field. Shown
# typed, compared untyped: each shape was a constant of its own in the settle pass's buckets.
_KEYED_TYPE = re.compile(r"(?<==)<[A-Z]+>$")


def _untyped(t: str) -> str:
    """``key=<TYPE>`` written ``key=<*>``; any other token as it is."""
    return _KEYED_TYPE.sub(WILDCARD, t) if t[-1] == ">" and "=<" in t else t


def canonical(tokens: list[str]) -> tuple[str, ...]:
    """``tokens`` with every placeholder written ``<*>`` and each run of them made one."""
    from opsnb.logs.patterns import _is_var

    out: list[str] = []
    for t in tokens:
        if t[0] == "<" and _is_var(t):
            t = WILDCARD
            if out and out[-1] == WILDCARD:
                continue
        else:
            t = _untyped(t)
        out.append(t)
    return tuple(out)


def _core(form: tuple[str, ...]) -> tuple[str, ...]:
    """``form`` without what may come and go at its end: one trailing variable run ("COMMAND=<*>"
    with no arguments) and trailing ``key: <*>`` pairs (nginx's ``, referrer: "..."``, optional
    fields of a ``key: value`` record). What is left must still hold two constants.

    A trailing ``key=<*>`` is kept: Loghub's labels (the development set) count pam_unix's
    ``rhost=<*>`` and ``rhost=<*> user=<*>`` as two events, and merging them cost 0.25 of
    OpenSSH's grouping accuracy."""
    def consts(f: tuple[str, ...]) -> int:
        return sum(1 for x in f if x != WILDCARD)

    while len(form) > 2:
        last = form[-1]
        if last == WILDCARD and form[-2].endswith(":") and consts(form[:-2]) >= 2:
            form = form[:-2]
        elif last == WILDCARD and consts(form[:-1]) >= 2:
            return form[:-1]
        else:
            break
    return form


def _sim(a: list[str], b: list[str]) -> float:
    """Share of the positions where either holds a constant at which both hold the same one."""
    from opsnb.logs.patterns import _is_var, _keyed_fits

    const = same = 0
    for x, y in zip(a, b, strict=True):
        vx, vy = x[0] == "<" and _is_var(x), y[0] == "<" and _is_var(y)
        if vx and vy:
            continue
        const += 1
        if x == y or (x[-1] == ">" and _keyed_fits(x, y)) or (y[-1] == ">" and _keyed_fits(y, x)):
            same += 1
    return 1.0 if const == 0 else same / const


def _absorb(miner: TemplateMiner, keep: Template, gone: Template, tokens: list[str]) -> None:
    keep.tokens = tokens
    keep.constants = sum(1 for x in tokens if x != WILDCARD and not (x[0] == "<" and x[-1] == ">"))
    keep.count += gone.count
    if keep.obs and gone.obs and len(keep.obs) == len(gone.obs) == len(tokens):
        keep.obs = [a if a == b else None for a, b in zip(keep.obs, gone.obs, strict=True)]
        keep.nobs += gone.nobs
    elif gone.nobs or (keep.obs and len(keep.obs) != len(tokens)):
        # Cannot line the two up: show placeholders. (Comparing the old token count here, after
        # the assignment above, kept observations one template longer than its tokens, which
        # the saved JSON then failed to load: apt's held-out set did that.)
        keep.obs = []
    if gone.name and not keep.name:
        keep.name = gone.name
    miner._alias[gone.id] = keep.id
    del miner._templates[gone.id]


_MANY = 3


def _word_counts(miner: TemplateMiner) -> dict[str, int]:
    """Lines holding each token (a token counted once per template)."""
    freq: dict[str, int] = {}
    for t in miner._templates.values():
        for x in set(map(_untyped, t.tokens)):  # as the buckets write them (canonical_tokens)
            freq[x] = freq.get(x, 0) + t.count
    return freq


def _rare_values(freq: dict[str, int], frame: tuple[str, ...], values: set[tuple[str, ...]], *,
                 rarest: bool = False) -> set[tuple[str, ...]]:
    """The values whose typical (median) word is at most half as common as the frame's rarest word.

    A template's constants are its commonest words (Brain's observation): without this test,
    ``Started Rotate log files.`` / ``Stopped Rotate log files.`` / ``Finished ...`` would make the
    verbs the variable and the unit's description the template. The median, not the rarest word:
    a "phrase" that is mostly the record's own punctuation and keys (``alice : TTY=<*> ; PWD=<*>``)
    is not a value because it holds one rare name. Each value is judged alone: the ones that
    fail stay templates of their own. With ``rarest``, a value's rarest word is judged instead.
    """
    least = min((freq.get(x, 0) for x in frame if x != WILDCARD), default=0)
    out = set()
    for v in values:
        counts = sorted(freq.get(x, 0) for x in v if x != WILDCARD)
        if not counts or 2 * counts[0 if rarest else len(counts) // 2] <= least:
            out.add(v)
    return out


_ALNUM = re.compile(r"[^\W_]")


def _moving_values(freq: dict[str, int], frame: tuple[str, ...], values: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """The values each of whose words is rare (as :func:`_rare_values` judges one word) or *moves*.

    A word that sits at two different offsets among a frame's values, counted from the start and
    from the end (``curl`` first in ``curl git`` and second in ``git curl``; ``User`` in ``Session 4
    of User alice`` and ``User Manager for UID 1000``) is an element of a list or of free text, not part of a
    sub-template: a constant keeps its place in its format string. This catches values
    built from a small vocabulary of names, which recur across a log's events and so fail
    Brain's frequency test. A value with a word that keeps one offset and is common
    (``invalid user <*>`` beside ``root``) stays apart.
    """
    offsets: dict[str, set[int]] = {}
    ends: dict[str, set[int]] = {}  # offsets from the value's end
    for v in values:
        for i, x in enumerate(v):
            if x != WILDCARD:
                offsets.setdefault(x, set()).add(i)
                ends.setdefault(x, set()).add(len(v) - i)
    # A word that keeps its offset from the end moves only because what precedes it varies in
    # length: a constant after a variable phrase (``<*> Goodbye [preauth]``, ``<*> disconnected by
    # user [preauth]``), which a list's element or free text does not do.
    moving = {x for x, o in offsets.items() if len(o) > 1 and len(ends[x]) > 1}
    if not moving:
        return set()
    least = min((freq.get(x, 0) for x in frame if x != WILDCARD), default=0)
    return {v for v in values
            if any(x in moving for x in v)
            and all(x == WILDCARD or x in moving or 2 * freq.get(x, 0) <= least for x in v)}


def _merge_runs(miner: TemplateMiner) -> bool:
    changed = False
    for width in (1, 2, 3):
        buckets: dict[tuple[int, int, tuple[str, ...]], list[Template]] = {}
        for tid in sorted(miner._templates):
            t = miner._templates[tid]
            if t.pinned:
                continue
            toks = canonical_tokens(t.tokens)
            for p in range(0, len(toks) - width + 1):
                if toks[p:p + width].count(WILDCARD) == width:
                    continue
                rest = tuple(toks[:p]) + tuple(toks[p + width:])
                key = (len(toks), p, rest)
                # The rest must say what the template is: at least one constant, two around a longer run.
                if len(rest) - rest.count(WILDCARD) >= min(width, 2):
                    buckets.setdefault(key, []).append(t)
        # Where else each run value occurs: a value seen in several contexts (a user name, a
        # unit's description after Started/Stopped/Finished) is a value; one seen in a single
        # context (``illegal`` in ``program interrupt: illegal``) is more likely a constant.
        contexts: dict[tuple[str, ...], set[tuple[int, int, tuple[str, ...]]]] = {}
        for key, group in buckets.items():
            for t in group:
                contexts.setdefault(tuple(t.tokens[key[1]:key[1] + width]), set()).add(key)
        freq = _word_counts(miner)
        for (_n, p, rest), group in sorted((kv for kv in buckets.items() if len(kv[1]) >= _MANY),
                                           key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            live = [t for t in group if t.id in miner._templates and not t.pinned]
            values = {tuple(t.tokens[p:p + width]) for t in live}
            if len(values) < _MANY or sum(1 for v in values if len(contexts.get(v, ())) > 1) * 2 < len(values):
                continue
            rare = _rare_values(freq, rest, values)
            if len(rare) < _MANY:
                continue
            live = [t for t in live if tuple(t.tokens[p:p + width]) in rare]
            live.sort(key=lambda t: (-t.count, t.id))
            keep = live[0]
            for gone in live[1:]:
                if gone.id not in miner._templates or len(gone.tokens) != len(keep.tokens):
                    continue
                merged = [a if a == b else merge_token(a, b) for a, b in zip(keep.tokens, gone.tokens, strict=True)]
                _absorb(miner, keep, gone, merged)
                changed = True
    return changed


_SPAN = 10  # widest variable phrase merged (a unit description, a command line, a file name with spaces)
_MAX_SPAN_TEMPLATES = 5000  # bounded: every template costs up to len * _SPAN keys


_EDGE = re.compile(r"[^\w<>]+$")


def _bare(phrase: tuple[str, ...]) -> tuple[str, ...]:
    """``phrase`` without the punctuation glued to its last word, to compare it across contexts.

    A format string often glues its own punctuation to a value (``Stopping %s...``,
    ``Started %s.``): the value is the same phrase in both, and counting its contexts must see that.
    """
    if phrase[-1][-1].isalnum():  # the common case, without the regex (this runs len * _SPAN times per template)
        return phrase
    last = _EDGE.sub("", phrase[-1])
    return (*phrase[:-1], last) if last else phrase


def _merge_spans(miner: TemplateMiner, known: set[tuple[str, ...]] | None = None) -> bool:
    """Merge templates that differ only in a phrase of 1-``_SPAN`` words, whatever its length.

    ``Started Rotate log files.`` and ``Started Journal Service.`` are one template when the
    phrases also occur in other contexts (``Stopped Rotate log files.``): a phrase seen after
    several constant prefixes is a value (Brain's and PIPLUP's point, without positions). The
    phrase must take at least ``_MANY`` values, and the template around it keep a constant.
    """
    live = [miner._templates[tid] for tid in sorted(miner._templates)]
    live = [t for t in live if not t.pinned]
    if len(live) > _MAX_SPAN_TEMPLATES:
        return False
    buckets: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[Template, tuple[str, ...]]]] = {}
    for t in live:
        toks = canonical_tokens(t.tokens)
        n = len(toks)
        if n > 64:
            continue
        for p in range(0, n):
            # A phrase that runs to the end may be longer (free text after a label: an SQL
            # statement after ``STATEMENT:``), as a trailing <*> takes any length (_span_fits),
            # but only into a <*> shorter phrases established (below).
            for w in (*range(1, min(_SPAN, n - p) + 1), *((n - p,) if n - p > _SPAN else ())):
                mid = tuple(toks[p:p + w])
                if mid.count(WILDCARD) == w:  # (counting in C: this loop runs len * _SPAN times per template)
                    # A lone <*> an earlier merge made is a value too: the template already holds
                    # the phrases that took it, so one more phrase in the same frame joins it
                    # (``Starting <*>`` and a late ``Starting Session 4 of User alice...``).
                    if w == 1 and t.count >= _MANY and 0 < p < n - 1 or (w == 1 and p == n - 1 and n > 1
                                                                         and t.count >= _MANY):
                        pre, suf = tuple(toks[:p]), tuple(toks[p + 1:])
                        if pre[-1] != WILDCARD and (not suf or suf[0] != WILDCARD) \
                                and n - 1 != pre.count(WILDCARD) + suf.count(WILDCARD):
                            buckets.setdefault((pre, suf), []).append((t, mid))
                    continue
                pre, suf = tuple(toks[:p]), tuple(toks[p + w:])
                if n - w == pre.count(WILDCARD) + suf.count(WILDCARD) or (pre and pre[-1] == WILDCARD) \
                        or (suf and suf[0] == WILDCARD):
                    continue
                buckets.setdefault((pre, suf), []).append((t, mid))
    freq = _word_counts(miner)
    contexts: dict[tuple[str, ...], set[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for key, group in buckets.items():
        for _t, mid in group:
            contexts.setdefault(_bare(mid), set()).add(key)
    changed = False
    rewritten: set[int] = set()
    # The most specific frame first (most constants around the phrase), then a fixed order.
    order = sorted((k for k, g in buckets.items()  # fewer cannot hold _MANY values
                    if len(g) >= _MANY or (len(g) == 2 and any(m == (WILDCARD,) for _t, m in g))),
                   key=lambda k: (-sum(1 for x in k[0] + k[1] if x != WILDCARD), k))
    for key in order:
        # The frame must say what the template is with a word, not punctuation alone (``<*> ...``).
        if not any(x != WILDCARD and _ALNUM.search(x) for x in key[0] + key[1]):
            continue
        # A template a merge of this pass rewrote no longer holds the phrase it was bucketed
        # with: it waits for the next pass, which buckets its new tokens.
        group = [(t, mid) for t, mid in buckets[key] if t.id in miner._templates and t.id not in rewritten]
        values = {mid for _t, mid in group}
        # An established <*> stands for the _MANY values it already took, and for several contexts.
        held = (WILDCARD,) in values
        if not held and any(len(v) > _SPAN for v in values):
            # A tail longer than a phrase only joins a <*> that shorter phrases established.
            group = [(t, mid) for t, mid in group if len(mid) <= _SPAN]
            values = {mid for _t, mid in group}
        if len({t.id for t, _m in group}) < 2 or len(values) + (_MANY - 1 if held else 0) < _MANY:
            continue
        if sum(1 for v in values if v == (WILDCARD,) or len(contexts.get(_bare(v), ())) > 1) * 2 < len(values):
            continue
        frame = key[0] + key[1]
        rare = _rare_values(freq, frame, values) | _moving_values(freq, frame, values)
        # A phrase of common words seen in several contexts (``User Manager for UID <*>`` after
        # Started, Stopped, Listening on ...) fails the median test because it travels: its words
        # are counted in every context. It is a value when its rarest word is rare and it holds a
        # small share of the frame's lines; a large share is a branch of the format string
        # (``for invalid user <*>`` beside ``for <*>``: merging that cost OpenSSH 0.26 on dev).
        travelled = {v for v in values - rare if len(v) > 1 and len(contexts.get(_bare(v), ())) > 1}
        if travelled:
            lines = sum(t.count for t, _m in group)
            share: dict[tuple[str, ...], int] = {}
            for t, mid in group:
                share[mid] = share.get(mid, 0) + t.count
            travelled = {v for v in travelled if share[v] * 2 * _MANY <= lines}
        if travelled:
            rare |= _rare_values(freq, frame, travelled, rarest=True)
        if known:
            # A phrase an earlier merge took as a value (``Snap Daemon.`` in ``Started <*>``) is a
            # value in every frame: a rare event's words (``Failed to start``) are rarer than the
            # names it prints, so the frequency test alone keeps each name a template of its own.
            rare |= {v for v in values if _bare(v) in known}
        if len(rare) + (_MANY - 1 if held else 0) < _MANY:
            continue
        group = [(t, mid) for t, mid in group if mid in rare]
        if known is not None:
            known.update(_bare(mid) for _t, mid in group if mid != (WILDCARD,))
        group.sort(key=lambda tm: (-tm[0].count, tm[0].id))
        keep = group[0][0]
        tokens = [*key[0], WILDCARD, *key[1]]
        for gone, _mid in group[1:]:
            if gone.id in miner._templates and gone.id != keep.id:
                _absorb(miner, keep, gone, tokens)
                changed = True
                rewritten.add(keep.id)
        if changed and keep.tokens != tokens:
            rewritten.add(keep.id)
            keep.tokens = tokens
            keep.constants = sum(1 for x in tokens if x != WILDCARD)
            keep.obs = []
    return changed


_TAIL_PREFIX = 3  # constants a prefix needs before its tail may be one variable (2 merged BGL events on dev)


def _merge_tails(miner: TemplateMiner) -> bool:
    """Merge templates that share a prefix of frequent constants and differ in a tail of rare words.

    Free text after a label (an SQL statement after ``STATEMENT:``, a command line) takes a new
    template per distinct text whatever its length, so neither the phrase merge (bounded width,
    several contexts) nor the run merge (same length) sees it. A tail is one variable when, among
    at least ``_MANY`` templates whose canonical forms start with the same prefix of at least
    ``_TAIL_PREFIX`` constants, with distinct tails that begin with at least two different words:
    every tail word is in under half of the group's lines (no word of the tail is what the group
    shares: a high-entropy tail) and at most half as common in the batch as the prefix's rarest
    word (Brain: a template's constants are its commonest words). The longest prefixes go first,
    so the most specific frame holds the tail.
    """
    live = [miner._templates[tid] for tid in sorted(miner._templates)]
    groups: dict[tuple[str, ...], list[Template]] = {}
    for t in live:
        if t.pinned:
            continue
        toks = canonical_tokens(t.tokens)
        consts = 0
        for p in range(1, len(toks)):
            if toks[p - 1] == WILDCARD:
                continue
            consts += 1
            if consts >= _TAIL_PREFIX:
                groups.setdefault(tuple(toks[:p]), []).append(t)
    freq = _word_counts(miner)
    changed = False
    for pre in sorted((k for k, g in groups.items() if len(g) >= _MANY), key=lambda k: (-len(k), k)):
        group = [t for t in groups[pre] if t.id in miner._templates]
        if len(group) < _MANY:
            continue
        tails = [canonical_tokens(t.tokens)[len(pre):] for t in group]
        if len({tuple(x) for x in tails}) < _MANY or len({x[0] for x in tails}) < 2:
            continue
        lines = sum(t.count for t in group)
        least = min(freq.get(x, 0) for x in pre if x != WILDCARD)
        inside: dict[str, int] = {}  # lines of the group holding each tail word
        for t, tail in zip(group, tails, strict=True):
            for x in set(tail):
                if x != WILDCARD:
                    inside[x] = inside.get(x, 0) + t.count
        if any(2 * c > lines or 2 * freq.get(x, 0) > least for x, c in inside.items()):
            continue
        group.sort(key=lambda t: (-t.count, t.id))
        keep = group[0]
        tokens = [*pre, WILDCARD]
        for gone in group[1:]:
            _absorb(miner, keep, gone, tokens)
        keep.tokens = tokens
        keep.constants = sum(1 for x in tokens if x != WILDCARD)
        keep.obs = []
        changed = True
    return changed

def _span_fits(pattern: list[str], tokens: list[str]) -> bool:
    """Whether ``tokens`` are an instance of ``pattern``, each ``<*>`` standing for 1-``_SPAN`` tokens
    (a last one for any number)."""
    from opsnb.logs.patterns import _is_var, _keyed_fits

    n = len(tokens)
    ok = {0}  # positions in tokens reachable after the pattern's first i tokens
    last = len(pattern) - 1
    for i, pt in enumerate(pattern):
        nxt: set[int] = set()
        for j in ok:
            if pt == WILDCARD:
                # A trailing <*> may be a tail of any length (:func:`_merge_tails`).
                nxt.update(range(j + 1, (n if i == last else min(n, j + _SPAN)) + 1))
            elif j < n and (pt == tokens[j] or (pt[-1] == ">" and (_is_var(pt) or _keyed_fits(pt, tokens[j])))):
                nxt.add(j + 1)
        if not nxt:
            return False
        ok = nxt
    return n in ok


def _refit(miner: TemplateMiner) -> bool:
    """Fold a template made since the miner was loaded into a saved one it is an instance of
    (``Started Foo Bar.`` into ``Started <*>``): a miner continued from saved templates routes a new
    line by its token count and first words, so a line of a template that an earlier run settled
    starts a template of its own until this finds its home. Fresh miners skip it."""
    since = miner._loaded_next
    if since is None:
        return False
    live = [miner._templates[tid] for tid in sorted(miner._templates)]
    wild: dict[str, list[Template]] = {}  # first constant token -> templates holding a <*>
    for k in live:
        first = next((x for x in k.tokens if x != WILDCARD), None)
        if not k.pinned and WILDCARD in k.tokens and first is not None and k.id < since:
            wild.setdefault(first, []).append(k)
    if not wild:
        return False
    changed = False
    for t in live:
        if t.id not in miner._templates or t.pinned or t.id < since:
            continue
        cands = [k for x in dict.fromkeys(t.tokens) for k in wild.get(x, ())]
        for k in sorted(cands, key=lambda k: k.id):
            if k.id != t.id and k.id in miner._templates and len(k.tokens) <= len(t.tokens) \
                    and k.tokens != t.tokens and _span_fits(k.tokens, t.tokens):
                _absorb(miner, k, t, list(k.tokens))
                changed = True
                break
    return changed


def canonical_tokens(tokens: list[str]) -> list[str]:
    """``tokens`` with every placeholder written ``<*>`` (same length)."""
    from opsnb.logs.patterns import _is_var

    return [WILDCARD if t[0] == "<" and _is_var(t) else _untyped(t) for t in tokens]


def settle(miner: TemplateMiner, similarity: float) -> dict[int, int]:
    """Merge ``miner``'s templates as the module doc says; return ``{merged-away id: surviving id}``."""
    before = dict(miner._alias)
    known: set[tuple[str, ...]] = set()  # phrases a merge took as values (see _merge_spans)
    changed = True
    while changed:
        changed = False
        # 1. Equal canonical forms (variable-length runs).
        by_form: dict[tuple[tuple[str, ...], bool], Template] = {}
        for tid in sorted(miner._templates):
            t = miner._templates[tid]
            if t.pinned:
                continue
            form = _core(canonical(t.tokens))
            other = by_form.get((form, False))
            if other is None:
                by_form[(form, False)] = t
                continue
            keep, gone = (other, t) if other.count >= t.count or (other.count == t.count and other.id < t.id) else (t, other)
            tokens = list(canonical(keep.tokens)) if len(keep.tokens) != len(gone.tokens) else \
                [a if a == b else merge_token(a, b) for a, b in zip(keep.tokens, gone.tokens, strict=True)]
            _absorb(miner, keep, gone, tokens)
            by_form[(form, False)] = keep
            changed = True
        # 2. A run of 1-3 positions that takes at least _MANY values while the rest of the
        # template is the same is a variable (Brain's column test, position-free): merge.
        changed |= _refit(miner)
        changed |= _merge_spans(miner, known)
        changed |= _merge_tails(miner)
        changed |= _merge_runs(miner)
        # 3. Same length, any first tokens: merge on agreeing constants.
        by_len: dict[int, list[Template]] = {}
        for tid in sorted(miner._templates):
            t = miner._templates[tid]
            if not t.pinned:
                by_len.setdefault(len(t.tokens), []).append(t)
        for group in by_len.values():
            if len(group) < 2 or len(group) > 2000:  # bounded: a quadratic pass over one length
                continue
            group.sort(key=lambda t: (-t.count, t.id))
            kept: list[Template] = []
            for t in group:
                best, best_sim = None, -1.0
                for k in kept:
                    s = _sim(k.tokens, t.tokens)
                    if s > best_sim:
                        best, best_sim = k, s
                if best is not None and best_sim >= similarity:
                    merged = [a if a == b else merge_token(a, b) for a, b in zip(best.tokens, t.tokens, strict=True)]
                    _absorb(miner, best, t, merged)
                    changed = True
                else:
                    kept.append(t)
    # Re-assignment: follow chains so each alias points at a live template.
    for old in list(miner._alias):
        new = miner._alias[old]
        while new in miner._alias:
            new = miner._alias[new]
        miner._alias[old] = new
    # The masked-message cache and the shape caches point at templates: re-point them.
    live = miner._templates
    for key, tid in list(miner._cache.items()):
        if tid not in live:
            miner._cache[key] = miner._alias[tid]
    for skey, t in list(miner._seen.items()):
        if t.id not in live:
            miner._seen[skey] = live[miner._alias[t.id]]
    miner._rebuild_tree()
    return {k: v for k, v in miner._alias.items() if before.get(k) != v}
