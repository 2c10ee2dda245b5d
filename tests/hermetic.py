"""The runtime half of "no test reads outside the repository" (the static half is tests/core/test_hermetic.py).

``outside_reads_guard`` is a session fixture, autouse through ``tests/conftest.py``. It installs one
``sys.addaudithook`` hook per test process; the hook sees every ``open`` (``open()``, ``os.open``,
``io.open_code``) and every ``os.listdir``/``os.scandir`` in that process and records those whose
path lies under the repository's *parent* but neither inside the repository nor under an allowed
root (the temporary directory, the interpreter and its site-packages, ``sys.path`` entries, system
directories, and tools' dot-directories in the home directory). Beside the checkout is where
``../shared`` and other people's projects live: a path there exists only on the machine that wrote
the test. With each record goes ``PYTEST_CURRENT_TEST``, the test that was running.

At the end of the session the fixture fails (an error at teardown, so the run exits non-zero) and
names each path and the test that read it.

Why it is not flaky under xdist: every worker is its own process with its own hook, its own records
and its own session teardown; nothing is shared between processes, so there is nothing to race on.
The records of a worker are failed in that worker. Audit hooks cannot be removed, so the hook is
installed at most once per process and dispatches to the guards on a stack; a test can push its own
guard (``Guard.capture``) to check the mechanism without tripping the session's.

What it cannot see: files opened by C/C++ code that bypasses Python's ``open`` (DuckDB, Arrow) and by
subprocesses. The static scan covers those: it refuses path expressions that climb out of the
repository in the first place.
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Events whose first argument is a path that is read: files and directory listings.
EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
SYSTEM_ROOTS = ("/usr", "/etc", "/proc", "/dev", "/sys", "/lib", "/lib64", "/bin", "/sbin", "/opt", "/var",
                "/run", "/tmp", "/snap", "/nix")


def _norm(p: str) -> str:
    return os.path.normpath(os.path.join(os.getcwd(), p))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Guard:
    """Records reads of paths beside ``repo`` (under its parent, outside it) that no allowed root covers.

    Args:
        repo: The repository root.
        allowed: Roots whose files may be read although they lie under the repository's parent.
        home_dotdirs: Also allow ``~/.<anything>`` (tools' caches and settings: ~/.cache, ~/.ssh ...).
    """

    def __init__(self, repo: Path, allowed: Sequence[str] = (), *, home_dotdirs: bool = True) -> None:
        self.repo = str(repo)
        self.parent = os.path.dirname(self.repo)
        # A root that contains the repository (its parent, "/") would allow everything: leave it out.
        self.allowed = tuple(a for a in (_norm(x) for x in allowed) if a and not _under(self.repo, a))
        self.home = os.path.expanduser("~") if home_dotdirs else ""
        self.reads: list[tuple[str, str]] = []

    def outside(self, path: str) -> bool:
        """Whether reading ``path`` (absolute or relative to the current directory) leaves the repository."""
        p = _norm(path)
        if not _under(p, self.parent) or _under(p, self.repo):
            return False
        if any(_under(p, a) for a in self.allowed):
            return False
        if self.home and _under(p, self.home) and p != self.home:
            first = p[len(self.home.rstrip(os.sep)) + 1:].split(os.sep, 1)[0]
            return not first.startswith(".")
        return True

    def audit(self, event: str, args: tuple[object, ...]) -> None:
        """The audit hook body: record a read outside the repository."""
        if event not in EVENTS or not args:
            return
        path = args[0]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        elif isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):  # a file descriptor, or listdir() of the current directory
            return
        if self.outside(path):
            self.reads.append((_norm(path), os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)")))

    @contextmanager
    def capture(self) -> Iterator[Guard]:
        """Route this process's audit events to this guard too, while the block runs."""
        install()
        _GUARDS.append(self)
        try:
            yield self
        finally:
            _GUARDS.remove(self)


_GUARDS: list[Guard] = []
_installed = False


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event in EVENTS:
        for g in _GUARDS:
            g.audit(event, args)


def install() -> None:
    """Install the process's one audit hook (audit hooks cannot be removed; it dispatches to ``_GUARDS``)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def default_allowed(*extra: str) -> list[str]:
    """Roots a test may read although they might lie beside the repository."""
    roots = [tempfile.gettempdir(), sys.prefix, sys.base_prefix, sys.exec_prefix, *SYSTEM_ROOTS, *extra]
    roots += site.getsitepackages() + [site.getusersitepackages()]
    roots += [p for p in sys.path if p and os.path.isabs(p)]
    return roots


@pytest.fixture(scope="session", autouse=True)
def outside_reads_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guard]:
    """Fail the session if any test of this process read a file beside the repository (see the module doc)."""
    guard = Guard(REPO, default_allowed(str(tmp_path_factory.getbasetemp())))
    with guard.capture():
        yield guard
    if guard.reads:
        seen = dict.fromkeys(f"{path} (read by {test})" for path, test in guard.reads)
        pytest.fail("tests read outside the repository; ship what they need under tests/data/:\n  "
                    + "\n  ".join(list(seen)[:20]), pytrace=False)
