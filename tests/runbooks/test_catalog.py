"""Catalog, parameter validation and the contract checker: no kernel involved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsnb.errors import NotFound, ParseError, ValidationError
from opsnb.runbooks.catalog import Catalog, load
from opsnb.runbooks.lint import lint_dir
from opsnb.runbooks.params import parse_parameters, validate
from tests.runbooks.conftest import REPO_RUNBOOKS, write_runbook

LIBRARY = ["collect-logs", "disk-usage", "high-error-rate-triage", "host-health-check", "restart-service",
           "rollback-deployment", "service-down-triage", "tls-cert-expiry"]


def test_repo_runbooks_pass_the_checker_and_are_all_there() -> None:
    assert lint_dir(REPO_RUNBOOKS) == []
    names = Catalog(REPO_RUNBOOKS).names()
    assert set(LIBRARY) <= set(names)
    for rb in Catalog(REPO_RUNBOOKS).all():
        assert rb.title and rb.description and rb.category and rb.parameters
        if rb.mutating:
            assert rb.has_dry_run and rb.param("dry_run").default is True


def test_parameters_cell_types_help_choices_and_overrides() -> None:
    src = ('from typing import Literal\nservice: str = "nginx"  # the unit\n'
           'mode: Literal["report", "cleanup"] = "report"  # what to do\nn: int = 3  # count\n'
           'ratio: float | None = None  # optional ratio\nflags: list = []  # some flags\n')
    params, problems = parse_parameters(src, {"service": {"pattern": "[a-z]+", "required": True}})
    assert problems == []
    by = {p.name: p for p in params}
    assert by["service"].help == "the unit" and by["service"].pattern == "[a-z]+" and by["service"].required
    assert by["mode"].choices == ["report", "cleanup"] and by["mode"].type == "str"
    assert by["n"].type == "int" and by["n"].default == 3
    assert by["ratio"].optional and by["ratio"].type == "float"
    assert by["flags"].type == "list"


def test_unannotated_and_non_literal_parameters_are_problems() -> None:
    params, problems = parse_parameters('x = 5\ny: int = len("ab")  # computed\nz: Foo = 1  # odd\n')
    assert any("x has no type annotation" in p for p in problems)
    by = {p.name: p for p in params}
    assert any("not a literal" in p for p in by["y"].problems)
    assert any("unsupported type" in p for p in by["z"].problems)
    _, problems = parse_parameters("def f(:\n")
    assert problems and "does not parse" in problems[0]


def test_validation_lists_every_problem_at_once() -> None:
    params, _ = parse_parameters('from typing import Literal\nservice: str = "nginx"  # s\n'
                                 'mode: Literal["a", "b"] = "a"  # m\nn: int = 3  # n\n',
                                 {"service": {"pattern": "[a-z]+"}, "n": {"min": 1, "max": 10}})
    with pytest.raises(ValidationError) as exc:
        validate("rb", params, {"nn": 1, "mode": "x", "n": True, "service": "BAD!", "bad name": 1})
    probs = exc.value.problems
    assert len(probs) == 5
    text = str(exc.value)
    for needle in ("nn: unknown parameter (did you mean 'n'?)", "mode: 'x' is not one of", "n: expected int, got bool",
                   "does not match the pattern", "not a valid parameter name"):
        assert needle in text
    with pytest.raises(ValidationError, match="above the maximum"):
        validate("rb", params, {"n": 11})


def test_cli_strings_are_converted_to_declared_types() -> None:
    params, _ = parse_parameters('n: int = 1  # n\nf: float = 1.0  # f\nb: bool = False  # b\nl: list = []  # l\n'
                                 'd: dict = {}  # d\n')
    out = validate("rb", params, {"n": "7", "f": "2.5", "b": "yes", "l": "a,b", "d": '{"k": 1}'}, from_strings=True)
    assert out == {"n": 7, "f": 2.5, "b": True, "l": ["a", "b"], "d": {"k": 1}}
    with pytest.raises(ValidationError) as exc:
        validate("rb", params, {"n": "seven", "b": "maybe", "d": "[1]"}, from_strings=True)
    assert len(exc.value.problems) == 3


def test_required_secret_and_huge_values() -> None:
    params, _ = parse_parameters('svc: str = ""  # required\ntoken_ref: str = ""  # a secret reference\n',
                                 {"svc": {"required": True}, "token_ref": {"secret": True}})
    with pytest.raises(ValidationError, match="svc: is required"):
        validate("rb", params, {})
    with pytest.raises(ValidationError, match="secret reference"):
        validate("rb", params, {"svc": "a", "token_ref": "hunter2"})
    assert validate("rb", params, {"svc": "a", "token_ref": "env:MY_TOKEN"})["token_ref"] == "env:MY_TOKEN"
    with pytest.raises(ValidationError, match="characters long"):
        validate("rb", params, {"svc": "x" * 20_000})


def test_values_starting_with_a_dash_are_refused_unless_declared() -> None:
    """Issue: ``service=-Hx@host`` passed validation and reached systemctl as an option (dry run too)."""
    params, problems = parse_parameters('service: str = "nginx"  # unit\nunits: list = []  # more\n'
                                        'flags: str = ""  # options for the tool\n',
                                        {"service": {"pattern": "^[A-Za-z0-9@._-]+$"},
                                         "flags": {"leading_dash": True}})
    assert problems == [] and [p.problems for p in params] == [[], [], []]
    with pytest.raises(ValidationError, match="service: '-Hx@host' starts with '-'") as err:
        validate("rb", params, {"service": "-Hx@host", "units": ["ok", "--force"]})
    assert len(err.value.problems) == 2 and "units: '--force'" in err.value.problems[1]
    assert validate("rb", params, {"service": "nginx-a", "flags": "--now"})["flags"] == "--now"
    with pytest.raises(ValidationError, match="starts with '-'"):
        validate("rb", params, {"service": "-x"}, from_strings=True)


def test_catalog_reads_metadata_without_a_kernel_and_rejects_bad_files(tmp_path: Path) -> None:
    d = tmp_path / "rbs"
    write_runbook(d, "ok", meta={"risk": "low", "target": "x", "tags": ["a"]},
                  params='x: int = 1  # x\ndry_run: bool = True  # d\n', cells=["print(dry_run)"])
    (d / "broken.ipynb").write_text("{not json")
    (d / "nocells.ipynb").write_text(json.dumps({"metadata": {}}))
    cat = Catalog(d)
    rb = cat.get("ok")
    assert rb.risk == "low" and rb.target == "x" and rb.tags == ["a"] and rb.mutating and rb.has_dry_run
    assert [r.name for r in cat.all()] == ["ok"]
    with pytest.raises(ParseError):
        load(d / "broken.ipynb")
    with pytest.raises(NotFound, match="did you mean ok"):
        cat.get("okk")
    for hostile in ("../etc/passwd", "", ".hidden", "a/b"):
        with pytest.raises(NotFound):
            cat.get(hostile)
    with pytest.raises(ValidationError, match="is not a file name"):  # was an OSError traceback
        cat.get("x" * 300)


def test_checker_flags_missing_metadata_parameters_and_dry_run(tmp_path: Path) -> None:
    d = tmp_path / "rbs"
    write_runbook(d, "no-meta", meta=None, raw_meta=True)
    write_runbook(d, "no-dry", meta={"risk": "high"}, params="host: str = 'a'  # h\n", cells=["print(host)"])
    write_runbook(d, "unused-dry", meta={"risk": "low"}, params="dry_run: bool = True  # d\n", cells=["print(1)"])
    write_runbook(d, "bad-meta", meta={"category": "nope", "risk": "wild", "roles": ["god"]})
    write_runbook(d, "no-help", params="x: int = 1\n")
    (d / "broken.ipynb").write_text("[]")
    found = {(p.runbook, p.problem.split(" ")[0]) for p in lint_dir(d)}
    by_rb: dict[str, list[str]] = {}
    for p in lint_dir(d):
        by_rb.setdefault(p.runbook, []).append(p.problem)
    assert any("no metadata.opsnb" in p for p in by_rb["no-meta"])
    assert any("no `dry_run: bool = True`" in p for p in by_rb["no-dry"])
    assert any("never read" in p for p in by_rb["unused-dry"])
    assert len(by_rb["bad-meta"]) >= 3
    assert any("no help comment" in p for p in by_rb["no-help"])
    assert "broken" in by_rb and found


def test_kernel_side_import_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, opsnb.runbooks as rb; heavy = [m for m in ('pandas', 'sqlalchemy', 'papermill', "
            "'duckdb', 'paramiko') if m in sys.modules]; assert not heavy, heavy; "
            "assert callable(rb.record) and callable(rb.confirm) and callable(rb.secret)")
    subprocess.run([sys.executable, "-c", code], check=True)
    from opsnb.runbooks import ApprovalRequired, confirm, record, secret

    assert record("x", 1) == 1  # outside a kernel: returns the value, records nothing
    with pytest.raises(ApprovalRequired, match="unattended"):
        confirm("drop the database")
    with pytest.raises(ValueError):
        secret("plain-text")
