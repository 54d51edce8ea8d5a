"""The driver catalog: which marketplaces the platform connects to, and what each one asks for.

One entry per driver id, with the credentials model (what the connection screen asks for; secrets as
`SecretStr`) and the settings model (with defaults). Both refuse unknown fields and oversized input so a
bad request is rejected at the edge, naming the field.

This module is a public contract: it imports only pydantic and the standard library.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    StringConstraints,
    UrlConstraints,
)

__all__ = [
    "CATALOG",
    "AmazonAppCredentials",
    "AmazonCredentials",
    "AmazonSettings",
    "DriverSpec",
    "Magento2Credentials",
    "Magento2Settings",
    "PosCredentials",
    "PosSettings",
    "SfccCredentials",
    "SfccInstanceCredentials",
    "SfccSettings",
    "ShopifyCredentials",
    "ShopifySettings",
    "Shopware6Credentials",
    "Shopware6Settings",
    "TradebyteCredentials",
    "TradebyteSettings",
    "immutable_fields",
    "secret_fields",
]

# --- shared field types -------------------------------------------------------------------------------

_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(url: HttpUrl) -> HttpUrl:
    # Secrets travel to this URL: plain http only towards this machine (tests, local demos).
    if url.scheme != "https" and not _is_loopback(url.host or ""):
        raise ValueError("must use https (plain http is allowed only for loopback hosts)")
    # Credentials inside the URL would end up in logs and events; they belong in their own fields.
    if url.username or url.password:
        raise ValueError("must not contain a user name or password")
    if url.query or url.fragment:
        raise ValueError("must not contain a query or fragment")
    return url


BaseUrl = Annotated[
    HttpUrl,
    UrlConstraints(max_length=2048, allowed_schemes=["https", "http"]),
    AfterValidator(_check_base_url),
]
"""The root URL of a shop or instance; https, or http on loopback."""


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ShortName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Locale = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=35, pattern=r"^([A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*|default)$")
]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=1024)]
"""A password, key or token; never printed, never longer than any vendor issues."""
AccountCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Z0-9]+$")]


class _Model(BaseModel):
    # hide_input_in_errors: a refused secret must not be echoed back in the error text.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


# --- Shopware 6 ---------------------------------------------------------------------------------------


class Shopware6Credentials(_Model):
    """An Integration with admin rights of a Shopware 6 shop."""

    url: BaseUrl
    access_key_id: Name
    secret_access_key: Secret


class Shopware6Settings(_Model):
    default_language: Locale = "en-GB"
    tax_class_mapping: dict[Name, Name] = Field(default_factory=dict, max_length=500)
    order_import_states: tuple[Name, ...] = Field(default=("open",), max_length=50)


# --- Shopify ------------------------------------------------------------------------------------------


def _shop_domain(value: object) -> object:
    # People paste "https://my-shop.myshopify.com/" or just "my-shop"; keep the canonical domain.
    if not isinstance(value, str):
        return value
    domain = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if domain and "." not in domain:
        domain += ".myshopify.com"
    return domain


class ShopifyCredentials(_Model):
    """The shop's myshopify domain and the access token granted by the app install."""

    shop_domain: Annotated[
        str,
        BeforeValidator(_shop_domain),
        StringConstraints(max_length=255, pattern=r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$"),
    ]
    access_token: Secret


class ShopifySettings(_Model):
    default_tax_class: Name | None = None
    order_name_as_id: bool = False
    api_version: Annotated[str, StringConstraints(pattern=r"^\d{4}-(01|04|07|10)$")] = "2025-07"
    mirror_taxonomy: bool = True


# --- Salesforce Commerce Cloud ------------------------------------------------------------------------


class SfccInstanceCredentials(_Model):
    """One B2C Commerce instance: API client plus a Business Manager user (BM user grant)."""

    instance_url: BaseUrl
    client_id: ShortName
    client_password: Secret
    bm_username: Name
    bm_password: Secret


class SfccCredentials(SfccInstanceCredentials):
    """The instance the model is read from, optionally with a second set for production."""

    production: SfccInstanceCredentials | None = None


class SfccSettings(_Model):
    default_language: Locale = "default"
    # Attribute ids to leave out of the mirror; custom attributes may be given with their "c_" prefix.
    ignored_attributes: frozenset[Name] = Field(default=frozenset(), max_length=5000)
    price_books: tuple[Name, ...] = Field(default=(), max_length=100)
    parallel_jobs: int = Field(default=1, ge=1, le=10)
    api_version: Annotated[str, StringConstraints(pattern=r"^\d{2}_\d{1,2}$")] = "24_5"


# --- Amazon -------------------------------------------------------------------------------------------


class AmazonCredentials(_Model):
    """A seller's authorisation of the platform's SP-API app (LWA refresh token)."""

    seller_id: AccountCode
    # Fixed once saved: orders and listings are bound to it (see immutable_fields).
    marketplace_id: Annotated[AccountCode, Field(json_schema_extra={"immutable": True})]
    refresh_token: Annotated[SecretStr, Field(min_length=1, max_length=2048)]


class AmazonAppCredentials(_Model):
    """The platform's own LWA app client, from deployment config, never from a user."""

    client_id: Name
    client_secret: Secret


ProductTypeName = Annotated[str, StringConstraints(max_length=100, pattern=r"^[A-Z0-9_]+$")]


class AmazonSettings(_Model):
    fba_stock: bool = False
    order_import_types: tuple[Literal["MFN", "AFN"], ...] = ("MFN",)
    # Product types to mirror; empty = all the marketplace offers (a thousand and more, slow to sync).
    product_types: tuple[ProductTypeName, ...] = Field(default=(), max_length=2000)
    # SP-API region; None = derived from the marketplace id.
    region: Literal["na", "eu", "fe"] | None = None


# --- Magento 2 ----------------------------------------------------------------------------------------


class Magento2Credentials(_Model):
    """An admin user of a Magento 2 / Adobe Commerce shop (admin token grant)."""

    base_url: BaseUrl
    username: Name
    password: Secret


class Magento2Settings(_Model):
    # Store id -> locale, used to key the store-view labels of attributes ("store_<id>" if unmapped).
    store_view_locales: dict[Annotated[int, Field(ge=0)], Locale] = Field(
        default_factory=dict, max_length=500
    )
    tax_classes: dict[Name, Annotated[int, Field(ge=0)]] = Field(default_factory=dict, max_length=500)


# --- Tradebyte ----------------------------------------------------------------------------------------


class TradebyteCredentials(_Model):
    """A Tradebyte merchant account: REST API user, SFTP user and the channel to read."""

    hnr: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16, pattern=r"^[0-9]+$")]
    channel: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    ]
    rest_username: Name
    rest_password: Secret
    sftp_username: Name
    sftp_password: Secret
    test_api: bool = False


class TradebyteSettings(_Model):
    sales_channels: tuple[Name, ...] = Field(default=(), max_length=100)
    languages: tuple[Locale, ...] = Field(default=("de",), max_length=50)
    # TB.Cat has no attribute sets: products are grouped into sets by the value of this P_TAG, if given.
    attribute_set_tag: ShortName | None = None


# --- Actindo POS --------------------------------------------------------------------------------------


class PosCredentials(_Model):
    """Actindo POS is built in: nothing to ask for."""


class PosSettings(_Model):
    """Actindo POS has no settings."""


# --- the catalog --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """What the platform knows about one driver before running it."""

    id: str
    name: str
    version: str
    credentials_model: type[BaseModel]
    settings_model: type[BaseModel]
    # True when deleting a connection must run the driver's clean_up (it keeps per-connection state).
    needs_cleanup: bool


CATALOG: Final[dict[str, DriverSpec]] = {
    spec.id: spec
    for spec in (
        DriverSpec("shopware6", "Shopware 6", "1.0.0", Shopware6Credentials, Shopware6Settings, True),
        DriverSpec("shopify", "Shopify", "1.0.0", ShopifyCredentials, ShopifySettings, False),
        DriverSpec("sfcc", "Salesforce Commerce Cloud", "1.0.0", SfccCredentials, SfccSettings, True),
        DriverSpec("amazon", "Amazon", "1.0.0", AmazonCredentials, AmazonSettings, True),
        DriverSpec("magento2", "Magento 2", "1.0.0", Magento2Credentials, Magento2Settings, True),
        DriverSpec("tradebyte", "Tradebyte", "1.0.0", TradebyteCredentials, TradebyteSettings, False),
        DriverSpec("pos", "Actindo POS", "1.0.0", PosCredentials, PosSettings, False),
    )
}


def _spec(driver_id: str) -> DriverSpec:
    try:
        return CATALOG[driver_id]
    except KeyError:
        raise KeyError(f"unknown driver id {driver_id!r}") from None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    # Unwrap `Model | None` and Annotated[...] to find a nested credentials model.
    candidates = get_args(annotation) if get_origin(annotation) is not None else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _walk_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = []
    for name, field in model.model_fields.items():
        found.append((prefix + name, field.annotation, field))
        nested = _nested_model(field.annotation)
        if nested is not None:
            found.extend(_walk_fields(nested, f"{prefix}{name}."))
    return found


def secret_fields(driver_id: str) -> set[str]:
    """Names of the driver's secret credential fields; nested ones dotted, e.g. "production.bm_password"."""
    return {
        name
        for name, annotation, _ in _walk_fields(_spec(driver_id).credentials_model)
        if annotation is SecretStr or SecretStr in get_args(annotation)
    }


def immutable_fields(driver_id: str) -> set[str]:
    """Credential fields that may not change once a connection is saved (e.g. Amazon's marketplace id)."""
    return {
        name
        for name, _, field in _walk_fields(_spec(driver_id).credentials_model)
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("immutable") is True
    }

