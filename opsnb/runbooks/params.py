"""Runbook parameters: read from the ``parameters`` cell (no kernel), validated before any run.

A runbook declares its parameters as annotated assignments in its first cell
tagged ``parameters``::

    service: str = "nginx"          # the systemd unit to restart
    mode: Literal["report", "cleanup"] = "report"  # what to do
    min_free_pct: float = 10.0      # alert below this free space

The annotation gives the type (``str``, ``int``, ``float``, ``bool``, ``list``,
``dict``, ``Literal[...]`` for choices, ``X | None`` for optional), the default
must be a literal, and the trailing comment is the help text.
``metadata.opsnb.parameters.<name>`` adds ``required``, ``pattern``, ``choices``,
``min``/``max``, ``secret`` (the value is a reference ``env:NAME`` or
``file:PATH``, resolved inside the kernel, never the secret itself) and
``leading_dash``: without it a string value (or list item) starting with ``-`` is
refused, since a value that reaches a command must never be read as an option
(``service=-Hx@host`` reaching ``systemctl``); runbooks also pass values after ``--``.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

from opsnb.errors import ValidationError

TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict,
}
SECRET_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/[^\0\n]+)$")
MAX_STRING = 10_000
MAX_PARAMS_JSON = 64_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass
class Param:
    """One declared parameter of a runbook."""

    name: str
    type: str = "str"
    default: Any = None
    help: str = ""
    choices: list[Any] | None = None
    required: bool = False
    optional: bool = False  # ``X | None``: None is accepted
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    secret: bool = False
    leading_dash: bool = False  # a value may start with "-" (declared in metadata, for option-like values)
    problems: list[str] = field(default_factory=list)  # declaration problems found while parsing

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default, "help": self.help,
                "choices": self.choices, "required": self.required, "pattern": self.pattern,
                "secret": self.secret}


def _comments(source: str) -> dict[int, str]:
    """Line number -> comment text (without ``#``)."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _annotation(node: ast.expr) -> tuple[str, list[Any] | None, bool, str | None]:
    """(type name, choices, optional, problem) of an annotation node."""
    if isinstance(node, ast.Constant) and node.value is None:
        return "none", None, True, None
    if isinstance(node, ast.Name):
        if node.id in TYPES:
            return node.id, None, False, None
        return "str", None, False, f"unsupported type {node.id!r} (use str, int, float, bool, list, dict or Literal)"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left = _annotation(node.left)
        right = _annotation(node.right)
        parts = [p for p in (left, right) if p[0] != "none"]
        if len(parts) == 1 and (left[0] == "none" or right[0] == "none"):
            t, ch, _, prob = parts[0]
            return t, ch, True, prob
        return "str", None, False, "unions other than `X | None` are not supported"
    if isinstance(node, ast.Subscript):
        base = node.value.id if isinstance(node.value, ast.Name) else (
            node.value.attr if isinstance(node.value, ast.Attribute) else "")
        if base == "Literal":
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            try:
                choices = [ast.literal_eval(e) for e in elts]
            except ValueError:
                return "str", None, False, "Literal choices must be literals"
            kinds = {type(c).__name__ for c in choices}
            t = kinds.pop() if len(kinds) == 1 else "str"
            return (t if t in TYPES else "str"), choices, False, None
        if base in ("list", "dict"):
            return base, None, False, None
        if base == "Optional":
            t, ch, _, prob = _annotation(node.slice)
            return t, ch, True, prob
    return "str", None, False, f"unsupported annotation {ast.unparse(node)!r}"


def parse_parameters(source: str, overrides: dict[str, Any] | None = None) -> tuple[list[Param], list[str]]:
    """Parse a ``parameters`` cell.

    Args:
        source: The cell's source.
        overrides: ``metadata.opsnb.parameters`` (per-name extra constraints).

    Returns:
        The parameters in order, and problems with the cell as a whole (syntax errors,
        unannotated assignments).
    """
    overrides = overrides or {}
    problems: list[str] = []
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [], [f"parameters cell does not parse: {exc.msg} (line {exc.lineno})"]
    comments = _comments(source)
    params: list[Param] = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            t, choices, optional, prob = _annotation(node.annotation)
            p = Param(name=name, type=t, choices=choices, optional=optional)
            if prob:
                p.problems.append(prob)
            if node.value is None:
                p.problems.append("has no default value")
            else:
                try:
                    p.default = ast.literal_eval(node.value)
                except ValueError:
                    p.problems.append(f"default {ast.unparse(node.value)!r} is not a literal")
            end = node.end_lineno or node.lineno
            p.help = comments.get(node.lineno) or comments.get(end) or ""
            params.append(p)
        elif isinstance(node, ast.Assign):
            names = ", ".join(ast.unparse(t) for t in node.targets)
            problems.append(f"parameter {names} has no type annotation (write `{names}: str = ...  # help`)")
        elif isinstance(node, ast.ImportFrom | ast.Import | ast.Expr):
            continue  # `from typing import Literal`, docstrings
        else:
            problems.append(f"line {node.lineno}: only annotated assignments belong in the parameters cell")
    by_name = {p.name: p for p in params}
    for name, extra in overrides.items():
        found = by_name.get(name)
        if found is None:
            problems.append(f"metadata.opsnb.parameters names {name!r}, which the parameters cell does not declare")
            continue
        if not isinstance(extra, dict):
            problems.append(f"metadata.opsnb.parameters.{name} must be an object")
            continue
        p = found
        p.required = bool(extra.get("required", p.required))
        p.secret = bool(extra.get("secret", p.secret))
        p.leading_dash = bool(extra.get("leading_dash", p.leading_dash))
        p.pattern = extra.get("pattern", p.pattern)
        p.min = extra.get("min", p.min)
        p.max = extra.get("max", p.max)
        if extra.get("choices") is not None:
            p.choices = list(extra["choices"])
        if extra.get("help"):
            p.help = str(extra["help"])
        if p.pattern:
            try:
                re.compile(p.pattern)
            except re.error as exc:
                p.problems.append(f"pattern {p.pattern!r} does not compile: {exc}")
    for p in params:
        if p.default is not None and not p.problems:
            err = check_value(p, p.default, where="default")
            if err and not (p.required and p.default in ("", None)):
                p.problems.append(err)
    return params, problems


def _coerce_string(p: Param, raw: str) -> Any:
    """Convert a CLI string to the declared type (raises ValueError with a reason)."""
    if p.optional and raw.lower() in ("none", "null"):
        return None
    if p.type == "str":
        return raw
    if p.type == "int":
        return int(raw.strip())
    if p.type == "float":
        return float(raw.strip())
    if p.type == "bool":
        low = raw.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError("expected true or false")
    if p.type == "list":
        s = raw.strip()
        if s.startswith("["):
            val = json.loads(s)
            if not isinstance(val, list):
                raise ValueError("expected a JSON list")
            return val
        return [x.strip() for x in s.split(",") if x.strip()]
    if p.type == "dict":
        val = json.loads(raw)
        if not isinstance(val, dict):
            raise ValueError("expected a JSON object")
        return val
    return raw


def check_value(p: Param, value: Any, *, where: str = "") -> str | None:
    """The problem with ``value`` for parameter ``p``, or None when it is fine."""
    label = f"{p.name}{' ' + where if where else ''}"
    if value is None:
        return None if p.optional or not p.required else f"{label}: is required"
    want = TYPES.get(p.type, str)
    if isinstance(value, bool) and p.type in ("int", "float"):
        return f"{label}: expected {p.type}, got bool {value!r}"
    if not isinstance(value, want):
        return f"{label}: expected {p.type}, got {type(value).__name__} {_short(value)}"
    if isinstance(value, str) and len(value) > MAX_STRING:
        return f"{label}: value is {len(value)} characters long (limit {MAX_STRING})"
    dashed = [v for v in ([value] if isinstance(value, str) else value if isinstance(value, list) else [])
              if isinstance(v, str) and v.startswith("-")]
    if dashed and not p.leading_dash and (p.choices is None or value not in p.choices):
        return (f"{label}: {_short(dashed[0])} starts with '-', so a command would read it as an option; "
                f"a runbook that means it declares metadata.opsnb.parameters.{p.name}.leading_dash")
    if p.choices is not None and value not in p.choices:
        return f"{label}: {_short(value)} is not one of {', '.join(map(repr, p.choices))}"
    if p.pattern and isinstance(value, str) and not re.fullmatch(p.pattern, value):
        return f"{label}: {_short(value)} does not match the pattern {p.pattern!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if p.min is not None and value < p.min:
            return f"{label}: {value} is below the minimum {p.min}"
        if p.max is not None and value > p.max:
            return f"{label}: {value} is above the maximum {p.max}"
        if isinstance(value, float) and value != value:
            return f"{label}: NaN is not a value"
    if p.secret and isinstance(value, str) and value and not SECRET_REF.match(value):
        return (f"{label}: takes a secret reference (env:NAME or file:/path), not a secret value; "
                "the secret is resolved inside the kernel")
    return None


def _short(value: Any) -> str:
    s = repr(value)
    return s if len(s) <= 60 else s[:57] + "..."


def validate(runbook_name: str, declared: list[Param], given: dict[str, Any], *,
             from_strings: bool = False) -> dict[str, Any]:
    """Check ``given`` against the declaration and return every parameter's value.

    Args:
        runbook_name: For the error message.
        declared: The runbook's parameters.
        given: Values by name (typed, or strings from the CLI when ``from_strings``).
        from_strings: Convert string values to the declared types first.

    Returns:
        Defaults overlaid with the given values, in declaration order.

    Raises:
        ValidationError: Listing every problem: unknown names, wrong types, values outside
            choices or patterns, missing required parameters.
    """
    by_name = {p.name: p for p in declared}
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name in given:
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{_short(name)}: not a valid parameter name")
        elif name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else (
                f" (parameters: {', '.join(by_name) or 'none'})")
            problems.append(f"{name}: unknown parameter{hint}")
    for p in declared:
        if p.name in given:
            value = given[p.name]
            if from_strings and isinstance(value, str) and p.type != "str":
                try:
                    value = _coerce_string(p, value)
                except (ValueError, TypeError) as exc:
                    problems.append(f"{p.name}: cannot read {_short(value)} as {p.type}: {exc}")
                    continue
            if value is None and not p.optional:
                problems.append(f"{p.name}: expected {p.type}, got None")
                continue
            err = check_value(p, value)
            if err:
                problems.append(err)
                continue
            values[p.name] = value
        else:
            if p.required and p.default in (None, ""):
                problems.append(f"{p.name}: is required ({p.help or p.type})")
                continue
            values[p.name] = p.default
    if not problems:
        try:
            size = len(json.dumps(values, default=str))
        except (TypeError, ValueError) as exc:
            size = 0
            problems.append(f"parameters are not JSON-serialisable: {exc}")
        if size > MAX_PARAMS_JSON:
            problems.append(f"parameters total {size} bytes as JSON (limit {MAX_PARAMS_JSON})")
    if problems:
        raise ValidationError(f"runbook {runbook_name!r}: invalid parameters:", problems,
                              source=runbook_name)
    return values
