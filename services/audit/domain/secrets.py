"""Keeping secrets out of every output: sealed credentials become a marker, secret-named settings a mask.

Stored events hold credentials only sealed, but even the ciphertext has no place in an audit trail: it tells
an auditor nothing and is one more copy to protect. The outputs say whether credentials were there, whether
they can still be opened, and their fingerprint.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

MASK = "**********"
SEALED = "(sealed)"
ERASED = "(erased)"
NONE = "(none)"

# Event fields that hold sealed credentials, in any aggregate (jobs carry them sealed for workers).
SEALED_FIELDS = frozenset({"credentials", "sealed_credentials"})


def masked(settings: dict[str, Any], secrets: Collection[str] | None, prefix: str = "") -> dict[str, Any]:
    """Settings with every field whose dotted path is a secret replaced by the mask.

    ``secrets`` None means the driver is unknown: then every value is masked, better blank than leaked.
    """
    out: dict[str, Any] = {}
    for key, value in settings.items():
        path = prefix + str(key)
        if isinstance(value, dict):
            out[key] = masked(value, secrets, path + ".")
        elif value is not None and (secrets is None or path in secrets):
            out[key] = MASK
        else:
            out[key] = value
    return out


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
