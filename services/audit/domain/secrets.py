"""Keeping secrets out of every output: sealed credentials become a marker, secret-named settings a mask.

Stored events hold credentials only sealed, but even the ciphertext has no place in an audit trail: it tells
an auditor nothing and is one more copy to protect. The outputs say whether credentials were there, whether
they can still be opened, and their fingerprint.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# One masking rule for every output, the one the views use too.
from shared.masking import MASK, masked

__all__ = ["MASK", "masked"]

SEALED = "(sealed)"
ERASED = "(erased)"
NONE = "(none)"

# Event fields that hold sealed credentials, in any aggregate (jobs carry them sealed for workers).
SEALED_FIELDS = frozenset({"credentials", "sealed_credentials"})


def credentials_marker(sealed: Any, erased: bool) -> str:
    """What an output shows for a sealed credentials document."""
    if not sealed:
        return ERASED if erased else NONE
    return ERASED if erased else SEALED


def sanitized(fields: dict[str, Any], secrets: Collection[str] | None, erased: bool) -> dict[str, Any]:
    """An event's own fields fit for an auditor: credentials as a marker, settings masked."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in SEALED_FIELDS:
            out[key] = None if value is None else credentials_marker(value, erased)
        elif key == "settings" and isinstance(value, dict):
            out[key] = masked(value, secrets)
        else:
            out[key] = value
    return out
