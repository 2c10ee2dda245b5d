"""Who is acting. Kept apart from :mod:`opsnb.access.service` so opening a workbench imports no SQLAlchemy."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping


def current_user(configured: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: the ``user`` setting (OPSNB_USER), else JUPYTERHUB_USER, else the OS user."""
    env = os.environ if environ is None else environ
    if configured:
        return configured
    if env.get("JUPYTERHUB_USER"):
        return env["JUPYTERHUB_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return f"uid-{os.getuid()}"
