"""Parsing with limits: YAML and JSON from files, payloads and request bodies.

Definitions (OpenSLO, inventories, on-call rotas) and payloads come from people and programs
opsnb does not control. Unbounded parsers fail in ways that are not errors: a 1 KB YAML file
whose aliases expand 9^9 times hangs whatever walks the result, a sequence nested 20,000 deep
raises RecursionError inside PyYAML, a JSON body nested 50,000 deep raises it inside ``json``.
Every loader here enforces a size, a nesting depth and (for YAML) an expanded-node budget, and
raises :class:`~opsnb.errors.ParseError` naming the source and the limit, never anything else.

Only the standard library and PyYAML are imported, and PyYAML only when YAML is loaded.
"""

from __future__ import annotations

import json
from typing import Any

from opsnb.errors import ParseError

MAX_BYTES = 8 * 1024 * 1024  # a definition file larger than this is not a definition
MAX_DEPTH = 64  # deeper than any real definition or payload; far below Python's recursion limit
MAX_NODES = 1_000_000  # nodes after alias expansion (a billion-laughs file has ~10^9)


def load_json(data: str | bytes | bytearray, *, source: str, max_bytes: int = MAX_BYTES,
              max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON with a size and a nesting-depth limit.

    Args:
        data: The document (UTF-8 when bytes).
        source: What it is, for the message (``"request body"``, a file name).
        max_bytes: Largest document accepted.
        max_depth: Deepest nesting of arrays and objects accepted.

    Raises:
        ParseError: Not UTF-8, not JSON, too large or too deep (``source`` and ``line`` set).
    """
    size = len(data)
    if size > max_bytes:
        raise ParseError(f"{source}: {size} bytes exceeds the limit of {max_bytes}", source=source)
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{source} is not UTF-8: {exc}", source=source) from None
    try:
        value = json.loads(data)
    except RecursionError:
        raise ParseError(f"{source} nests deeper than {max_depth} levels", source=source) from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"{source} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         source=source, line=exc.lineno) from None
    except ValueError as exc:  # numbers with more digits than int() accepts, ...
        raise ParseError(f"{source} is not JSON: {exc}", source=source) from None
    check_depth(value, source=source, max_depth=max_depth)
    return value


def check_depth(value: Any, *, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed value whose lists and dicts nest deeper than ``max_depth`` (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            children: Any = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        if depth > max_depth:
            raise ParseError(f"{source} nests deeper than {max_depth} levels", source=source)
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def load_yaml(text: str | bytes, *, source: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
              max_nodes: int = MAX_NODES) -> Any:
    """Parse one YAML document safely (PyYAML's safe loader) within limits. See :func:`load_yaml_all`."""
    docs = load_yaml_all(text, source=source, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes)
    if len(docs) > 1:
        raise ParseError(f"{source} holds {len(docs)} YAML documents; expected one", source=source)
    return docs[0] if docs else None


def load_yaml_all(text: str | bytes, *, source: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
                  max_nodes: int = MAX_NODES) -> list[Any]:
    """Parse every YAML document of a stream safely, within limits.

    The node graph is composed first (aliases stay shared there, so nothing expands), its
    nesting depth is checked while composing and its expanded size counted with memoisation;
    only a stream within every limit is constructed into Python values.

    Raises:
        ParseError: Not YAML, too large, too deep, or expanding past ``max_nodes`` nodes
            (``source`` and ``line`` set where known).
    """
    import yaml

    size = len(text)
    if size > max_bytes:
        raise ParseError(f"{source}: {size} bytes exceeds the limit of {max_bytes}", source=source)

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            try:
                if self.depth > max_depth:
                    mark = self.peek_event().start_mark
                    raise ParseError(f"{source}: line {mark.line + 1}: YAML nests deeper than {max_depth} levels",
                                     source=source, line=mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    loader = Loader(text)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            expanded = _expanded_size(node, max_nodes)
            if expanded > max_nodes:
                raise ParseError(f"{source}: YAML aliases expand to more than {max_nodes:,} nodes "
                                 f"(an alias bomb?)", source=source, line=node.start_mark.line + 1)
            docs.append(loader.construct_document(node))
        return docs
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        where = f"line {line}: " if line else ""
        raise ParseError(f"{source}: {where}not valid YAML: {exc.problem or exc}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"{source}: not valid YAML: {exc}", source=source) from None
    except RecursionError:
        raise ParseError(f"{source}: YAML nests too deep", source=source) from None
    finally:
        loader.dispose()


def _expanded_size(root: Any, limit: int) -> int:
    """Nodes the graph would have with every alias expanded (stops counting past ``limit``)."""
    import yaml

    memo: dict[int, int] = {}
    open_: set[int] = set()  # composing nodes on the current path: meeting one again is a cycle
    # iterative post-order: a node's size is 1 + its children's (shared nodes counted each time used)
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in memo:
            continue
        if not done and id(node) in open_:
            return limit + 1  # a recursive alias (&a [*a]) expands forever
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        else:
            memo[id(node)] = 1
            continue
        if done:
            memo[id(node)] = min(limit + 1, 1 + sum(memo[id(k)] for k in kids))
            open_.discard(id(node))
        else:
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(root)]
