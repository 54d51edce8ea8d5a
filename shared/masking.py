"""The one rule that masks secret settings in every output (the views, the audit trail).

Pure (the standard library only), so the domains of the read side and of the audit may both use it
(``tests/unit/test_architecture.py`` allows it there and checks that it stays pure).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

MASK = "**********"


def masked(settings: dict[str, Any], secrets: Collection[str] | None, prefix: str = "") -> dict[str, Any]:
    """Settings with every field whose dotted path is a secret replaced by the mask.

    ``secrets`` None means the driver is unknown, and then every value is masked: better blank than leaked.
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
