"""Magento 2 / Adobe Commerce REST driver: product attributes and attribute sets.

Mapping: an attribute becomes an attribute (code = attribute_code; labels: the default label under
"default", store-view labels under the locale the settings give the store, else "store_<id>"); select
options keep Magento's option id as code, without the blank placeholder option. An attribute set becomes
an attribute set (code = its id, since names may be renamed).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import httpx

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import Magento2Credentials, Magento2Settings
from services.driver_worker.domain.errors import PermanentFailure
from services.driver_worker.drivers.base import (
    Progress,
    TokenClient,
    distill,
    fingerprint,
    judged_json,
)

VENDOR: Final = "Magento 2"
PAGE_SIZE: Final = 500
# Magento has no rate limit of its own; a few set reads at once keep a 2,000-set sync short.
SET_READS_AT_ONCE: Final = 4
# Admin tokens live 4 hours by default and the answer does not say; renew well before.
TOKEN_LIFETIME: Final = 3600.0

_INPUT_TYPES: Final[Mapping[str, AttributeType]] = {
    "text": AttributeType.TEXT,
    "textarea": AttributeType.TEXT,
    "texteditor": AttributeType.HTML,
    "pagebuilder": AttributeType.HTML,
    "date": AttributeType.DATE,
    "datetime": AttributeType.DATETIME,
    "boolean": AttributeType.BOOLEAN,
    "select": AttributeType.SELECT,
    "swatch_visual": AttributeType.SELECT,
    "swatch_text": AttributeType.SELECT,
    "multiselect": AttributeType.MULTISELECT,
    "price": AttributeType.PRICE,
    "weee": AttributeType.PRICE,
    "weight": AttributeType.NUMBER,
    "media_image": AttributeType.MEDIA,
    "gallery": AttributeType.MEDIA,
    "image": AttributeType.MEDIA,
}


def _vendor_message(response: httpx.Response) -> str:
    """Magento's message with its %placeholders filled from `parameters` (named or positional)."""
    try:
        body = response.json()
        message = str(body["message"])
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase
    params = body.get("parameters")
    if isinstance(params, dict):
        message = re.sub(r"%(\w+)", lambda m: str(params.get(m.group(1), m.group(0))), message)
    elif isinstance(params, list):
        message = re.sub(r"%(\d+)", lambda m: str(params[int(m.group(1)) - 1]) if 0 < int(m.group(1)) <= len(params) else m.group(0), message)
    return distill(message)


def _login_refusal(message: str) -> str:
    if "2fa" in message.lower() or "two-factor" in message.lower():
        return (f"{VENDOR} requires two-factor authentication for admin tokens ({message}); disable "
                "Magento_TwoFactorAuth for API users or use an integration token")
    return f"{VENDOR} refused the admin login: {message}"


class Magento2Driver(TokenClient):
    """Talks to {base_url}/rest/V1 with an admin token from the admin user of the credentials."""

    async def check_credentials(self, credentials: Magento2Credentials, settings: Magento2Settings) -> None:
        """Get an admin token and list one attribute set: proves the login and the catalog ACL."""
        self._tokens.drop(self._key(credentials))
        await self._get(credentials, "/products/attribute-sets/sets/list", _criteria(1, 1))

    async def fetch_model(self, credentials: Magento2Credentials, settings: Magento2Settings, progress: Progress) -> DataModel:
        """Page through attributes and attribute sets, then read each set's members."""
        attributes: dict[str, Attribute] = {}
        done = 0
        async for rows, _ in self._pages(credentials, "/products/attributes"):
            for row in rows:
                attributes.setdefault(str(row["attribute_code"]), _attribute(row, settings))
            done += len(rows)
            await progress(done, None)
        headers: list[Mapping[str, Any]] = []
        async for rows, _ in self._pages(credentials, "/products/attribute-sets/sets/list"):
            headers.extend(rows)
            done += len(rows)
            await progress(done, None)

        total = done + len(headers)
        limit = asyncio.Semaphore(SET_READS_AT_ONCE)

        async def members(set_id: Any) -> list[Mapping[str, Any]]:
            nonlocal done
            async with limit:
                rows = await self._get(credentials, f"/products/attribute-sets/{set_id}/attributes", {})
            if not isinstance(rows, list):
                raise PermanentFailure(f"{VENDOR} sent no attribute list for attribute set {set_id}", type="bad_answer")
            done += 1
            await progress(done, total)
            return rows

        member_lists = await asyncio.gather(*(members(h["attribute_set_id"]) for h in headers))
        sets = []
        for header, member_rows in zip(headers, member_lists, strict=True):
            for member in member_rows:
                # A set may hold attributes the listing hides; the member answer carries them in full.
                attributes.setdefault(str(member["attribute_code"]), _attribute(member, settings))
            sets.append(
                AttributeSet(
                    code=str(header["attribute_set_id"]),
                    labels={"default": str(header.get("attribute_set_name") or header["attribute_set_id"])},
                    attribute_codes=tuple(str(m["attribute_code"]) for m in member_rows),
                )
            )
        return DataModel(attributes=tuple(attributes.values()), attribute_sets=tuple(sets))

    async def clean_up(self, credentials: Magento2Credentials, settings: Magento2Settings) -> None:
        """Drop the cached admin token; it expires on its own on the Magento side."""
        self._tokens.drop(self._key(credentials))

    # --- HTTP ---

    @staticmethod
    def _key(credentials: Magento2Credentials) -> str:
        return fingerprint(str(credentials.base_url), credentials.username, credentials.password.get_secret_value())

    @staticmethod
    def _api(credentials: Magento2Credentials) -> str:
        return str(credentials.base_url).rstrip("/") + "/rest/V1"

    async def _token(self, credentials: Magento2Credentials) -> tuple[str, float]:
        body = {"username": credentials.username, "password": credentials.password.get_secret_value()}
        url = self._api(credentials) + "/integration/admin/token"
        token = await self._token_answer(
            lambda: self._http.post(url, json=body), vendor=VENDOR, what="the admin token request",
            message=_vendor_message, refusal=_login_refusal,
        )
        if not isinstance(token, str) or not token:
            raise PermanentFailure(f"{VENDOR} answered the token request without a token", type="bad_answer")
        return token, TOKEN_LIFETIME

    async def _get(self, credentials: Magento2Credentials, path: str, params: Mapping[str, Any]) -> Any:
        key = self._key(credentials)
        url = self._api(credentials) + path
        # 401 is both "token expired" and "ACL missing": the fresh token of the second try tells them apart.
        response = await self._send_with_token(
            key, lambda: self._token(credentials),
            lambda token: self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}",
                                                                      "Accept": "application/json"}),
            vendor=VENDOR,
        )
        detail = _vendor_message(response)
        return judged_json(response, VENDOR, f"GET {path}", f"{VENDOR} refused access: {detail}", detail)

    async def _pages(self, credentials: Magento2Credentials, path: str) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        page, seen = 1, 0
        while True:
            data = await self._get(credentials, path, _criteria(PAGE_SIZE, page))
            items = list(data.get("items") or [])
            total = int(data.get("total_count") or 0)
            # Past the end Magento repeats the last page: trust total_count, never an empty page.
            items = items[: max(0, total - seen)]
            seen += len(items)
            yield items, total
            if seen >= total or not items:
                return
            page += 1


def _criteria(size: int, page: int) -> dict[str, int]:
    return {"searchCriteria[pageSize]": size, "searchCriteria[currentPage]": page}


def _attribute(row: Mapping[str, Any], settings: Magento2Settings) -> Attribute:
    code = str(row["attribute_code"])
    frontend = str(row.get("frontend_input") or "text")
    kind = _INPUT_TYPES.get(frontend, AttributeType.TEXT)
    if frontend == "text" and row.get("backend_type") == "int":
        kind = AttributeType.INTEGER
    elif frontend == "text" and row.get("backend_type") == "decimal":
        kind = AttributeType.NUMBER
    labels = {"default": str(row.get("default_frontend_label") or code)}
    for store_label in row.get("frontend_labels") or []:
        store_id = int(store_label.get("store_id", 0))
        labels[settings.store_view_locales.get(store_id, f"store_{store_id}")] = str(store_label.get("label"))
    options = tuple(
        AttributeOption(code=str(o["value"]), labels={"default": str(o.get("label", "")).strip()})
        for o in row.get("options") or []
        # Magento puts a blank "please select" option first.
        if str(o.get("value", "")) != ""
    )
    return Attribute(
        code=code,
        labels=labels,
        type=kind,
        options=options,
        required=bool(row.get("is_required")),
        multi_value=kind is AttributeType.MULTISELECT,
    )
