"""Redaction of secrets before anything is stored, logged or shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
_SECRET_KEY = re.compile(r"pass(word|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|authorization|cookie", re.I)
# Values that look like secrets whatever their key: bearer tokens, URLs with passwords, PEM keys.
_SECRET_VALUE = re.compile(
    r"(?i)(bearer\s+[a-z0-9._~+/=-]{8,})|(://[^:/@\s]+:[^@\s]+@)|(-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)


def is_secret_key(key: str) -> bool:
    """Whether a parameter or field name denotes a secret."""
    return bool(_SECRET_KEY.search(key))


def redact_text(text: str) -> str:
    """Mask secret-looking substrings (bearer tokens, URL passwords, private keys) in text."""

    def _mask(m: re.Match[str]) -> str:
        if m.group(2):
            user = m.group(2).split(":")[0]
            return f"{user}:{REDACTED}@"
        return REDACTED

    return _SECRET_VALUE.sub(_mask, text)


def redact(value: Any, *, secret_keys: frozenset[str] = frozenset()) -> Any:
    """Return a copy of ``value`` with secrets masked, recursively.

    Args:
        value: A mapping, sequence or scalar.
        secret_keys: Extra key names to treat as secrets (e.g. a runbook's secret parameters).
    """
    if isinstance(value, Mapping):
        return {
            k: REDACTED if (is_secret_key(str(k)) or k in secret_keys) and v not in (None, "") else
            redact(v, secret_keys=secret_keys)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, secret_keys=secret_keys) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
