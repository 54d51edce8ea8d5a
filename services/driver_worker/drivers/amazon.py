"""Amazon Selling Partner API driver: product types and their JSON Schemas.

Mapping: a product type becomes an attribute set (code = its name) whose attributes are the schema's
properties, ordered by property group; attributes shared by product types are merged (see
`amazon_schema`). Schemas are cached by checksum, so an unchanged product type costs one definition call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Final

import httpx

from contracts.datamodel import AttributeSet, DataModel
from contracts.drivers import AmazonAppCredentials, AmazonCredentials, AmazonSettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure
from services.driver_worker.drivers.amazon_schema import AttributeMerger, ParsedProductType, parse_product_type
from services.driver_worker.drivers.base import (
    TokenClient,
    judged_json,
    Progress,
    RateLimiter,
    RetryPolicy,
    Sleep,
    TokenCache,
    distill,
    fingerprint,
    json_body,
    send_with_retry,
    unexpected,
)

VENDOR: Final = "Amazon"
DEFINITIONS: Final = "/definitions/2020-09-01/productTypes"
# Product Type Definitions API: 5 requests a second, bursts of 10.
DEFINITIONS_RATE: Final = 5.0
DEFINITIONS_BURST: Final = 10
SCHEMA_CACHE_SIZE: Final = 5000

# Marketplace id -> SP-API region (developer docs' marketplace table).
REGIONS: Final[Mapping[str, str]] = {
    **dict.fromkeys(("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"), "na"),
    **dict.fromkeys(
        (
            "A1PA6795UKMFR9", "A1F83G8C2ARO7P", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS",
            "A1805IZSGTT6HS", "A2NODRKZP88ZB9", "A1C3SOZRARQ6R3", "A33AVAJ2PDY3EV", "A21TJRUUN4KGV",
            "ARBP9OOSHTCHU", "A17E79C6D8DWNP", "A2VIGQ35RCS4UG", "AMEN7PMS2XZ2Y", "A28R8C7NBKEWEA",
        ),
        "eu",
    ),
    **dict.fromkeys(("A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"), "fe"),
}


def _vendor_message(response: httpx.Response) -> str:
    # LWA answers {error, error_description}; SP-API answers {errors[{code, message, details}]}.
    try:
        body = response.json()
        if body.get("errors"):
            first = body["errors"][0]
            return distill(" ".join(str(first.get(k)) for k in ("message", "details") if first.get(k)))
        return distill(body.get("error_description") or body.get("error") or response.reason_phrase)
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        return response.reason_phrase


class AmazonDriver(TokenClient):
    """Talks to LWA for tokens and to the regional SP-API host with `x-amz-access-token`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app: AmazonAppCredentials | None,
        lwa_url: str,
        sp_api_url: str,
        sleep: Sleep,
        policy: RetryPolicy | None = None,
        tokens: TokenCache | None = None,
    ) -> None:
        super().__init__(http, sleep=sleep, policy=policy, tokens=tokens)
        self._app = app
        self._lwa_url = lwa_url
        self._sp_api_url = sp_api_url
        self._limiter = RateLimiter(DEFINITIONS_RATE, DEFINITIONS_BURST, sleep)
        # Schemas are public per product type version, so one cache serves every connection.
        self._schemas: OrderedDict[str, ParsedProductType] = OrderedDict()

    async def check_credentials(self, credentials: AmazonCredentials, settings: AmazonSettings) -> None:
        """Get a token and check the seller takes part in the configured marketplace."""
        self._tokens.drop(self._key(credentials))
        data = await self._get(credentials, settings, "/sellers/v1/marketplaceParticipations", {}, paced=False)
        markets = {
            str((row.get("marketplace") or {}).get("id"))
            for row in data.get("payload") or []
            if (row.get("participation") or {}).get("isParticipating", True)
        }
        if credentials.marketplace_id not in markets:
            raise CredentialsRejected(
                f"{VENDOR} seller {credentials.seller_id} does not take part in marketplace {credentials.marketplace_id}"
            )

    async def fetch_model(self, credentials: AmazonCredentials, settings: AmazonSettings, progress: Progress) -> DataModel:
        """List the product types, then read each one's definition and (uncached) schema."""
        market = {"marketplaceIds": credentials.marketplace_id}
        listing = await self._get(credentials, settings, DEFINITIONS, market)
        wanted = set(settings.product_types)
        types = [t for t in listing.get("productTypes") or [] if not wanted or t.get("name") in wanted]
        await progress(0, len(types))
        merger = AttributeMerger()
        sets: list[AttributeSet] = []
        for done, row in enumerate(types, 1):
            name = str(row["name"])
            definition = await self._get(
                credentials, settings, f"{DEFINITIONS}/{name}", {**market, "requirements": "LISTING", "locale": "DEFAULT"}
            )
            parsed = await self._parsed_schema(definition)
            merger.add(parsed.attributes)
            label = definition.get("displayName") or row.get("displayName") or name
            sets.append(AttributeSet(code=name, labels={"default": str(label)}, attribute_codes=parsed.codes))
            await progress(done, len(types))
        return DataModel(attributes=merger.result(), attribute_sets=tuple(sets))

    async def clean_up(self, credentials: AmazonCredentials, settings: AmazonSettings) -> None:
        """Drop the cached access token; the refresh token is the seller's to revoke in Seller Central."""
        self._tokens.drop(self._key(credentials))

    # --- schemas ---

    async def _parsed_schema(self, definition: Mapping[str, Any]) -> ParsedProductType:
        schema_ref = definition.get("schema") or {}
        checksum = str(schema_ref.get("checksum") or "")
        cached = self._schemas.get(checksum) if checksum else None
        if cached is not None:
            self._schemas.move_to_end(checksum)
            return cached
        link = str((schema_ref.get("link") or {}).get("resource") or "")
        if not link.startswith(("https://", "http://127.", "http://localhost")):
            raise PermanentFailure(f"{VENDOR} gave no usable schema link for {definition.get('productType')}", type="bad_answer")
        # A pre-signed storage link: no access token goes there.
        response = await send_with_retry(
            lambda: self._http.get(link), vendor=VENDOR, policy=self._policy, sleep=self._sleep
        )
        if response.status_code != 200:
            raise unexpected(VENDOR, f"the schema of {definition.get('productType')}", response)
        parsed = parse_product_type(json_body(response, VENDOR), definition.get("propertyGroups") or {})
        if checksum:
            self._schemas[checksum] = parsed
            if len(self._schemas) > SCHEMA_CACHE_SIZE:
                self._schemas.popitem(last=False)
        return parsed

    # --- HTTP ---

    def _app_credentials(self) -> AmazonAppCredentials:
        if self._app is None:
            raise PermanentFailure(f"{VENDOR} app client id and secret are not configured", type="not_configured")
        return self._app

    def _key(self, credentials: AmazonCredentials) -> str:
        app_id = self._app.client_id if self._app else ""
        return fingerprint(app_id, credentials.seller_id, credentials.refresh_token.get_secret_value())

    def _host(self, credentials: AmazonCredentials, settings: AmazonSettings) -> str:
        if self._sp_api_url:
            return self._sp_api_url
        region = settings.region or REGIONS.get(credentials.marketplace_id)
        if region is None:
            raise PermanentFailure(
                f"{VENDOR} marketplace {credentials.marketplace_id} is unknown; set the region in the settings",
                type="not_configured",
            )
        return f"https://sellingpartnerapi-{region}.amazon.com"

    async def _token(self, credentials: AmazonCredentials) -> tuple[str, float]:
        app = self._app_credentials()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token.get_secret_value(),
            "client_id": app.client_id,
            "client_secret": app.client_secret.get_secret_value(),
        }
        response = await send_with_retry(
            lambda: self._http.post(self._lwa_url, data=form), vendor=VENDOR, policy=self._policy, sleep=self._sleep
        )
        if response.status_code == 401:
            # invalid_client: the platform's app credentials are wrong, not the seller's.
            raise PermanentFailure(f"{VENDOR} refused the platform's app client: {_vendor_message(response)}", type="not_configured")
        if response.status_code in (400, 403):
            raise CredentialsRejected(f"{VENDOR} refused the refresh token: {_vendor_message(response)}")
        if response.status_code != 200:
            raise unexpected(VENDOR, "the token request", response, _vendor_message(response))
        data = json_body(response, VENDOR)
        return str(data["access_token"]), float(data.get("expires_in", 3600))

    async def _get(
        self, credentials: AmazonCredentials, settings: AmazonSettings, path: str, params: Mapping[str, Any], paced: bool = True
    ) -> dict[str, Any]:
        key = self._key(credentials)
        url = self._host(credentials, settings) + path

        async def send(token: str) -> httpx.Response:
            if paced:
                await self._limiter.acquire()
            response = await self._http.get(url, params=params, headers={"x-amz-access-token": token})
            # The rate Amazon grants this seller for this operation; pace the next calls by it.
            limit = response.headers.get("x-amzn-RateLimit-Limit")
            if paced and limit:
                try:
                    self._limiter.rate = max(0.01, float(limit))
                except ValueError:
                    pass
            return response

        # 403 on a cached token is usually an expired one: renew once before blaming the seller.
        response = await self._send_with_token(key, lambda: self._token(credentials), send, vendor=VENDOR,
                                               renew_on=(401, 403))
        detail = _vendor_message(response)
        data: dict[str, Any] = judged_json(response, VENDOR, f"GET {path}", f"{VENDOR} denied access: {detail}",
                                           detail)
        return data
