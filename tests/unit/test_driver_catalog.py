"""The driver catalog refuses bad credential input at the edge, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from contracts.drivers import CATALOG, DriverSpec, immutable_fields, secret_fields

VALID: dict[str, dict[str, Any]] = {
    "shopware6": {"url": "https://shop.example.com", "access_key_id": "SWIA123", "secret_access_key": "s3cret"},
    "shopify": {"shop_domain": "my-shop.myshopify.com", "access_token": "shpat_123"},
    "sfcc": {
        "instance_url": "https://dev01.example.demandware.net",
        "client_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "client_password": "pw",
        "bm_username": "bm@example.com",
        "bm_password": "bmpw",
    },
    "amazon": {"seller_id": "A1SELLER", "marketplace_id": "A1PA6795UKMFR9", "refresh_token": "Atzr|abc"},
    "magento2": {"base_url": "https://m2.example.com", "username": "admin", "password": "pw"},
    "tradebyte": {
        "hnr": "12345",
        "channel": "zalando_de",
        "rest_username": "api",
        "rest_password": "pw",
        "sftp_username": "ftp",
        "sftp_password": "pw2",
    },
    "pos": {},
}

REQUIRED = [(d, f) for d, payload in VALID.items() for f in payload]
STRINGS = [(d, f) for d, payload in VALID.items() for f, v in payload.items() if isinstance(v, str)]


def _fields_in_error(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.errors()}


def test_catalog_lists_the_seven_drivers() -> None:
    assert set(CATALOG) == {"shopware6", "shopify", "sfcc", "amazon", "magento2", "tradebyte", "pos"}
    assert all(isinstance(spec, DriverSpec) and spec.id == key for key, spec in CATALOG.items())


@pytest.mark.parametrize("driver_id", sorted(VALID))
def test_valid_credentials_and_default_settings_are_accepted(driver_id: str) -> None:
    spec = CATALOG[driver_id]
    creds = spec.credentials_model.model_validate(VALID[driver_id])
    spec.settings_model()
    for name in secret_fields(driver_id):
        if "." not in name:
            assert isinstance(getattr(creds, name), SecretStr)
            assert "s3cret" not in repr(creds)


@pytest.mark.parametrize(("driver_id", "field"), REQUIRED)
def test_missing_field_is_refused_naming_it(driver_id: str, field: str) -> None:
    payload = {k: v for k, v in VALID[driver_id].items() if k != field}
    with pytest.raises(ValidationError) as info:
        CATALOG[driver_id].credentials_model.model_validate(payload)
    assert _fields_in_error(info.value) == {field}


@pytest.mark.parametrize("driver_id", sorted(VALID))
def test_extra_field_is_refused_naming_it(driver_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        CATALOG[driver_id].credentials_model.model_validate({**VALID[driver_id], "api_key": "x"})
    assert _fields_in_error(info.value) == {"api_key"}


@pytest.mark.parametrize(("driver_id", "field"), STRINGS)
def test_wrong_type_is_refused_naming_it(driver_id: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        CATALOG[driver_id].credentials_model.model_validate({**VALID[driver_id], field: {"nested": 1}})
    assert _fields_in_error(info.value) == {field}


@pytest.mark.parametrize(("driver_id", "field"), STRINGS)
def test_oversized_field_is_refused_naming_it(driver_id: str, field: str) -> None:
    value = VALID[driver_id][field]
    huge = "https://shop.example.com/" + "a" * 5000 if value.startswith("https://") else "A" * 5000
    with pytest.raises(ValidationError) as info:
        CATALOG[driver_id].credentials_model.model_validate({**VALID[driver_id], field: huge})
    assert _fields_in_error(info.value) == {field}


def test_refused_secret_is_not_echoed_in_the_error_text() -> None:
    with pytest.raises(ValidationError) as info:
        CATALOG["shopware6"].credentials_model.model_validate({**VALID["shopware6"], "secret_access_key": "X" * 5000})
    assert "XXXX" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://shop.example.com", "ftp://shop.example.com", "https://user:pw@shop.example.com", "not a url"]
)
def test_unsafe_or_invalid_shop_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        CATALOG["shopware6"].credentials_model.model_validate({**VALID["shopware6"], "url": url})
    assert _fields_in_error(info.value) == {"url"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/shop", "http://localhost:1234", "http://[::1]:80"])
def test_plain_http_is_allowed_on_loopback(url: str) -> None:
    CATALOG["magento2"].credentials_model.model_validate({**VALID["magento2"], "base_url": url})


def test_shopify_domain_is_normalised() -> None:
    creds = CATALOG["shopify"].credentials_model.model_validate(
        {**VALID["shopify"], "shop_domain": "https://My-Shop.myshopify.com/"}
    )
    assert creds.model_dump()["shop_domain"] == "my-shop.myshopify.com"


def test_sfcc_production_set_is_validated_as_a_nested_model() -> None:
    bad = {**VALID["sfcc"], "production": {**VALID["sfcc"], "bm_password": ""}}
    with pytest.raises(ValidationError) as info:
        CATALOG["sfcc"].credentials_model.model_validate(bad)
    assert _fields_in_error(info.value) == {"production.bm_password"}


def test_secret_and_immutable_fields_are_listed() -> None:
    assert secret_fields("shopware6") == {"secret_access_key"}
    assert secret_fields("sfcc") == {
        "client_password",
        "bm_password",
        "production.client_password",
        "production.bm_password",
    }
    assert secret_fields("tradebyte") == {"rest_password", "sftp_password"}
    assert secret_fields("pos") == set()
    assert immutable_fields("amazon") == {"marketplace_id"}
    with pytest.raises(KeyError):
        secret_fields("ebay")


def test_settings_have_defaults_and_refuse_unknown_fields() -> None:
    for spec in CATALOG.values():
        settings: BaseModel = spec.settings_model()
        with pytest.raises(ValidationError):
            spec.settings_model.model_validate({**settings.model_dump(), "surprise": 1})
