"""Every code block of README.md runs, in order, against the demo world (as datasette tests its docs).

- ```python blocks run in order in one namespace, with ``OPSNB_WORKSPACE`` naming a private copy of
  the session's small demo world (``demo_workspace``: 2 days at 20 % volume) and the repository as
  the current directory, so ``opsnb.connect()`` and ``data/...`` mean what they mean to a reader
  after ``make run``. A block right after ``<!-- readme-test: own namespace -->`` runs in a fresh
  namespace (the "Bring your own system" block, which opens a workspace of its own).
- ```bash/sh/console blocks run whole through ``bash -e`` with the venv's ``opsnb`` first on PATH,
  ``HOME`` a temporary directory (so ``~/ops`` is one) and the same workspace; a line whose command
  is in ``EXEMPT`` is left out, for the reason given there. Every exemption must still match a line,
  so the list cannot go stale.

Blocks run in README order, bash and python interleaved, so a later block sees what an earlier one made.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import opsnb
from tests.hermetic import REPO

README = REPO / "README.md"
OWN_NAMESPACE = "<!-- readme-test: own namespace -->"
# Commands not run by the test, and why. A line starting with one of these is skipped.
EXEMPT = {
    "make run": "builds the 14-day demo and starts the workbench until Ctrl-C",
    "make test": "runs this very suite",
    "opsnb up": "starts JupyterLab, Voila and the API until Ctrl-C (tested in tests/web/test_up.py)",
}
SHELL = ("bash", "sh", "console", "shell")


@dataclass
class Block:
    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    own_namespace: bool


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        out.append(Block(m.group(1) or "text", "\n".join(body) + "\n", start + 1, prev.strip() == OWN_NAMESPACE))
        i += 1
    return out


def shell_script(code: str) -> tuple[str, list[str]]:
    """The script to run (exempt lines left out) and the exempt lines."""
    run, skipped = [], []
    for ln in code.splitlines():
        cmd = ln.strip()
        if cmd.startswith("$ "):
            cmd = cmd[2:]
        if any(cmd == e or cmd.startswith(e + " ") for e in EXEMPT):
            skipped.append(cmd)
        else:
            run.append(cmd)
    return "\n".join(run) + "\n", skipped


def test_blocks_are_found() -> None:
    found = blocks(README.read_text(encoding="utf-8"))
    langs = {b.lang for b in found}
    assert len(found) >= 8 and "python" in langs and "bash" in langs
    # ```text shows output, or requests to a running `opsnb up` (those routes are tested in tests/web);
    # any other language would go untested
    assert langs <= {"python", "text", *SHELL}, f"a block of an unknown language would go untested: {langs}"
    assert any(b.own_namespace for b in found)
    assert blocks("x\n```python\na = 1\n```\n```\nplain\n```\n") == [
        Block("python", "a = 1\n", 2, False), Block("text", "plain\n", 5, False)]


def test_the_readme_speaks_only_of_what_the_reader_has() -> None:
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"\.\./shared\b|\bshared/", text)  # the directory beside our own checkouts
    # the user guide comes before the design notes
    heads = [ln for ln in text.splitlines() if ln.startswith("## ")]
    assert heads.index("## Design") > max(heads.index(h) for h in (
        "## Quick start", "## Using it from a notebook", "## Bring your own system", "## The CLI"))
    # one date era in examples: every literal date of a code block is in 2026
    code = "".join(b.code for b in blocks(text))
    years = set(re.findall(r"\b(20\d\d)-\d\d-\d\d", code))
    assert years <= {"2026"}, years
    for path in re.findall(r"\bdata/[\w./-]+\w", code):  # every data/ file a block names ships
        assert path.startswith("data/workspace") or (REPO / path).exists(), path  # (the demo's is built)


def test_every_readme_block_runs_against_the_demo(demo_workspace: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "demo"
    shutil.copytree(demo_workspace, ws)
    home = tmp_path / "home"
    home.mkdir()
    bindir = Path(sys.executable).parent
    if not (bindir / "opsnb").exists():
        pytest.skip(f"the opsnb command is not installed beside {sys.executable} (pip install -e .)")
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("OPSNB_WORKSPACE", str(ws))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USER", os.environ["OPSNB_USER"])  # the demo's builder, so its admin
    monkeypatch.setenv("MPLCONFIGDIR", str(home / ".mpl"))
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("OPSNB_USER")  # the shell blocks act as $USER, as a reader's would
    namespace: dict[str, object] = {}
    spaces = [namespace]
    skipped: list[str] = []
    ran = 0
    try:
        for b in blocks(README.read_text(encoding="utf-8")):
            where = f"README.md:{b.line} ({b.lang})"
            if b.lang == "python":
                ns: dict[str, object] = {} if b.own_namespace else namespace
                if ns is not namespace:
                    spaces.append(ns)
                try:
                    exec(compile(b.code, where, "exec"), ns)  # noqa: S102 - the README's own code
                except Exception as exc:
                    pytest.fail(f"{where} raised {type(exc).__name__}: {exc}\n{b.code}")
            elif b.lang in SHELL:
                script, skip = shell_script(b.code)
                skipped += skip
                res = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=REPO,
                                     capture_output=True, text=True, timeout=300)
                assert res.returncode == 0, f"{where} exited {res.returncode}:\n{script}\n{res.stdout}\n{res.stderr}"
            else:
                continue
            ran += 1
    finally:
        for v in (v for ns_ in spaces for v in ns_.values()):  # close the workbenches the blocks opened
            if type(v).__name__ == "Workbench":
                v.close()  # type: ignore[attr-defined]
    assert ran >= 8
    # the blocks did what their comments say
    assert namespace["inc"].id == "INC-1" and namespace["w"].total > 0  # type: ignore[attr-defined]
    mine = opsnb.connect(home / "ops")  # the "Bring your own system" workspace
    try:
        assert len(mine.fleet.list()) == 6 and mine.slos.list()["name"].tolist() == [
            "checkout-availability", "checkout-latency"]
        assert mine.oncall.list()["name"].tolist() == ["primary", "secondary"]
        assert len(mine.alerts.incident_rules()) == 3 and mine.settings.timezone == "Europe/Paris"
    finally:
        mine.close()
    unused = [e for e in EXEMPT if not any(s == e or s.startswith(e + " ") for s in skipped)]
    assert unused == [], f"exemptions that no README line needs any more: {unused}"
