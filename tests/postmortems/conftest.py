"""What the postmortem tests share: a copy of the demo world acted on by carol (a responder)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from opsnb import connect
from opsnb.workbench import Workbench


@contextmanager
def demo_world(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory, name: str,
               *, draft: tuple[str, ...] = ()) -> Iterator[Workbench]:
    """A copy of the small demo world (tests change it), with the postmortems of ``draft`` drafted once."""
    dest = tmp_path_factory.mktemp(name) / "ws"
    shutil.copytree(demo_workspace, dest)
    wb = connect(dest)
    wb.user = "carol"
    for incident_id in draft:
        wb.postmortems.draft(incident_id)
    try:
        yield wb
    finally:
        wb.close()
