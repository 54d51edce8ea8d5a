"""The driver catalog adapter: validates credentials and settings with the drivers' pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from contracts.drivers import CATALOG, DriverSpec, secret_fields
from services.connections.domain.errors import InvalidInput

MASK = "**********"


def _spec(driver: str) -> DriverSpec:
    spec = CATALOG.get(driver)
    if spec is None:
        known = ", ".join(sorted(CATALOG))
        raise InvalidInput(f"unknown driver {driver!r}; known drivers: {known}", "unknown_driver")
    return spec


def _plain(value: Any) -> Any:
    """A validated model as plain JSON-ready data, secrets revealed (they are sealed right after)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # URLs and the like


def _describe(kind: str, driver: str, error: ValidationError) -> InvalidInput:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return InvalidInput(f"invalid {kind} for driver {driver!r}: " + "; ".join(parts), f"invalid_{kind}")


class PydanticCatalog:
    """A :class:`~services.connections.ports.DriverCatalog` backed by :data:`contracts.drivers.CATALOG`."""

    def version(self, driver: str) -> str:
        return _spec(driver).version

    def needs_cleanup(self, driver: str) -> bool:
        return _spec(driver).needs_cleanup

    def validate_credentials(self, driver: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            model = _spec(driver).credentials_model.model_validate(data)
        except ValidationError as exc:
            raise _describe("credentials", driver, exc) from None
        result: dict[str, Any] = _plain(model)
        return result

    def validate_settings(self, driver: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            model = _spec(driver).settings_model.model_validate(data)
        except ValidationError as exc:
            raise _describe("settings", driver, exc) from None
        result: dict[str, Any] = _plain(model)
        return result

    def merge_credentials(self, driver: str, stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        return _merge(stored, update, secret_fields(driver), "")

    def masked(self, driver: str, plaintext: dict[str, Any]) -> dict[str, Any]:
        """Credentials as a UI may see them: every secret replaced by the mask."""
        return _mask(plaintext, secret_fields(driver), "")


def _merge(stored: dict[str, Any], update: dict[str, Any], secrets: set[str], prefix: str) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in update.items():
        path = prefix + key
        if path in secrets and (value is None or (isinstance(value, str) and set(value) == {"*"})):
            continue  # a secret sent back masked or left empty keeps its stored value
        if isinstance(value, dict) and isinstance(stored.get(key), dict):
            merged[key] = _merge(stored[key], value, secrets, path + ".")
        else:
            merged[key] = value
    return merged


def _mask(data: dict[str, Any], secrets: set[str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = prefix + key
        if path in secrets and value is not None:
            out[key] = MASK
        elif isinstance(value, dict):
            out[key] = _mask(value, secrets, path + ".")
        else:
            out[key] = value
    return out
