"""Log template mining (a Drain-like prefix tree), and pattern diffs between two windows.

A message is first *masked* (:mod:`opsnb.logs.premask`): double-quoted strings become ``<STR>``, URL query
strings ``<QUERY>``, and IP addresses, UUIDs, hex, durations, sizes and
numbers become typed placeholders (``<IP>``, ``<HEX>``, ``<NUM>`` ...), and any
other word that still holds a digit (``blk_-69522``, ``core.2275``) becomes
``<ID>``. The masked message is split on white space and routed down a tree:
first by token count, then by its first tokens (placeholders and overly
varied positions share a wildcard branch). At the leaf it joins the most
similar template when enough of the template's constant tokens agree,
and the positions that differ become ``<*>``; otherwise it starts a template.

Why this shape: Drain's fixed-depth tree keeps each lookup to a handful of
candidates (speed), and masking by *type* rather than per data set makes one
configuration work on logs nobody tuned it for. Similarity counts only the
template's constant tokens, so a message with many variables is not punished
for them (Drain needs a different threshold per data set because it is).

The defaults (similarity 0.78, two routing tokens) are one global setting, chosen
once by sweeping similarity 0.5-0.9 and depth 1-4 over the eight Loghub samples
(every value from 0.72 to 0.8 beat Drain's published figures on all eight);
nothing is tuned per data set.

Speed: masking and routing cost microseconds, so the miner first looks a message up by its
*digit shape* (UTF-8 bytes with every digit made 1, :func:`digit_shape`): masking reads no
digit's value, so a shape seen before has its template already, and most lines of a real
log (same words, other numbers) cost one ``bytes.translate`` and one dict lookup. The cache
is bounded, and switches itself off for a while when shapes stop repeating (a fresh trace id
in every line). Results are identical with or without it (``tests/logs/test_patterns_shape.py``).

Templates persist as JSON (:meth:`TemplateMiner.save` / :meth:`TemplateMiner.load`):
never pickle, which would run code from a file.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsnb.errors import ParseError, ValidationError
from opsnb.logs.premask import mask, premask

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Template", "TemplateMiner", "digit_shape", "grouping_accuracy", "mask", "pattern_diff",
           "patterns_frame", "premask"]

WILDCARD = "<*>"
FORMAT_VERSION = 2  # 2 added template names, pins and aliases; version 1 files still load

_PLACEHOLDER = re.compile(r"^<[A-Z*]+>$")
_LETTER = re.compile(r"[A-Za-z]")
_MAX_OBS = 64  # after this many agreeing messages a position's word is taken as settled
_MIN_OBS = 3  # messages that must agree before a placeholder position is shown as its one word


# A message's digit shape: every ASCII digit becomes 1. Masking treats the ten digits alike
# (every pattern above uses \d or a class holding all ten, and counts digits, never reads
# them) except HEX's literal "0x": so a message holding "0x"/"0X" keeps its zeros (such a key
# has a 0 and no other key does). Hence mask(m) == mask(shape of m), and the shape is a cache
# key that skips masking. The header shapes (opsnb.logs.headers) name no digit either.
# Bytes, because bytes.translate is a table lookup in C (str.translate is several times
# slower); UTF-8 never puts 0x30-0x39 inside a multi-byte character, so the key is exact.
_SHAPE = bytes.maketrans(b"0123456789", b"1111111111")
_SHAPE_0X = bytes.maketrans(b"23456789", b"11111111")
# Shape caches stay bounded: at most _MAX_SHAPES keys of at most _MAX_KEY bytes each
# (a few tens of MB at worst); longer messages, and new shapes once full, take the full path.
_MAX_KEY = 512
_MAX_SHAPES = 200_000
_SHAPE_WINDOW = 8192  # misses between two reviews of whether the shape cache pays


def digit_shape(message: str) -> bytes:
    """``message`` as UTF-8 with every digit turned into ``1`` (0 kept next to an ``0x``): equal shapes mask alike.

    Example:
        >>> digit_shape("took 35ms from 10.0.0.255")
        b'took 11ms from 11.1.1.111'
        >>> digit_shape("mask 0x7f")
        b'mask 0x1f'
    """
    raw = message.encode("utf-8", "surrogatepass")
    return raw.translate(_SHAPE_0X if b"0x" in raw or b"0X" in raw else _SHAPE)


def _is_var(token: str) -> bool:
    return token[0] == "<" and token[-1] == ">" and _PLACEHOLDER.match(token) is not None


def merge_token(a: str, b: str) -> str:
    """What two differing tokens at one position generalise to: ``<*>``, or ``key=<*>`` when both are ``key=...``.

    The key of a ``key=value`` token is a constant even where its value varies (``TTY=pts/0``
    and ``TTY=unknown`` are ``TTY=<*>``): keeping it keeps templates that differ in keys apart.

    Example:
        >>> merge_token("TTY=pts/0", "TTY=unknown"), merge_token("TTY=x", "PWD=y")
        ('TTY=<*>', '<*>')
    """
    i = a.find("=")
    if 0 < i < len(a) - 1 and len(b) > i + 1 and b[: i + 1] == a[: i + 1] and a[: i + 1].isprintable():
        return a[: i + 1] + WILDCARD
    return WILDCARD


def _keyed_fits(template_token: str, token: str) -> bool:
    """A ``key=<*>`` template token takes any value of the same key."""
    return template_token.endswith("=<*>") and token.startswith(template_token[:-3])


def _collapse(tokens: list[str]) -> list[str]:
    """Merge runs of one placeholder (``<ID> <ID> <ID>`` -> ``<ID>``): lists of values vary in length."""
    out: list[str] = []
    prev = ""
    for t in tokens:
        if t == prev and t[0] == "<" and _is_var(t):
            continue
        out.append(t)
        prev = t
    return out


@dataclass
class Template:
    """One mined template."""

    id: int
    tokens: list[str]
    count: int = 0
    example: str = ""
    constants: int = field(default=0)
    name: str | None = None
    pinned: bool = False
    # Raw words seen at each position (None once two differed), from the messages that took the
    # full path: a placeholder position that only ever held one word (``ssh2``, ``uid=0``) is shown
    # as that word once _MIN_OBS messages agree. Display only: grouping never reads it.
    obs: list[str | None] | None = field(default=None, repr=False, compare=False)
    nobs: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.constants = sum(1 for t in self.tokens if not _is_var(t))

    @property
    def text(self) -> str:
        """The template as people read it: placeholders, except where every message held the same word."""
        obs = self.obs
        if not obs or self.nobs < _MIN_OBS or len(obs) != len(self.tokens):
            return " ".join(self.tokens)
        # A bare number that never changed is still a number (a year, port 22): only words with a
        # letter (ssh2, uid=0, IPv6:) are shown as themselves.
        return " ".join(o if o is not None and "<" in t and _LETTER.search(o) else t
                        for t, o in zip(self.tokens, obs, strict=True))

    def observe(self, message: str) -> None:
        """Note the raw words of one more message of this template (see ``obs``)."""
        obs = self.obs
        if (obs is not None and not obs) or self.nobs >= _MAX_OBS:
            return  # every position already varied, or enough messages agreed: settled
        raw = message.split()
        if len(raw) != len(self.tokens):
            return  # a collapsed list: positions do not line up
        self.nobs += 1
        if obs is None:
            self.obs = [w if "<" in t else None for t, w in zip(self.tokens, raw, strict=True)]
            if not any(self.obs):
                self.obs = []
            return
        alive = False
        for i, w in enumerate(raw):
            o = obs[i]
            if o is not None:
                if o != w:
                    obs[i] = None
                else:
                    alive = True
        if not alive:
            self.obs = []


class TemplateMiner:
    """Mine templates from log messages, one message at a time.

    Args:
        similarity: Share of a template's constant tokens a message must match to join it.
        depth: Tokens (after the length) that route a message down the tree.
        max_children: Distinct tokens a tree node keeps before sending new ones to its
            wildcard branch (keeps memory bounded on high-cardinality positions).
        max_line: Messages longer than this many characters are cut before mining
            (a multi-megabyte line must not dominate the tree or the memory).

    Not thread-safe: use one miner per thread (mining is CPU-bound anyway).

    Example:
        >>> m = TemplateMiner()
        >>> m.mine(["user 7 logged in", "user 9 logged in", "disk full"])
        [1, 1, 2]
        >>> m.get(1).text
        'user <NUM> logged in'
    """

    def __init__(self, similarity: float = 0.78, depth: int = 2, max_children: int = 100,
                 max_line: int = 10_000) -> None:
        if not 0.0 < similarity <= 1.0:
            raise ValidationError(f"similarity must be in (0, 1], got {similarity}", field="similarity")
        if depth < 1:
            raise ValidationError(f"depth must be at least 1, got {depth}", field="depth")
        self.similarity = similarity
        self.depth = depth
        self.max_children = max_children
        self.max_line = max_line
        self._templates: dict[int, Template] = {}
        self._root: dict[Any, Any] = {}
        self._cache: dict[str, int] = {}  # masked message -> template id
        self._seen: dict[bytes, Template] = {}  # digit shape (see digit_shape) -> its final template
        self._shapes_on, self._shapes_wait = True, -2  # negative: warm-up windows left
        self._shape_hits = self._shape_misses = 0  # in the current window (see _review_shapes)
        self._alias: dict[int, int] = {}  # template merged away by settle() -> the one that holds it
        self._next_id = 1
        self._loaded_next: int | None = None  # next id when loaded from a file (settle's refit)

    # ------------------------------------------------------------------ mining
    def add(self, message: str) -> int:
        """Mine one message; return its template id (ids are stable: templates never merge)."""
        return self._add(message)[0].id

    def _add(self, message: str) -> tuple[Template, bool]:
        """Mine one message: its template, and whether that is final for its digit shape.

        ``True`` means every message equal to this one up to its ASCII digits now gets this
        template without touching the tree (see :func:`digit_shape`); callers may cache it.
        """
        if len(message) > self.max_line:
            message = message[: self.max_line]
        # Fast path: masking ignores digit values, so a message whose digit shape was seen
        # (nearly every line of a real log) skips masking and the tree: one hash, one lookup.
        key = None
        if self._shapes_on and len(message) <= _MAX_KEY:
            key = message.encode("utf-8", "surrogatepass")
            key = key.translate(_SHAPE_0X if b"0x" in key or b"0X" in key else _SHAPE)
            t = self._seen.get(key)
            if t is not None:
                t.count += 1
                self._shape_hits += 1
                return t, True
        self._shape_misses += 1
        if self._shape_misses >= _SHAPE_WINDOW:
            self._review_shapes()
        masked = premask(message)
        tid = self._cache.get(masked)
        if tid is not None:
            t = self._templates[tid]
            t.count += 1
            t.observe(message)
        else:
            tokens = masked.split()
            if "> <" in masked:
                tokens = _collapse(tokens)
            t = self._templates[self._place(tokens, message)]
            t.observe(message)
            if len(self._cache) >= 300_000:  # identical masked messages always land together (bounded memory)
                return t, False
            self._cache[masked] = t.id
        if key is not None and len(key) <= _MAX_KEY and len(self._seen) < _MAX_SHAPES:
            self._seen[key] = t
        return t, True

    def _review_shapes(self) -> None:
        """Keep the shape cache only while it pays: shapes that never repeat (a fresh trace id
        in every message) would cost a key and a lookup per message for nothing. Off, it waits
        a few windows and tries again (logs change)."""
        if self._shapes_on:
            if self._shapes_wait < 0:  # warming up: every shape is new at first
                self._shapes_wait += 1
            elif self._shape_hits * 3 < self._shape_misses:  # fewer than 1 hit in 4 messages
                self._shapes_on, self._shapes_wait = False, 8
        else:
            self._shapes_wait -= 1
            self._shapes_on = self._shapes_wait <= 0
        self._shape_hits = self._shape_misses = 0

    def mine(self, messages: Iterable[str]) -> list[int]:
        """Mine many messages; their template ids, in order."""
        add = self._add
        return [add(m)[0].id for m in messages]

    def settle(self) -> dict[int, int]:
        """Merge templates the online pass kept apart, once a batch is mined (see :mod:`opsnb.logs.patterns_settle`).

        Returns:
            ``{old id: id now holding its lines}`` for the templates merged away in this call;
            :meth:`resolve` and :meth:`get` follow these aliases from then on (also after save/load).
        """
        from opsnb.logs.patterns_settle import settle

        return settle(self, max(self.similarity, 0.9))

    def resolve(self, template_id: int) -> int:
        """The live template id for ``template_id`` (itself, or the template it was merged into)."""
        return self._alias.get(template_id, template_id)

    def _rebuild_tree(self) -> None:
        self._root = {}
        for tid in sorted(self._templates):
            t = self._templates[tid]
            self._leaf(t.tokens).append(t)

    def rename(self, template_id: int, name: str | None) -> Template:
        """Give a template a name people use (``ssh brute force``), or clear it with None.

        Raises:
            NotFound: No such template.
            ValidationError: An empty name, or one another template already has.
        """
        t = self.get(template_id)
        if name is not None:
            name = name.strip()
            if not name or len(name) > 200:
                raise ValidationError("a template name must be 1-200 characters", field="name")
            for other in self._templates.values():
                if other.name == name and other.id != t.id:
                    raise ValidationError(f"template {other.id} is already named {name!r}", field="name")
        t.name = name
        return t

    def pin(self, template_id: int, pinned: bool = True) -> Template:
        """Pin a template: its text never generalises further and :meth:`settle` never merges it.

        Raises:
            NotFound: No such template.
        """
        t = self.get(template_id)
        t.pinned = pinned
        return t

    def by_name(self, name: str) -> Template:
        """The template with this name.

        Raises:
            NotFound: No template has it.
        """
        from opsnb.errors import NotFound

        for t in self._templates.values():
            if t.name == name:
                return t
        raise NotFound(f"no template named {name!r}", kind="template", key=name)

    def _leaf(self, tokens: list[str]) -> list[Template]:
        node = self._root.setdefault(len(tokens), {})
        for tok in tokens[: self.depth]:
            key = WILDCARD if _is_var(tok) else tok
            child = node.get(key)
            if child is None:
                if key != WILDCARD and len(node) >= self.max_children:
                    key = WILDCARD
                    child = node.get(key)
                if child is None:
                    child = node[key] = {}
            node = child
        return node.setdefault(None, [])

    def _place(self, tokens: list[str], message: str) -> int:
        leaf = self._leaf(tokens)
        best: Template | None = None
        best_sim = -1.0
        # A template saved by an earlier run (settled) takes only messages it already fits, as a
        # pinned one does: generalised online by one odd line, it would change what it matched, and
        # lines of the earlier run's other templates would move to it. A new line starts a template
        # that settle then folds into a saved one or keeps (stable ids across runs).
        saved = self._loaded_next or 0
        for t in leaf:
            if (t.pinned or t.id < saved) and any(a != b and not _is_var(a) and not _keyed_fits(a, b)
                                                  for a, b in zip(t.tokens, tokens, strict=True)):
                continue  # a pinned template takes only messages it already fits
            sim = self._sim(t.tokens, tokens)
            if sim > best_sim:
                best, best_sim = t, sim
        if best is not None and best_sim >= self.similarity:
            merged = [a if a == b else merge_token(a, b) for a, b in zip(best.tokens, tokens, strict=True)]
            if merged != best.tokens:
                best.tokens = merged
                best.constants = sum(1 for x in merged if not _is_var(x))
            best.count += 1
            return best.id
        t = Template(self._next_id, list(tokens), 1, message[:500])
        self._next_id += 1
        self._templates[t.id] = t
        leaf.append(t)
        return t.id

    @staticmethod
    def _sim(template: Sequence[str], tokens: Sequence[str]) -> float:
        """Share of the template's constant tokens equal to the message's."""
        const = same = 0
        for a, b in zip(template, tokens, strict=True):
            if a[0] == "<" and _is_var(a):
                continue
            const += 1
            if a == b or (a[-1] == ">" and a.endswith("=<*>") and b.startswith(a[:-3])):
                same += 1
        if const == 0:
            return 1.0
        return same / const

    # ----------------------------------------------------------------- results
    def get(self, template_id: int) -> Template:
        """The template with this id."""
        from opsnb.errors import NotFound

        try:
            return self._templates[self._alias.get(template_id, template_id)]
        except KeyError:
            raise NotFound(f"no template {template_id}", kind="template", key=template_id) from None

    def match(self, message: str) -> int | None:
        """The id of the template ``message`` fits, without learning from it (None: no fit)."""
        masked = premask(message[: self.max_line])
        tid = self._cache.get(masked)
        if tid is not None:
            return tid
        tokens = _collapse(masked.split())
        node: dict[Any, Any] | None = self._root.get(len(tokens))
        for tok in tokens[: self.depth]:
            if node is None:
                return None
            key = WILDCARD if _is_var(tok) else tok
            node = node.get(key) if key in node else node.get(WILDCARD)
        if node is None:
            return None
        fits = [t for t in node.get(None, [])
                if all(a == b or _is_var(a) or _keyed_fits(a, b)
                       for a, b in zip(t.tokens, tokens, strict=True))]
        return max(fits, key=lambda t: t.constants).id if fits else None

    def __len__(self) -> int:
        return len(self._templates)

    def templates(self) -> pd.DataFrame:
        """Every template: template_id, template, count, example (most frequent first)."""
        import pandas as pd

        rows = [{"template_id": t.id, "template": t.text, "count": t.count, "example": t.example,
                 "name": t.name, "pinned": t.pinned}
                for t in self._templates.values()]
        df = pd.DataFrame(rows, columns=["template_id", "template", "count", "example", "name", "pinned"])
        return df.sort_values(["count", "template_id"], ascending=[False, True], ignore_index=True)

    # ------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot (settings and templates)."""
        return {
            "format": "opsnb-template-miner",
            "version": FORMAT_VERSION,
            "settings": {"similarity": self.similarity, "depth": self.depth,
                         "max_children": self.max_children, "max_line": self.max_line},
            "next_id": self._next_id,
            "templates": [{"id": t.id, "tokens": t.tokens, "count": t.count, "example": t.example,
                           **({"name": t.name} if t.name else {}), **({"pinned": True} if t.pinned else {}),
                           **({"obs": t.obs, "nobs": t.nobs} if t.obs is not None else {})}
                          for t in sorted(self._templates.values(), key=lambda t: t.id)],
            "aliases": {str(k): v for k, v in sorted(self._alias.items())},
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> TemplateMiner:
        """Rebuild a miner from :meth:`to_dict` output, validating every field.

        Raises:
            ParseError: The snapshot is not a template-miner snapshot or a field is malformed.
        """
        def bad(msg: str) -> ParseError:
            return ParseError(f"{source}: {msg}", source=source)

        if not isinstance(data, dict) or data.get("format") != "opsnb-template-miner":
            raise bad("not an opsnb template-miner file")
        if data.get("version") not in (1, FORMAT_VERSION):
            raise bad(f"unsupported version {data.get('version')!r} (expected 1 or {FORMAT_VERSION})")
        settings = data.get("settings")
        if not isinstance(settings, dict):
            raise bad("settings missing")
        try:
            miner = cls(similarity=float(settings["similarity"]), depth=int(settings["depth"]),
                        max_children=int(settings["max_children"]), max_line=int(settings["max_line"]))
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise bad(f"bad settings: {exc}") from None
        items = data.get("templates")
        if not isinstance(items, list):
            raise bad("templates missing")
        for i, item in enumerate(items):
            ok = (isinstance(item, dict) and isinstance(item.get("id"), int) and item["id"] > 0
                  and isinstance(item.get("tokens"), list) and item["tokens"]
                  and all(isinstance(x, str) and x and not x.isspace() for x in item["tokens"])
                  and isinstance(item.get("count"), int) and item["count"] >= 0
                  and isinstance(item.get("example", ""), str)
                  and (item.get("name") is None or (isinstance(item["name"], str) and 0 < len(item["name"]) <= 200))
                  and isinstance(item.get("pinned", False), bool)
                  and (item.get("obs") is None or (isinstance(item["obs"], list) and all(
                      o is None or isinstance(o, str) for o in item["obs"])
                      and len(item["obs"]) in (0, len(item["tokens"]))))
                  and isinstance(item.get("nobs", 0), int) and item.get("nobs", 0) >= 0)
            if not ok:
                raise bad(f"template #{i} is malformed")
            if item["id"] in miner._templates:
                raise bad(f"template id {item['id']} appears twice")
            t = Template(item["id"], list(item["tokens"]), item["count"], item.get("example", ""),
                         name=item.get("name"), pinned=item.get("pinned", False))
            t.obs, t.nobs = item.get("obs"), item.get("nobs", 0)
            miner._templates[t.id] = t
            miner._leaf(t.tokens).append(t)
        aliases = data.get("aliases", {})
        if not isinstance(aliases, dict):
            raise bad("aliases malformed")
        for k, v in aliases.items():
            if not (isinstance(k, str) and k.isdigit() and isinstance(v, int) and v in miner._templates
                    and int(k) not in miner._templates):
                raise bad(f"alias {k!r} -> {v!r} does not name a merged-away id and a live template")
            miner._alias[int(k)] = v
        names = [t.name for t in miner._templates.values() if t.name]
        if len(names) != len(set(names)):
            raise bad("two templates have the same name")
        nxt = data.get("next_id")
        top = max([*miner._templates, *miner._alias], default=0)
        miner._next_id = nxt if isinstance(nxt, int) and nxt > top else top + 1
        miner._loaded_next = miner._next_id
        return miner

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the miner as JSON, atomically (a temporary file renamed into place).

        Raises:
            ValidationError: The file cannot be written (names the path).
        """
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ValidationError(f"cannot save templates to {p}: {exc.strerror or exc}", field="path") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TemplateMiner:
        """Read a miner saved by :meth:`save`.

        Raises:
            ParseError: The file is not valid JSON or not a miner snapshot.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"{path}: cannot read template miner: {exc}", source=str(path)) from None
        return cls.from_dict(data, source=str(path))


# ---------------------------------------------------------------- pattern diff
def pattern_diff(before: Sequence[str], after: Sequence[str], *, top: int = 20,
                 spike_ratio: float = 3.0, min_count: int = 3) -> pd.DataFrame:
    """Compare the templates of two windows of messages (e.g. before and after a deploy).

    Both windows are mined by one miner so a template means the same in each, then settled
    (:meth:`TemplateMiner.settle`) and every line re-assigned to its settled template.
    Counts are compared as rates (per message of each window), so windows of
    different sizes compare fairly.

    Args:
        before: Messages of the baseline window.
        after: Messages of the window under study.
        top: Rows to return.
        spike_ratio: A template whose share grew at least this much is ``spiking``.
        min_count: Fewer occurrences than this after (or before, for ``vanished``) is noise.

    Returns:
        DataFrame with template, before, after (counts), status (new | vanished | spiking |
        steady), ratio (after-share / before-share; inf for new), example (an after line, else a
        before line), ranked: new, then spiking, then vanished, then steady, larger changes first.
    """
    import pandas as pd

    miner = TemplateMiner()
    ids_b = miner.mine(before)
    ids_a = miner.mine(after)
    # Settle once both windows are mined, and re-assign every line to its settled template: a
    # pattern the online pass split in two (a user name first, a longer list) would otherwise
    # count as "new" beside its own older half.
    if miner.settle():
        ids_b = [miner.resolve(i) for i in ids_b]
        ids_a = [miner.resolve(i) for i in ids_a]
    cb, ca = Counter(ids_b), Counter(ids_a)
    ex_a: dict[int, str] = {}
    for msg, tid in zip(after, ids_a, strict=True):
        ex_a.setdefault(tid, msg[:500])
    nb, na = max(len(before), 1), max(len(after), 1)
    rows = []
    for tid in set(cb) | set(ca):
        b, a = cb.get(tid, 0), ca.get(tid, 0)
        # Laplace-smoothed shares keep ratios finite and small counts humble.
        ratio = ((a + 0.5) / na) / ((b + 0.5) / nb) if b else math.inf
        if b == 0 and a >= min_count:
            status, rank = "new", 0
        elif a == 0 and b >= min_count:
            status, rank = "vanished", 2
        elif b and a >= min_count and ratio >= spike_ratio:
            status, rank = "spiking", 1
        else:
            status, rank = "steady", 3
        change = abs(a / na - b / nb)
        rows.append({"template": miner.get(tid).text, "before": b, "after": a, "status": status,
                     "ratio": ratio, "example": ex_a.get(tid) or miner.get(tid).example,
                     "_rank": rank, "_change": change})
    cols = ["template", "before", "after", "status", "ratio", "example"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows).sort_values(["_rank", "_change", "after"], ascending=[True, False, False])
    return df[cols].head(top).reset_index(drop=True)


def grouping_accuracy(predicted: Sequence[Any], truth: Sequence[Any]) -> float:
    """Loghub's grouping accuracy: share of lines whose mined group equals their true group.

    A line counts as correct when the set of lines sharing its predicted id is exactly
    the set of lines sharing its ground-truth id.
    """
    if len(predicted) != len(truth):
        raise ValidationError(f"{len(predicted)} predictions for {len(truth)} truths", field="predicted")
    if not truth:
        return 1.0
    by_pred: dict[Any, list[int]] = {}
    size_true: Counter[Any] = Counter(truth)
    for i, p in enumerate(predicted):
        by_pred.setdefault(p, []).append(i)
    correct = 0
    for members in by_pred.values():
        labels = {truth[i] for i in members}
        if len(labels) == 1 and size_true[truth[members[0]]] == len(members):
            correct += len(members)
    return correct / len(truth)


def patterns_frame(ops: Any, start: Any, end: Any, baseline_start: Any, baseline_end: Any | None = None, *,
                   service: str | None = None, top: int = 20, max_rows: int = 200_000) -> pd.DataFrame:
    """New, vanished and spiking templates of a window of the lake's logs against a baseline.

    Args:
        ops: The workbench.
        start: Start of the window under study (aware datetime).
        end: Its end (exclusive).
        baseline_start: Start of the baseline window.
        baseline_end: Its end (default ``start``).
        service: Only this service's logs.
        top: Rows to return.
        max_rows: Each window is reservoir-sampled down to this many lines (counts are then
            counts of the sample; shares stay comparable).

    Returns:
        See :func:`pattern_diff`.
    """
    baseline_end = baseline_end or start
    if not (baseline_start < baseline_end and start < end):
        raise ValidationError("pattern windows must have start < end", field="start")

    def bodies(lo: Any, hi: Any) -> list[str]:
        where = "Timestamp >= $lo AND Timestamp < $hi AND Body IS NOT NULL"
        params: dict[str, Any] = {"lo": lo, "hi": hi}
        if service:
            where += " AND ServiceName = $svc"
            params["svc"] = service
        sql = (f"SELECT Body FROM (SELECT Body FROM logs WHERE {where}) "
               f"USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (7)")
        # lake.query (pandas), not lake.arrow: the latter warns on DuckDB 2.0 (an extra copy).
        df = ops.lake.query(sql, params, start=lo, end=hi, tables=["logs"])
        return [b for b in df["Body"].tolist() if isinstance(b, str)]

    return pattern_diff(bodies(baseline_start, baseline_end), bodies(start, end), top=top)
