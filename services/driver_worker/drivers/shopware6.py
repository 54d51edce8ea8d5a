"""Shopware 6 Admin API driver: property groups and product custom field sets.

Mapping: a property group becomes a select attribute (code = group id, options = its options); a custom
field becomes a typed attribute (code = its technical name); a custom field set related to `product`
becomes an attribute set. Inactive custom fields and sets are left out: the admin cannot use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import httpx

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import Shopware6Credentials, Shopware6Settings
from services.driver_worker.drivers.base import (
    Progress,
    TokenClient,
    distill,
    fingerprint,
    judged_json,
)

VENDOR: Final = "Shopware 6"
PAGE_SIZE: Final = 500

_FIELD_TYPES: Final[Mapping[str, AttributeType]] = {
    "bool": AttributeType.BOOLEAN,
    "checkbox": AttributeType.BOOLEAN,
    "switch": AttributeType.BOOLEAN,
    "colorpicker": AttributeType.COLOR,
    "date": AttributeType.DATE,
    "datetime": AttributeType.DATETIME,
    "entity": AttributeType.REFERENCE,
    "float": AttributeType.NUMBER,
    "number": AttributeType.NUMBER,
    "int": AttributeType.INTEGER,
    "json": AttributeType.JSON,
    "price": AttributeType.PRICE,
    "html": AttributeType.HTML,
    "media": AttributeType.MEDIA,
    "select": AttributeType.SELECT,
    "text": AttributeType.TEXT,
}
_MULTI_COMPONENTS: Final = frozenset({"sw-multi-select", "sw-entity-multi-id-select", "sw-entity-multi-select"})


def _vendor_message(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return distill(first.get("detail") or first.get("title") or response.reason_phrase)
    except (ValueError, AttributeError, IndexError, TypeError):
        return response.reason_phrase


class Shopware6Driver(TokenClient):
    """Talks to the Admin API at the shop URL of the credentials, with a cached client-credentials token."""

    async def check_credentials(self, credentials: Shopware6Credentials, settings: Shopware6Settings) -> None:
        """Get a token and read one property group: proves the key and its read rights."""
        self._tokens.drop(self._key(credentials))
        await self._search(credentials, "property-group", {"page": 1, "limit": 1})

    async def fetch_model(
        self, credentials: Shopware6Credentials, settings: Shopware6Settings, progress: Progress
    ) -> DataModel:
        """Page through property groups, then product custom field sets."""
        attributes: list[Attribute] = []
        sets: list[AttributeSet] = []
        done = 0
        groups_body = {"associations": {"options": {}}, "sort": [{"field": "position"}, {"field": "id"}]}
        async for rows, total in self._pages(credentials, "property-group", groups_body):
            attributes.extend(_property_group(row) for row in rows)
            done += len(rows)
            await progress(done, None)
        sets_body = {
            "associations": {"customFields": {}, "relations": {}},
            "filter": [{"type": "equals", "field": "relations.entityName", "value": "product"}],
            "sort": [{"field": "position"}, {"field": "id"}],
        }
        async for rows, total in self._pages(credentials, "custom-field-set", sets_body):
            for row in rows:
                if row.get("active", True) is False:
                    continue
                fields = [f for f in row.get("customFields") or [] if f.get("active", True) is not False]
                attributes.extend(_custom_field(f) for f in fields)
                sets.append(
                    AttributeSet(
                        code=str(row["name"]),
                        labels=_labels((row.get("config") or {}).get("label"), row["name"]),
                        attribute_codes=tuple(str(f["name"]) for f in fields),
                    )
                )
            done += len(rows)
            await progress(done, None)
        return DataModel(attributes=tuple(attributes), attribute_sets=tuple(sets))

    async def clean_up(self, credentials: Shopware6Credentials, settings: Shopware6Settings) -> None:
        """Drop the cached token; Shopware tokens simply expire, there is nothing to revoke."""
        self._tokens.drop(self._key(credentials))

    # --- HTTP ---

    @staticmethod
    def _key(credentials: Shopware6Credentials) -> str:
        return fingerprint(str(credentials.url), credentials.access_key_id, credentials.secret_access_key.get_secret_value())

    @staticmethod
    def _base(credentials: Shopware6Credentials) -> str:
        return str(credentials.url).rstrip("/")

    async def _token(self, credentials: Shopware6Credentials) -> tuple[str, float]:
        body = {
            "grant_type": "client_credentials",
            "client_id": credentials.access_key_id,
            "client_secret": credentials.secret_access_key.get_secret_value(),
        }
        url = f"{self._base(credentials)}/api/oauth/token"
        # The token route allows 10 calls a minute per IP: its 429 carries the Retry-After we honour.
        data = await self._token_answer(
            lambda: self._http.post(url, json=body, headers={"Accept": "application/json"}),
            vendor=VENDOR, what="the token request", message=_vendor_message,
            refusal=lambda message: f"{VENDOR} refused the access key: {message}",
        )
        return str(data["access_token"]), float(data.get("expires_in", 600))

    async def _search(self, credentials: Shopware6Credentials, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        key = self._key(credentials)
        url = f"{self._base(credentials)}/api/search/{entity}"
        response = await self._send_with_token(
            key, lambda: self._token(credentials),
            lambda token: self._http.post(url, json=body, headers={"Authorization": f"Bearer {token}",
                                                                   "Accept": "application/json"}),
            vendor=VENDOR,
        )
        detail = _vendor_message(response)
        refused = f"{VENDOR} refused to list {entity} ({response.status_code}): {detail}; the integration needs admin rights"
        data: dict[str, Any] = judged_json(response, VENDOR, f"the {entity} search", refused, detail)
        return data

    async def _pages(
        self, credentials: Shopware6Credentials, entity: str, body: dict[str, Any]
    ) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        page, seen = 1, 0
        while True:
            data = await self._search(credentials, entity, {**body, "page": page, "limit": PAGE_SIZE, "total-count-mode": 1})
            rows = data.get("data") or []
            total = int(data.get("total") or 0)
            seen += len(rows)
            yield rows, total
            # Stop on the announced total; an empty page also ends it, so a wrong total cannot loop.
            if seen >= total or not rows:
                return
            page += 1


def _labels(label: Any, fallback: Any) -> dict[str, str]:
    if isinstance(label, dict) and label:
        return {str(k): str(v) for k, v in label.items() if v is not None}
    if isinstance(label, str) and label:
        return {"default": label}
    return {"default": str(fallback)}


def _property_group(row: Mapping[str, Any]) -> Attribute:
    options = sorted(row.get("options") or [], key=lambda o: (o.get("position") or 0, str(o.get("name"))))
    return Attribute(
        code=str(row["id"]),
        labels={"default": str(row.get("name") or row["id"])},
        type=AttributeType.SELECT,
        options=tuple(AttributeOption(code=str(o["id"]), labels={"default": str(o.get("name"))}) for o in options),
        # A product may carry several options of one group (e.g. two colours).
        multi_value=True,
    )


def _custom_field(row: Mapping[str, Any]) -> Attribute:
    config = row.get("config") or {}
    kind = _FIELD_TYPES.get(str(row.get("type")), AttributeType.TEXT)
    if row.get("type") == "number" and config.get("numberType") == "int":
        kind = AttributeType.INTEGER
    multi = config.get("componentName") in _MULTI_COMPONENTS
    if kind is AttributeType.SELECT and multi:
        kind = AttributeType.MULTISELECT
    options = tuple(
        AttributeOption(code=str(o.get("value")), labels=_labels(o.get("label"), o.get("value")))
        for o in config.get("options") or []
    )
    return Attribute(
        code=str(row["name"]),
        labels=_labels(config.get("label"), row["name"]),
        type=kind,
        options=options,
        # (unverified) Shopware has no documented required flag; honour one if the config carries it.
        required=config.get("required") is True,
        multi_value=multi,
    )
