"""The secret field names of a driver, from the contracts' driver catalog (for masking settings)."""

from __future__ import annotations

from contracts.drivers import CATALOG, secret_fields


def secret_fields_of(driver: str | None) -> set[str] | None:
    """The driver's secret field names; None for an unknown driver, which makes every value masked."""
    if driver is None or driver not in CATALOG:
        return None
    return secret_fields(driver)
