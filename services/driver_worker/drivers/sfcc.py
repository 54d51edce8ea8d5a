"""Salesforce B2C Commerce (OCAPI Data API) driver: Product attribute definitions and groups.

Mapping: an attribute definition becomes an attribute (code = its id; labels = display_name per locale;
enum values = options; `mandatory` = required; `set_of_*` and multi-value enums are multi-valued). An
attribute group becomes an attribute set. Attributes the settings ignore are left out everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Final

import httpx

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import SfccCredentials, SfccInstanceCredentials, SfccSettings
from services.driver_worker.drivers.base import (
    Progress,
    TokenClient,
    distill,
    fingerprint,
    judged_json,
)

VENDOR: Final = "Salesforce Commerce Cloud"
PAGE_SIZE: Final = 200  # the Data API's maximum `count`
GRANT: Final = "urn:demandware:params:oauth:grant-type:client-id:dwsid:dwsecuretoken"

_VALUE_TYPES: Final[Mapping[str, AttributeType]] = {
    "string": AttributeType.TEXT,
    "text": AttributeType.TEXT,
    "email": AttributeType.TEXT,
    "password": AttributeType.TEXT,
    "html": AttributeType.HTML,
    "int": AttributeType.INTEGER,
    "double": AttributeType.NUMBER,
    "quantity": AttributeType.NUMBER,
    "money": AttributeType.PRICE,
    "boolean": AttributeType.BOOLEAN,
    "date": AttributeType.DATE,
    "datetime": AttributeType.DATETIME,
    "image": AttributeType.MEDIA,
    "enum_of_string": AttributeType.SELECT,
    "enum_of_int": AttributeType.SELECT,
    "set_of_string": AttributeType.TEXT,
    "set_of_int": AttributeType.INTEGER,
    "set_of_double": AttributeType.NUMBER,
}


def _vendor_message(response: httpx.Response) -> str:
    # Data API errors are {fault{type, message}}; the token route answers OAuth-style {error, error_description}.
    try:
        body = response.json()
        if isinstance(body.get("fault"), dict):
            fault = body["fault"]
            return distill(f"{fault.get('type', 'Fault')}: {fault.get('message', '')}")
        return distill(body.get("error_description") or body.get("error") or response.reason_phrase)
    except (ValueError, AttributeError, TypeError):
        return response.reason_phrase


class SfccDriver(TokenClient):
    """Talks to the instance of the credentials with a Business Manager user grant token."""

    async def check_credentials(self, credentials: SfccCredentials, settings: SfccSettings) -> None:
        """Read one attribute definition on the instance, and on production when a second set is given."""
        for instance in _instances(credentials):
            self._tokens.drop(self._key(instance))
            await self._get(instance, settings, "attribute_definitions", {"start": 0, "count": 1})

    async def fetch_model(self, credentials: SfccCredentials, settings: SfccSettings, progress: Progress) -> DataModel:
        """Page through attribute definitions, then attribute groups, of the (first) instance."""
        ignored = settings.ignored_attributes
        attributes: list[Attribute] = []
        kept: set[str] = set()
        done = 0
        async for rows in self._pages(credentials, settings, "attribute_definitions"):
            for row in rows:
                code = str(row["id"])
                if code in ignored or (not row.get("system") and f"c_{code}" in ignored):
                    continue
                kept.add(code)
                attributes.append(_attribute(row))
            done += len(rows)
            await progress(done, None)
        sets: list[AttributeSet] = []
        async for rows in self._pages(credentials, settings, "attribute_groups"):
            for row in rows:
                members = (m.get("id") if isinstance(m, Mapping) else m for m in row.get("attribute_definitions") or [])
                sets.append(
                    AttributeSet(
                        code=str(row["id"]),
                        labels=_labels(row.get("display_name"), row["id"]),
                        attribute_codes=tuple(str(m) for m in members if str(m) in kept),
                    )
                )
            done += len(rows)
            await progress(done, None)
        return DataModel(attributes=tuple(attributes), attribute_sets=tuple(sets))

    async def clean_up(self, credentials: SfccCredentials, settings: SfccSettings) -> None:
        """Drop cached tokens of both instances; OCAPI tokens expire on their own."""
        for instance in _instances(credentials):
            self._tokens.drop(self._key(instance))

    # --- HTTP ---

    @staticmethod
    def _key(instance: SfccInstanceCredentials) -> str:
        return fingerprint(
            str(instance.instance_url),
            instance.client_id,
            instance.bm_username,
            instance.client_password.get_secret_value(),
            instance.bm_password.get_secret_value(),
        )

    @staticmethod
    def _host(instance: SfccInstanceCredentials) -> str:
        return str(instance.instance_url).rstrip("/")

    async def _token(self, instance: SfccInstanceCredentials) -> tuple[str, float]:
        auth = httpx.BasicAuth(
            f"{instance.bm_username}:{instance.bm_password.get_secret_value()}",
            instance.client_password.get_secret_value(),
        )
        url = f"{self._host(instance)}/dw/oauth2/access_token"
        data = await self._token_answer(
            lambda: self._http.post(url, params={"client_id": instance.client_id}, data={"grant_type": GRANT}, auth=auth),
            vendor=VENDOR, what="the token request", message=_vendor_message,
            refusal=lambda message: f"{VENDOR} refused the Business Manager login: {message}",
        )
        return str(data["access_token"]), float(data.get("expires_in", 900))

    async def _get(
        self, instance: SfccInstanceCredentials, settings: SfccSettings, resource: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        key = self._key(instance)
        url = f"{self._host(instance)}/s/-/dw/data/v{settings.api_version}/system_object_definitions/Product/{resource}"
        response = await self._send_with_token(
            key, lambda: self._token(instance),
            lambda token: self._http.get(url, params={**params, "select": "(**)"},
                                         headers={"Authorization": f"Bearer {token}"}),
            vendor=VENDOR,
        )
        detail = _vendor_message(response)
        refused = f"{VENDOR} refused to read {resource}: {detail}; check the OCAPI Data API permissions of the client"
        data: dict[str, Any] = judged_json(response, VENDOR, f"reading {resource}", refused, detail)
        return data

    async def _pages(
        self, credentials: SfccCredentials, settings: SfccSettings, resource: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        start = 0
        while True:
            data = await self._get(credentials, settings, resource, {"start": start, "count": PAGE_SIZE})
            rows = list(data.get("data") or [])
            yield rows
            start += len(rows)
            # `next` says there is more; we build the next request ourselves rather than follow its URL,
            # so the bearer token never goes to a host the answer names.
            if not data.get("next") or not rows or start >= int(data.get("total") or 0):
                return


def _instances(credentials: SfccCredentials) -> Iterable[SfccInstanceCredentials]:
    yield credentials
    if credentials.production is not None:
        yield credentials.production


def _labels(value: Any, fallback: Any) -> dict[str, str]:
    if isinstance(value, Mapping) and value:
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return {"default": str(value or fallback)}


def _attribute(row: Mapping[str, Any]) -> Attribute:
    value_type = str(row.get("value_type") or "string")
    kind = _VALUE_TYPES.get(value_type, AttributeType.TEXT)
    multi = value_type.startswith("set_of_") or bool(row.get("multi_value_type"))
    if kind is AttributeType.SELECT and multi:
        kind = AttributeType.MULTISELECT
    # (unverified) enum values as value_definitions[{value, display_value}].
    options = tuple(
        AttributeOption(code=str(v.get("value")), labels=_labels(v.get("display_value"), v.get("value")))
        for v in row.get("value_definitions") or []
    )
    return Attribute(
        code=str(row["id"]),
        labels=_labels(row.get("display_name"), row["id"]),
        type=kind,
        options=options,
        required=bool(row.get("mandatory")),
        multi_value=multi,
    )
