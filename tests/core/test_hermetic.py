"""No test reads outside the repository: a fresh clone on a machine with only Python passes its tests.

Two guards, because neither sees everything:

- **Static scan** (this module): every Python file of ``tests/`` and ``benchmarks/`` is parsed and
  refused if a path expression climbs out of the checkout: ``Path(__file__)`` followed by more
  ``.parent``/``parents[k]`` steps than the file is deep, ``REPO.parent`` (or ``ROOT``), a string
  joined with ``/`` that is ``..``, ``shared`` or starts with ``../``, a literal naming
  ``shared/data`` or ``shared/reference``, or an absolute literal under the directory that holds this
  checkout. It sees paths DuckDB, Arrow or a subprocess would open, which no Python hook sees, and it
  never runs anything, so it cannot be flaky.
- **Runtime guard** (``tests/hermetic.py``, a session fixture made autouse by ``tests/conftest.py``):
  an audit hook in each test process records every ``open``/``listdir`` of a path beside the checkout
  and fails that process's session, naming the path and the test. Each xdist worker has its own hook,
  records and teardown, so nothing races. The tests below check the mechanism with a private guard.

Test data that a test needs is copied under ``tests/data/`` (the Loghub samples, with their licence).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from tests.hermetic import REPO, Guard, default_allowed

SCANNED = ("tests", "benchmarks")
# The guard's own files spell out the ways out on purpose (as examples and in docstrings); they read nothing there.
EXEMPT = ("tests/core/test_hermetic.py", "tests/hermetic.py")
BAD_JOIN = ("..", "shared")


def _climb(node: ast.AST) -> int | None:
    """How many directories ``Path(__file__)...`` climbs in ``node``, or None if it is not such a chain."""
    steps = 0
    while True:
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            steps += 1
            node = node.value
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
              and node.value.attr == "parents" and isinstance(node.slice, ast.Constant)
              and isinstance(node.slice.value, int)):
            steps += node.slice.value + 1
            node = node.value.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "resolve", "absolute"):
            node = node.func.value
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path" and node.args:
            arg = node.args[0]
            return steps if isinstance(arg, ast.Name) and arg.id == "__file__" else None
        else:
            return None


def escapes(source: str, path: Path) -> list[str]:
    """Every expression of ``source`` (the file at ``path``, inside REPO) that names a path outside REPO."""
    depth = len(path.relative_to(REPO).parts)  # climbing this many steps from the file reaches REPO itself
    beside = str(REPO.parent).rstrip("/") + "/"
    out = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute | ast.Subscript):
            steps = _climb(node)
            if steps is not None and steps > depth:
                out.append(f"{path.relative_to(REPO)}:{line}: Path(__file__) climbs {steps} levels, out of the repository")
            if (isinstance(node, ast.Attribute) and node.attr == "parent" and isinstance(node.value, ast.Name)
                    and node.value.id in ("REPO", "ROOT")):
                out.append(f"{path.relative_to(REPO)}:{line}: {node.value.id}.parent is outside the repository")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    first = side.value.strip("/").split("/", 1)[0]
                    if first in BAD_JOIN:
                        out.append(f"{path.relative_to(REPO)}:{line}: joins {side.value!r} onto a path")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            v = node.value
            if "shared/data" in v or "shared/reference" in v or v.startswith("../shared"):
                out.append(f"{path.relative_to(REPO)}:{line}: names {v!r}, which exists only beside our checkouts")
            elif v.startswith(beside) and not v.startswith(str(REPO) + "/"):
                out.append(f"{path.relative_to(REPO)}:{line}: absolute path {v!r} beside the checkout")
    return out


def _sources() -> list[Path]:
    return sorted(p for d in SCANNED for p in (REPO / d).rglob("*.py")
                  if ".work" not in p.parts and p.relative_to(REPO).as_posix() not in EXEMPT)


def test_no_test_or_benchmark_names_a_path_outside_the_repository() -> None:
    files = _sources()
    assert len(files) > 50 and REPO / "tests" / "conftest.py" in files  # the scan sees the suite
    problems = [p for f in files for p in escapes(f.read_text(encoding="utf-8"), f)]
    assert not problems, "tests must read only the repository (copy data under tests/data/):\n" + "\n".join(problems)


@pytest.mark.parametrize("code", [
    'LOGHUB = Path(__file__).resolve().parents[3] / "shared" / "data" / "loghub"',
    'X = Path(__file__).parent.parent.parent.parent / "x"',
    'X = REPO.parent / "shared"',
    'X = REPO / ".." / "shared"',
    'X = HERE / "../shared/data"',
    'X = "../shared/data/loghub"',
])
def test_the_scan_refuses_each_way_out(code: str) -> None:
    f = REPO / "tests" / "logs" / "test_x.py"
    assert escapes(code, f), code


def test_the_scan_lets_the_repository_and_hostile_inputs_be() -> None:
    f = REPO / "tests" / "logs" / "test_x.py"
    ok = ('REPO = Path(__file__).resolve().parents[2]\n'
          'D = Path(__file__).resolve().parents[1] / "data" / "loghub"\n'
          'call("/runs/R-1/../../etc"); create(id="../etc/passwd")\n'
          'X = REPO / "tests" / "data"\n')
    assert escapes(ok, f) == []
    assert escapes(f'X = "{REPO.parent}/other/file"', f)
    assert escapes(f'X = "{REPO}/data/opsnb.toml"', f) == []


def test_the_runtime_guard_records_a_read_beside_the_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "in.txt").write_text("mine")
    beside = tmp_path / "shared" / "data.txt"
    beside.parent.mkdir()
    beside.write_text("someone else's")
    guard = Guard(repo, allowed=(), home_dotdirs=False)  # tmp_path is allowed by the session's guard, not here
    with guard.capture():
        (repo / "tests" / "in.txt").read_text()
        os.listdir(repo)
        assert beside.read_text() == "someone else's"
        os.listdir(beside.parent)
        with open(os.open(beside, os.O_RDONLY), encoding="utf-8") as fh:  # opened by descriptor too
            fh.read()
    paths = [p for p, _ in guard.reads]
    assert paths.count(str(beside)) == 2 and str(beside.parent) in paths
    assert all(not p.startswith(str(repo)) for p in paths)
    assert {t for _, t in guard.reads} == {os.environ["PYTEST_CURRENT_TEST"]}
    beside.read_text()  # after the block this guard hears nothing more
    assert len(guard.reads) == 3


def test_the_session_guard_allows_tools_and_temporary_files(tmp_path: Path) -> None:
    home = Path(os.path.expanduser("~"))
    g = Guard(home / "opsnb", default_allowed(str(tmp_path)))
    assert not g.outside(str(home / ".cache" / "matplotlib" / "fontlist.json"))
    assert not g.outside(str(home / "opsnb" / "tests" / "data" / "loghub" / "LICENSE"))
    assert not g.outside(str(tmp_path / "x"))
    assert g.outside(str(home / "shared" / "data" / "loghub" / "LICENSE"))
    assert g.outside(str(home / "Documents" / "notes.txt"))
    assert not g.outside("/usr/share/zoneinfo/UTC") and not g.outside("/etc/hosts")


def test_the_session_guard_is_active_in_this_process() -> None:
    from tests import hermetic

    assert hermetic._installed
    assert any(g.repo == str(REPO) for g in hermetic._GUARDS)
