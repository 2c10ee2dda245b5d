"""Finding optional modules without importing them."""

from __future__ import annotations

import importlib.util


def module_exists(name: str) -> bool:
    """Whether ``name`` (dotted) can be imported; its parents are imported to find out."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
