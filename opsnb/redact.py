"""Redaction of secrets before anything is stored, logged or shown.

Two nets: key names and value shapes that look secret (``password=...``, bearer tokens,
URL passwords, PEM keys), and the secret VALUES opsnb knows of (settings marked secret,
SSH passwords and passphrases, resolved secret references of runs), registered with
:func:`register_secrets` and masked wherever they appear, whatever printed them: repr-,
JSON-, HTML- and URL-escaped forms included, since tracebacks and rich outputs escape.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

REDACTED = "***"
MIN_SECRET_LEN = 4  # shorter values would mask ordinary text everywhere
_SECRET_KEY = re.compile(r"pass(word|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|authorization|cookie", re.I)
# Values that look like secrets whatever their key: bearer tokens, URLs with passwords, PEM keys.
_SECRET_VALUE = re.compile(
    r"(?i)(bearer\s+[a-z0-9._~+/=-]{8,})|(://[^:/@\s]+:[^@\s]+@)|(-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)

_KNOWN: set[str] = set()
_KNOWN_RE: re.Pattern[str] | None = None
_KNOWN_LOCK = threading.Lock()


def is_secret_key(key: str) -> bool:
    """Whether a parameter or field name denotes a secret."""
    return bool(_SECRET_KEY.search(key))


def variants(value: str) -> set[str]:
    """The forms a secret takes once printed: raw, repr-, JSON-, HTML- and URL-escaped."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False),
             quote(value, safe=""), json.dumps(html.escape(value))[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def register_secrets(values: Iterable[str | None]) -> None:
    """Add secret values to mask everywhere in this process (outputs, ledger, errors, logs)."""
    global _KNOWN_RE
    new: set[str] = set()
    for v in values:
        if isinstance(v, str) and len(v) >= MIN_SECRET_LEN:
            new |= variants(v)
    with _KNOWN_LOCK:
        if new <= _KNOWN:
            return
        _KNOWN.update(new)
        # Longest first: a secret that contains another is masked whole.
        _KNOWN_RE = re.compile("|".join(re.escape(v) for v in sorted(_KNOWN, key=len, reverse=True)))


def known_secrets() -> frozenset[str]:
    """Every registered secret form (for tests and extra scrubbing)."""
    with _KNOWN_LOCK:
        return frozenset(_KNOWN)


def scrub_values(text: str, extra: Iterable[str] = ()) -> str:
    """Mask the registered secret values (and ``extra`` ones) in text."""
    for v in sorted({f for e in extra if isinstance(e, str) and len(e) >= MIN_SECRET_LEN for f in variants(e)},
                    key=len, reverse=True):
        if v in text:
            text = text.replace(v, REDACTED)
    pattern = _KNOWN_RE
    return pattern.sub(REDACTED, text) if pattern is not None else text


def redact_text(text: str, extra: Iterable[str] = ()) -> str:
    """Mask known secret values (and ``extra`` ones) and secret-looking substrings in text.

    Secret-looking: bearer tokens, URL passwords, PEM private key headers.
    """

    def _mask(m: re.Match[str]) -> str:
        if m.group(2):
            user = m.group(2).split(":")[0]
            return f"{user}:{REDACTED}@"
        return REDACTED

    return _SECRET_VALUE.sub(_mask, scrub_values(text, extra))


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


def scrub(value: Any, extra: Iterable[str] = ()) -> Any:
    """A copy of ``value`` (str, list, dict) with secret values and secret-looking text masked.

    Unlike :func:`redact`, keys are kept as they are: this is for printed output and results,
    where a key named ``token`` may hold a harmless count.
    """
    extra = list(extra)
    if isinstance(value, str):
        return redact_text(value, extra)
    if isinstance(value, list | tuple):
        return [scrub(v, extra) for v in value]
    if isinstance(value, Mapping):
        return {k: scrub(v, extra) for k, v in value.items()}
    return value


def settings_secrets(settings: Mapping[str, Any]) -> list[str]:
    """The secret values a workbench's settings lead to.

    Settings marked secret in the settings table (a database URL's password too), and the SSH
    password and key passphrase named by ``ssh_*_env`` / ``ssh_*_file`` (read here, never stored).
    """
    from opsnb.config import SETTINGS

    out: list[str] = []
    for s in SETTINGS:
        value = settings.get(s.name)
        if not s.secret or not isinstance(value, str) or not value:
            continue
        if "://" in value:  # a URL: its password is the secret; host and database are useful in messages
            m = re.search(r"://[^:/@\s]+:([^@\s]+)@", value)
            out += [m.group(1), unquote(m.group(1))] if m else []
        else:
            out.append(value)
    for kind in ("passphrase", "password"):
        env = str(settings.get(f"ssh_{kind}_env") or "")
        if env and os.environ.get(env):
            out.append(os.environ[env])
        path = str(settings.get(f"ssh_{kind}_file") or "")
        if path:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                out.append(Path(path).expanduser().read_text(encoding="utf-8").rstrip("\r\n"))
    return [v for v in out if len(v) >= MIN_SECRET_LEN]


_FACTORY_INSTALLED = False


def install_log_scrubber() -> None:
    """Mask registered secret values in every log record of this process (message and traceback)."""
    global _FACTORY_INSTALLED
    with _KNOWN_LOCK:
        if _FACTORY_INSTALLED:
            return
        _FACTORY_INSTALLED = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _KNOWN_RE is None:
            return record
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return record
        clean = scrub_values(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse exc_text when set: format the traceback once, scrubbed.
            record.exc_text = scrub_values(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
