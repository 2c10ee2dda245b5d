"""Cursor pagination for every API list: ``?limit=&cursor=`` in, ``"next"`` out (null on the last page).

The cursor is opaque to callers (base64 of an offset into the list as the route orders it); a
forged or damaged one is a 400 naming ``cursor``, never a 500.
"""

from __future__ import annotations

import base64
import binascii

from opsnb.errors import ValidationError

_MAX_OFFSET = 10_000_000


def encode_cursor(offset: int) -> str:
    """The cursor of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset a cursor stands for; a ValidationError names ``cursor`` when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    kind, _, num = text.partition(":")
    if kind != "o" or not num.isdigit() or len(num) > 8 or int(num) > _MAX_OFFSET:
        raise ValidationError(f"cursor {cursor[:40]!r} is not a cursor this API gave out (use the 'next' of "
                              "the previous page)", field="cursor")
    return int(num)
