"""The error tree: declared fields, the documented tree, rendering and pickling."""

from __future__ import annotations

import dataclasses
import pickle
import re
import subprocess
import sys
from typing import Any

import pytest

from opsnb import errors
from opsnb.errors import (
    BatchError,
    CommandError,
    CommandTimeout,
    NotFound,
    OpsnbError,
    ParseError,
    PermissionDenied,
    ValidationError,
)

CLASSES = sorted((c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, OpsnbError)),
                 key=lambda c: c.__name__)


def own_fields(cls: type[OpsnbError]) -> list[str]:
    """Fields a class declares itself, in order (not inherited, not ``message``)."""
    inherited = {f.name for base in cls.__mro__[1:] if dataclasses.is_dataclass(base)
                 for f in dataclasses.fields(base)}
    return [f.name for f in dataclasses.fields(cls) if f.name not in inherited and f.name != "message"]


def documented_tree() -> dict[str, tuple[str | None, list[str]]]:
    """Class name -> (parent name, fields) as the module docstring draws them."""
    assert errors.__doc__
    out: dict[str, tuple[str | None, list[str]]] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        m = re.match(r"^(\s*[│├└─ ]*)([A-Z]\w+)\s+\[([\w, ]*)\]", line)
        if not m:
            continue
        depth, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        out[name] = (stack[-1][1] if stack else None, [f.strip() for f in m.group(3).split(",") if f.strip()])
        stack.append((depth, name))
    return out


def sample(cls: type[OpsnbError]) -> OpsnbError:
    """An instance with every declared field set to a value of its declared type."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = str(f.type)
        values[f.name] = (
            "the message" if f.name == "message" else ["first problem", "second problem"] if f.name == "problems"
            else [{"host": "web-1", "exit_status": 1}] if f.name == "errors"
            else True if kind.startswith("bool") else 7 if kind.startswith("int") else 1.5
            if kind.startswith("float") else f"{f.name}-value"
        )
    message = values.pop("message")
    return cls(message, **values)


def test_every_class_is_in_the_documented_tree_and_vice_versa() -> None:
    tree = documented_tree()
    assert set(tree) == {c.__name__ for c in CLASSES}
    for cls in CLASSES:
        parent, fields = tree[cls.__name__]
        bases = [b.__name__ for b in cls.__bases__ if issubclass(b, OpsnbError)]
        assert bases == ([parent] if parent else []), cls.__name__
        assert fields == own_fields(cls), cls.__name__


def test_multiple_inheritance_kept() -> None:
    assert issubclass(NotFound, LookupError) and issubclass(ValidationError, ValueError)
    assert issubclass(PermissionDenied, PermissionError) and issubclass(ParseError, ValueError)
    with pytest.raises(LookupError):
        raise NotFound("no incident 4", kind="incident", key=4)
    with pytest.raises(PermissionError, match="needs operator"):
        raise PermissionDenied("rita needs operator", user="rita", required="operator")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fields_are_derived_from_the_declaration(cls: type[OpsnbError]) -> None:
    err = sample(cls)
    declared = [f.name for f in dataclasses.fields(cls) if f.name != "message"]
    assert list(err.fields) == declared
    assert all(err.fields[name] == getattr(err, name) for name in declared)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_unknown_field_is_a_type_error(cls: type[OpsnbError]) -> None:
    args: list[Any] = [[]] if cls is BatchError else []
    with pytest.raises(TypeError, match="exit_stauts"):
        cls("boom", *args, exit_stauts=1)


def test_a_misspelt_field_is_not_an_attribute() -> None:
    err = CommandError("uptime failed", host="web-1", exit_status=2)
    with pytest.raises(AttributeError):
        err.exit_stauts  # type: ignore[attr-defined]  # noqa: B018


def test_none_fields_are_kept_but_not_shown() -> None:
    err = CommandError("uptime failed on web-1", host="web-1", command=None, exit_status=None)
    assert err.fields == {"host": "web-1", "command": None, "path": None, "not_started": False,
                          "exit_status": None, "stdout": None, "stderr": None}
    assert err.exit_status is None and err.command is None
    assert err.details == {"host": "web-1"}
    assert repr(err) == "CommandError('uptime failed on web-1', host='web-1')"
    assert "exit_status" not in err._repr_html_() and "web-1" in err._repr_html_()
    assert str(err) == "uptime failed on web-1" and err.args == ("uptime failed on web-1",)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_pickling_round_trips(cls: type[OpsnbError]) -> None:
    err = sample(cls)
    err.add_note("seen on web-1")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert (again.message, str(again), again.args, again.fields) == (err.message, str(err), err.args, err.fields)
    assert again.__notes__ == ["seen on web-1"]


def test_pickling_crosses_a_process() -> None:
    err = CommandTimeout("uptime ran past 5s", host="web-1", command="uptime", timeout=5.0, stdout="up\n")
    code = ("import pickle, sys; e = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(e).__name__, e.host, e.timeout, repr(e.stdout), e.exit_status)")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(err), capture_output=True, check=True)
    assert out.stdout.decode().split() == ["CommandTimeout", "web-1", "5.0", "'up\\n'", "None"]


def test_validation_problems_are_listed_in_the_message() -> None:
    err = ValidationError("bad request body:", ["a: missing", "b: unknown field"], field="body")
    assert err.problems == ["a: missing", "b: unknown field"] and isinstance(err.problems, list)
    assert str(err) == "bad request body:\n  - a: missing\n  - b: unknown field"
    # a message that does not end in ':' stays as written; problems are still there
    plain = ValidationError("bad value", problems=("x",))
    assert str(plain) == "bad value" and plain.problems == ["x"]
    assert ValidationError("empty").problems == []
    # a problem ending in ':' is not appended twice on the way through pickle
    tricky = ValidationError("bad:", ["key:"])
    assert str(pickle.loads(pickle.dumps(tricky))) == "bad:\n  - key:"


def test_parse_error_inherits_validation_fields() -> None:
    err = ParseError("bad.ini:2: no section", source="bad.ini", line=2)
    assert err.fields == {"problems": [], "field": None, "value": None, "source": "bad.ini", "line": 2}


def test_batch_error_keeps_per_item_errors() -> None:
    err = BatchError("1 of 2 hosts failed", [{"host": "web-2", "exit_status": 1}])
    assert err.errors == [{"host": "web-2", "exit_status": 1}] and err.frame is None
    assert pickle.loads(pickle.dumps(err)).errors == err.errors


def test_html_escapes_message_and_fields() -> None:
    err = NotFound("no runbook <b>x</b>", kind="runbook", key="<b>x</b>")
    page = err._repr_html_()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>NotFound</b>" in page


def test_details_are_the_fields_that_say_something() -> None:
    # an exit status of 0 or a flag set to True is news; None, False and no problems are not
    assert CommandError("x", exit_status=0, not_started=True).details == {"exit_status": 0, "not_started": True}
    assert ValidationError("x", field="body").details == {"field": "body"}
    assert ValidationError("x:", ["p"]).details == {"problems": ["p"]}
    assert BatchError("x", []).details == {"errors": []}
