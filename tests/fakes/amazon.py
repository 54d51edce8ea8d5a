"""Fake Amazon LWA + SP-API: refresh-token grant, participations, product type definitions and schemas."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import FakeMarketplace, form_fields

CLIENT_ID = "amzn1.application-oa2-client.fake"
CLIENT_SECRET = "fake-lwa-client-secret"
REFRESH_TOKEN = "Atzr|fake-refresh-token"
SELLER_ID = "A1FAKESELLER"
MARKETPLACE_ID = "A1PA6795UKMFR9"
RATE_LIMIT = "5.0"


def prop(
    title: str,
    value_type: str = "string",
    enum: list[str] | None = None,
    enum_names: list[str] | None = None,
    max_items: int | None = 1,
) -> dict[str, Any]:
    """A product type property in Amazon's shape: an array of {value, marketplace_id} objects."""
    value: dict[str, Any] = {"title": title, "type": value_type}
    if enum is not None:
        value["enum"] = enum
        value["enumNames"] = enum_names or enum
    items = {"type": "object", "required": ["value"],
             "properties": {"value": value, "marketplace_id": {"type": "string"}}}
    p: dict[str, Any] = {"title": title, "description": f"Provide the {title.lower()}", "type": "array",
                         "minItems": 1, "items": items}
    if max_items is not None:
        p["maxItems"] = max_items
    return p


def product_type(name: str, display: str, properties: dict[str, dict[str, Any]], required: list[str],
                 groups: dict[str, list[str]]) -> dict[str, Any]:
    """A product type of the fake: its schema properties, required names and property groups."""
    return {"name": name, "displayName": display, "properties": properties, "required": required,
            "groups": {g: {"title": g.replace("_", " ").title(), "propertyNames": names} for g, names in groups.items()}}


def small_model() -> list[dict[str, Any]]:
    """Two product types sharing `item_name`; SHIRT has a colour enum and a complex price."""
    complex_price = {"title": "List Price", "type": "array", "items": {"type": "object", "properties": {
        "currency": {"type": "string"}, "value_with_tax": {"type": "number"}}}}
    return [
        product_type("SHIRT", "Shirt", {
            "item_name": prop("Item Name"),
            "color": prop("Color", enum=["red", "blue"], enum_names=["Red", "Blue"]),
            "bullet_point": prop("Bullet Point", max_items=5),
            "list_price": complex_price,
        }, ["item_name", "color"], {"offer": ["list_price"], "product_identity": ["item_name", "color"]}),
        product_type("LUGGAGE", "Luggage", {
            "item_name": prop("Item Name"),
            "capacity": prop("Capacity", "number"),
        }, ["item_name"], {"product_details": ["capacity", "item_name"]}),
    ]


class FakeAmazon(FakeMarketplace):
    """Serves /auth/o2/token (LWA) and the SP-API routes on one host; schemas at /schemas/{type}.json."""

    name = "amazon"

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.product_types: list[dict[str, Any]] = []
        super().__init__()
        self.load_small_model()

    def reset(self) -> None:
        super().reset()
        self.tokens.clear()
        self.load_small_model()

    def load_small_model(self) -> None:
        self.product_types = small_model()

    def load_large_model(self, attributes: int = 10_000, sets: int = 2_000) -> None:
        """`sets` product types with attributes/sets properties each (plus a shared required item_name)."""
        per = attributes // sets
        self.product_types = [
            product_type(f"TYPE_{s}", f"Type {s}",
                         {"item_name": prop("Item Name")} | {f"attr_{s * per + k}": prop(f"Attribute {s * per + k}")
                                                            for k in range(per - (1 if s == 0 else 0))},
                         ["item_name"], {})
            for s in range(sets)
        ]

    def throttled_response(self) -> Response:
        return JSONResponse({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]},
                            429, headers={"x-amzn-RateLimit-Limit": RATE_LIMIT})

    def failed_response(self) -> Response:
        return JSONResponse({"errors": [{"code": "InternalFailure", "message": "We encountered an internal error."}]}, 503)

    def _denied(self, request: Request) -> Response | None:
        if request.headers.get("x-amz-access-token") not in self.tokens:
            return JSONResponse({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                                             "details": "The access token you provided is revoked, malformed or invalid."}]}, 403)
        return None

    def _find(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.product_types if t["name"] == name), None)

    @staticmethod
    def schema(pt: dict[str, Any]) -> dict[str, Any]:
        """The JSON Schema document of a product type."""
        return {"$schema": "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1",
                "type": "object", "required": pt["required"], "properties": pt["properties"],
                "allOf": [{"if": {"required": ["color"]}, "then": {"required": ["bullet_point"]}}]}

    def add_routes(self, app: FastAPI) -> None:
        @app.post("/auth/o2/token")
        async def token(request: Request) -> Response:
            form = await form_fields(request)
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN \
                    or self.faults.reject_credentials:
                return JSONResponse({"error": "invalid_grant",
                                     "error_description": "The request has an invalid grant parameter : refresh_token"}, 400)
            value = "Atza|" + secrets.token_urlsafe(24)
            self.tokens.add(value)
            return JSONResponse({"access_token": value, "token_type": "bearer", "expires_in": 3600,
                                 "refresh_token": REFRESH_TOKEN})

        @app.get("/sellers/v1/marketplaceParticipations")
        async def participations(request: Request) -> Response:
            if (denied := self._denied(request)) is not None:
                return denied
            return JSONResponse({"payload": [{"marketplace": {"id": MARKETPLACE_ID, "name": "Amazon.de", "countryCode": "DE",
                                                              "defaultCurrencyCode": "EUR", "defaultLanguageCode": "de_DE"},
                                              "participation": {"isParticipating": True, "hasSuspendedListings": False}}]})

        @app.get("/definitions/2020-09-01/productTypes")
        async def product_types(request: Request) -> Response:
            if (denied := self._denied(request)) is not None:
                return denied
            market = request.query_params.get("marketplaceIds")
            rows = [{"name": t["name"], "displayName": t["displayName"], "marketplaceIds": [market]} for t in self.product_types]
            return JSONResponse({"productTypes": rows, "productTypeVersion": "UHqSqmb4FNUk="},
                                headers={"x-amzn-RateLimit-Limit": RATE_LIMIT})

        @app.get("/definitions/2020-09-01/productTypes/{name}")
        async def definition(name: str, request: Request) -> Response:
            if (denied := self._denied(request)) is not None:
                return denied
            pt = self._find(name)
            if pt is None:
                return JSONResponse({"errors": [{"code": "NotFound", "message": f"Product type {name} not found"}]}, 404)
            checksum = hashlib.md5(json.dumps(self.schema(pt), sort_keys=True).encode()).hexdigest()
            return JSONResponse({
                "metaSchema": {"link": {"resource": f"{request.base_url}schemas/meta.json", "verb": "GET"}, "checksum": "meta"},
                "schema": {"link": {"resource": f"{request.base_url}schemas/{name}.json?sum={checksum}", "verb": "GET"},
                           "checksum": checksum},
                "requirements": request.query_params.get("requirements", "LISTING"), "requirementsEnforced": "ENFORCED",
                "propertyGroups": pt["groups"], "locale": "DEFAULT", "marketplaceIds": [MARKETPLACE_ID],
                "productType": name, "displayName": pt["displayName"],
                "productTypeVersion": {"version": "U8L7bVd0=", "latest": True, "releaseCandidate": False},
            }, headers={"x-amzn-RateLimit-Limit": RATE_LIMIT})

        @app.get("/schemas/{name}.json")
        async def schema(name: str) -> Response:
            # A pre-signed storage link in reality: no access token wanted.
            pt = self._find(name)
            return JSONResponse(self.schema(pt)) if pt else Response("<Error>NoSuchKey</Error>", 404)
