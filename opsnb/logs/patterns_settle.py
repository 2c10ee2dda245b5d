"""Settling mined templates: merges the online pass cannot see, then re-assignment.

The online miner (:class:`opsnb.logs.patterns.TemplateMiner`) routes a message by its
length and first tokens, so two lines of one template land apart when a variable sits
in the routing tokens (a user name first) or changes the token count (a list, a phrase,
a command line). Once a batch is mined, :func:`settle` looks at the templates as a whole:

1. **Variable-length runs.** A template is written canonically with each run of
   wildcards as one ``<*>`` (``a <*> <*> b`` is ``a <*> b``); templates that are equal
   in that form are one template.
2. **Keyed on constants, not position.** Templates of one length are compared with each
   other whatever their first tokens (Brain's and PIPLUP's point: the constant tokens
   are what a template *is*); a pair merges when the positions where both hold constants
   agree on at least ``similarity`` of them, the rest becoming ``<*>``.
3. **Re-assignment.** Every template that was merged away is mapped to the template that
   now holds it (its *alias*), so every line, early or late, ends on the settled
   template; ``TemplateMiner.resolve`` follows the map.

Pinned templates never change and never absorb others: an SRE pinned them to keep them.
Everything is deterministic (templates visited by id), so the same input settles to the
same templates and ids in every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsnb.logs.patterns import Template, TemplateMiner

WILDCARD = "<*>"


def canonical(tokens: list[str]) -> tuple[str, ...]:
    """``tokens`` with every placeholder written ``<*>`` and each run of them made one."""
    from opsnb.logs.patterns import _is_var

    out: list[str] = []
    for t in tokens:
        if t[0] == "<" and _is_var(t):
            t = WILDCARD
            if out and out[-1] == WILDCARD:
                continue
        out.append(t)
    return tuple(out)


def _sim(a: list[str], b: list[str]) -> float:
    """Share of the positions where either holds a constant at which both hold the same one."""
    from opsnb.logs.patterns import _is_var

    const = same = 0
    for x, y in zip(a, b, strict=True):
        vx, vy = x[0] == "<" and _is_var(x), y[0] == "<" and _is_var(y)
        if vx and vy:
            continue
        const += 1
        if x == y:
            same += 1
    return 1.0 if const == 0 else same / const


def _absorb(miner: TemplateMiner, keep: Template, gone: Template, tokens: list[str]) -> None:
    keep.tokens = tokens
    keep.constants = sum(1 for x in tokens if x != WILDCARD and not (x[0] == "<" and x[-1] == ">"))
    keep.count += gone.count
    if keep.obs and gone.obs and len(keep.obs) == len(gone.obs) == len(tokens):
        keep.obs = [a if a == b else None for a, b in zip(keep.obs, gone.obs, strict=True)]
        keep.nobs += gone.nobs
    elif gone.nobs or len(tokens) != len(keep.tokens):
        keep.obs = []  # cannot line the two up: show placeholders
    if gone.name and not keep.name:
        keep.name = gone.name
    miner._alias[gone.id] = keep.id
    del miner._templates[gone.id]


_MANY = 3


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
                if all(x == WILDCARD for x in toks[p:p + width]):
                    continue
                key = (len(toks), p, tuple(toks[:p]) + tuple(toks[p + width:]))
                # The rest must say what the template is: at least one constant, two around a longer run.
                if sum(1 for x in key[2] if x != WILDCARD) >= min(width, 2):
                    buckets.setdefault(key, []).append(t)
        # Where else each run value occurs: a value seen in several contexts (a user name, a
        # unit's description after Started/Stopped/Finished) is a value; one seen in a single
        # context (``illegal`` in ``program interrupt: illegal``) is more likely a constant.
        contexts: dict[tuple[str, ...], set[tuple[int, int, tuple[str, ...]]]] = {}
        for key, group in buckets.items():
            for t in group:
                contexts.setdefault(tuple(t.tokens[key[1]:key[1] + width]), set()).add(key)
        for (_n, p, _rest), group in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            live = [t for t in group if t.id in miner._templates and not t.pinned]
            values = {tuple(t.tokens[p:p + width]) for t in live}
            if len(values) < _MANY or sum(1 for v in values if len(contexts.get(v, ())) > 1) * 2 < len(values):
                continue
            live.sort(key=lambda t: (-t.count, t.id))
            keep = live[0]
            for gone in live[1:]:
                if gone.id not in miner._templates or len(gone.tokens) != len(keep.tokens):
                    continue
                merged = [a if a == b else WILDCARD for a, b in zip(keep.tokens, gone.tokens, strict=True)]
                _absorb(miner, keep, gone, merged)
                changed = True
    return changed


def canonical_tokens(tokens: list[str]) -> list[str]:
    """``tokens`` with every placeholder written ``<*>`` (same length)."""
    from opsnb.logs.patterns import _is_var

    return [WILDCARD if t[0] == "<" and _is_var(t) else t for t in tokens]


def settle(miner: TemplateMiner, similarity: float) -> dict[int, int]:
    """Merge ``miner``'s templates as the module doc says; return ``{merged-away id: surviving id}``."""
    before = dict(miner._alias)
    changed = True
    while changed:
        changed = False
        # 1. Equal canonical forms (variable-length runs).
        by_form: dict[tuple[tuple[str, ...], bool], Template] = {}
        for tid in sorted(miner._templates):
            t = miner._templates[tid]
            if t.pinned:
                continue
            form = canonical(t.tokens)
            if len(form) > 2 and form[-1] == WILDCARD:
                form = form[:-1]  # a trailing variable run may be empty: "COMMAND=<*>" with no arguments
            other = by_form.get((form, False))
            if other is None:
                by_form[(form, False)] = t
                continue
            keep, gone = (other, t) if other.count >= t.count or (other.count == t.count and other.id < t.id) else (t, other)
            tokens = list(canonical(keep.tokens)) if len(keep.tokens) != len(gone.tokens) else \
                [a if a == b else WILDCARD for a, b in zip(keep.tokens, gone.tokens, strict=True)]
            _absorb(miner, keep, gone, tokens)
            by_form[(form, False)] = keep
            changed = True
        # 2. A run of 1-3 positions that takes at least _MANY values while the rest of the
        # template is the same is a variable (Brain's column test, position-free): merge.
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
                    merged = [a if a == b else WILDCARD for a, b in zip(best.tokens, t.tokens, strict=True)]
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
