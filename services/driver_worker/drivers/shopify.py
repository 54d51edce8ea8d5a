"""Shopify Admin GraphQL driver: metafield definitions and the product taxonomy.

Throttling is cost based: every answer reports the query's cost and the shop's bucket
(`extensions.cost.throttleStatus`). We wait before a query the bucket cannot pay for, and when Shopify
still answers THROTTLED (with status 200 or 429) we wait for the bucket to refill by the query's cost.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from contracts.datamodel import Attribute, AttributeSet, DataModel
from contracts.drivers import ShopifyCredentials, ShopifySettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure
from services.driver_worker.drivers.base import (
    Clock,
    Progress,
    RetryPolicy,
    Sleep,
    distill,
    json_body,
    send_with_retry,
    unexpected,
)
from services.driver_worker.drivers.shopify_mapping import (
    CHECK_SHOP,
    METAFIELD_DEFINITIONS,
    OWNER_LABELS,
    OWNERS,
    TAXONOMY_CATEGORIES,
    TAXONOMY_VALUES,
    VALUES_PER_QUERY,
    metafield_attribute,
    taxonomy_attribute,
)

VENDOR: Final = "Shopify"
# Used when a THROTTLED answer carries no cost to compute the wait from.
DEFAULT_THROTTLE_WAIT: Final = 1.0


@dataclass(slots=True)
class _Bucket:
    available: float
    restore_rate: float
    at: float


def _throttle_wait(body: Mapping[str, Any]) -> float:
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        deficit = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, deficit / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return DEFAULT_THROTTLE_WAIT


def _is_throttled(response: httpx.Response) -> float | None:
    # Cheap byte test first: only throttled answers need a second JSON parse.
    if response.status_code not in (200, 429) or b"THROTTLED" not in response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
        return _throttle_wait(body)
    return None


class ShopifyDriver:
    """Talks to https://{shop}/admin/api/{version}/graphql.json with the app's access token."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        sleep: Sleep,
        policy: RetryPolicy | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._base_url = base_url
        self._sleep = sleep
        # Throttled answers are part of normal traffic on large syncs: allow more of them.
        self._policy = policy or RetryPolicy(max_retries=8)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._costs: dict[str, float] = {}

    async def check_credentials(self, credentials: ShopifyCredentials, settings: ShopifySettings) -> None:
        """Read the shop's name with the token."""
        await self._query(credentials, settings, "CheckShop", CHECK_SHOP, {})

    async def fetch_model(self, credentials: ShopifyCredentials, settings: ShopifySettings, progress: Progress) -> DataModel:
        """Page through product and variant metafield definitions, then the taxonomy if wanted."""
        attributes: list[Attribute] = []
        sets: list[AttributeSet] = []
        done = 0
        for owner, prefix in OWNERS.items():
            codes: list[str] = []
            async for nodes in self._connection(
                credentials, settings, "MetafieldDefinitions", METAFIELD_DEFINITIONS, {"ownerType": owner},
                ("metafieldDefinitions",),
            ):
                for node in nodes:
                    attr = metafield_attribute(node)
                    attributes.append(attr)
                    codes.append(attr.code)
                done += len(nodes)
                await progress(done, None)
            sets.append(AttributeSet(code=prefix, labels={"default": OWNER_LABELS[owner]}, attribute_codes=tuple(codes)))
        if settings.mirror_taxonomy:
            done = await self._taxonomy(credentials, settings, progress, done, attributes, sets)
        return DataModel(attributes=tuple(attributes), attribute_sets=tuple(sets))

    async def clean_up(self, credentials: ShopifyCredentials, settings: ShopifySettings) -> None:
        """Nothing is held per shop but the throttle estimate; the app's uninstall revokes the token."""
        self._buckets.pop(credentials.shop_domain, None)

    # --- taxonomy ---

    async def _taxonomy(
        self,
        credentials: ShopifyCredentials,
        settings: ShopifySettings,
        progress: Progress,
        done: int,
        attributes: list[Attribute],
        sets: list[AttributeSet],
    ) -> int:
        # Without arguments `categories` lists the top level only: descend into each vertical.
        category_attrs: dict[str, Mapping[str, Any]] = {}
        verticals: list[str] = []
        scopes: list[dict[str, Any]] = [{}]
        while scopes:
            variables = scopes.pop(0)
            async for nodes in self._connection(
                credentials, settings, "TaxonomyCategories", TAXONOMY_CATEGORIES, variables, ("taxonomy", "categories")
            ):
                for node in nodes:
                    members = [a for a in (node.get("attributes") or {}).get("nodes") or [] if a.get("id")]
                    for member in members:
                        category_attrs.setdefault(str(member["id"]), member)
                    sets.append(
                        AttributeSet(
                            code=str(node["id"]),
                            labels={"default": str(node.get("fullName") or node.get("name"))},
                            attribute_codes=tuple(str(a["id"]) for a in members if a.get("name")),
                        )
                    )
                    if not variables and not node.get("isLeaf"):
                        verticals.append(str(node["id"]))
                done += len(nodes)
                await progress(done, None)
            if not variables:
                scopes.extend({"descendantsOf": vertical} for vertical in verticals)
        choice_ids = [i for i, a in category_attrs.items() if a.get("__typename") == "TaxonomyChoiceListAttribute"]
        values: dict[str, list[Mapping[str, Any]]] = {}
        for start in range(0, len(choice_ids), VALUES_PER_QUERY):
            data = await self._query(
                credentials, settings, "TaxonomyValues", TAXONOMY_VALUES, {"ids": choice_ids[start : start + VALUES_PER_QUERY]}
            )
            for node in data.get("nodes") or []:
                if node and node.get("id"):
                    values[str(node["id"])] = list((node.get("values") or {}).get("nodes") or [])
            done += VALUES_PER_QUERY
            await progress(done, None)
        for code, member in category_attrs.items():
            attr = taxonomy_attribute(member, values.get(code))
            if attr is not None:
                attributes.append(attr)
        return done

    # --- HTTP ---

    async def _connection(
        self,
        credentials: ShopifyCredentials,
        settings: ShopifySettings,
        name: str,
        document: str,
        variables: Mapping[str, Any],
        path: tuple[str, ...],
    ) -> AsyncIterator[list[dict[str, Any]]]:
        after: str | None = None
        while True:
            data: Any = await self._query(credentials, settings, name, document, {**variables, "after": after})
            for key in path:
                data = (data or {}).get(key) or {}
            yield list(data.get("nodes") or [])
            page = data.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return
            after = str(page["endCursor"])

    async def _query(
        self, credentials: ShopifyCredentials, settings: ShopifySettings, name: str, document: str, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        shop = credentials.shop_domain
        url = self._base_url.replace("{shop}", shop) + f"/admin/api/{settings.api_version}/graphql.json"
        headers = {"X-Shopify-Access-Token": credentials.access_token.get_secret_value()}
        await self._wait_for_budget(shop, self._costs.get(name, 0.0))
        response = await send_with_retry(
            lambda: self._http.post(url, json={"query": document, "variables": dict(variables)}, headers=headers),
            vendor=VENDOR,
            policy=self._policy,
            sleep=self._sleep,
            throttled=_is_throttled,
        )
        if response.status_code in (401, 403):
            raise CredentialsRejected(f"{VENDOR} refused the access token: {_message(response)}")
        if response.status_code == 404:
            raise CredentialsRejected(f"{VENDOR} knows no shop {shop} (or the API version {settings.api_version})")
        if response.status_code != 200:
            raise unexpected(VENDOR, f"the {name} query", response, _message(response))
        body = json_body(response, VENDOR)
        self._note_cost(shop, name, body)
        errors = body.get("errors")
        if errors:
            codes = {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}
            text = distill("; ".join(str(e.get("message")) for e in errors if isinstance(e, dict)))
            if "ACCESS_DENIED" in codes:
                raise CredentialsRejected(f"{VENDOR} denied the {name} query: {text}; the app lacks a scope")
            raise PermanentFailure(f"{VENDOR} rejected the {name} query: {text}", type="bad_answer")
        data: dict[str, Any] = body.get("data") or {}
        return data

    async def _wait_for_budget(self, shop: str, cost: float) -> None:
        bucket = self._buckets.get(shop)
        if bucket is None or bucket.restore_rate <= 0:
            return
        available = bucket.available + (self._clock() - bucket.at) * bucket.restore_rate
        if available < cost:
            await self._sleep((cost - available) / bucket.restore_rate)

    def _note_cost(self, shop: str, name: str, body: Mapping[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            self._costs[name] = float(cost["requestedQueryCost"])
            self._buckets[shop] = _Bucket(float(status["currentlyAvailable"]), float(status["restoreRate"]), self._clock())
        except (KeyError, TypeError, ValueError):
            pass


def _message(response: httpx.Response) -> str:
    # REST-style errors: {"errors": "[API] Invalid API key ..."} or a list of {message}.
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return response.reason_phrase
    if isinstance(errors, list):
        return distill("; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors))
    return distill(errors or response.reason_phrase)
