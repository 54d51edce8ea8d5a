"""Fake Shopify Admin GraphQL: access-token auth, cost extensions, THROTTLED (200 or 429), taxonomy.

It answers the driver's named operations (CheckShop, MetafieldDefinitions, TaxonomyCategories,
TaxonomyValues) by operation name and variables, with the selections those documents ask for.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import FakeMarketplace

SHOP = "fake-shop.myshopify.com"
TOKEN = "shpat_fake0000000000000000000000000"
COSTS = {"CheckShop": 1, "MetafieldDefinitions": 252, "TaxonomyCategories": 840, "TaxonomyValues": 808}
MAX_AVAILABLE, RESTORE_RATE = 2000.0, 100.0


def metafield(i: int, owner: str, namespace: str, key: str, name: str, type_name: str = "single_line_text_field",
              choices: list[str] | None = None) -> dict[str, Any]:
    """A metafield definition node."""
    category = "TEXT" if "text" in type_name else "OTHER"
    validations = [{"name": "choices", "value": json.dumps(choices)}] if choices else []
    return {"id": f"gid://shopify/MetafieldDefinition/{i}", "name": name, "namespace": namespace, "key": key,
            "description": None, "ownerType": owner, "type": {"name": type_name, "category": category},
            "validations": validations}


def small_model() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Three metafield definitions, a vertical with one subcategory, two category attributes."""
    metafields = [
        metafield(1, "PRODUCT", "custom", "material", "Material", "list.single_line_text_field", ["Cotton", "Wool"]),
        metafield(2, "PRODUCT", "custom", "care", "Care guide", "rich_text_field"),
        metafield(3, "PRODUCTVARIANT", "custom", "ean_note", "EAN note", "number_integer"),
    ]
    color = "gid://shopify/TaxonomyChoiceListAttribute/1"
    width = "gid://shopify/TaxonomyMeasurementAttribute/2"
    attrs = {
        color: {"__typename": "TaxonomyChoiceListAttribute", "id": color, "name": "Color",
                "values": [{"id": "gid://shopify/TaxonomyValue/1", "name": "Red"}]},
        width: {"__typename": "TaxonomyMeasurementAttribute", "id": width, "name": "Width"},
    }
    categories = [
        {"id": "gid://shopify/TaxonomyCategory/aa", "name": "Apparel", "fullName": "Apparel & Accessories",
         "isLeaf": False, "parent": None, "attributes": [color]},
        {"id": "gid://shopify/TaxonomyCategory/aa-1", "name": "Clothing", "fullName": "Apparel & Accessories > Clothing",
         "isLeaf": True, "parent": "gid://shopify/TaxonomyCategory/aa", "attributes": [color, width]},
    ]
    return metafields, categories, attrs


class FakeShopify(FakeMarketplace):
    """Serves POST /{shop}/admin/api/{version}/graphql.json."""

    name = "shopify"

    def __init__(self) -> None:
        self.metafields: list[dict[str, Any]] = []
        self.categories: list[dict[str, Any]] = []
        self.taxonomy_attributes: dict[str, dict[str, Any]] = {}
        self.throttle_status = 200  # status of THROTTLED answers: Shopify uses both 200 and 429
        self.available = MAX_AVAILABLE  # reported as currentlyAvailable after each query
        self.graphql_error: str | None = None
        super().__init__()
        self.load_small_model()

    def reset(self) -> None:
        super().reset()
        self.throttle_status, self.available, self.graphql_error = 200, MAX_AVAILABLE, None
        self.load_small_model()

    def load_small_model(self) -> None:
        self.metafields, self.categories, self.taxonomy_attributes = small_model()

    def load_large_model(self, attributes: int = 10_000, sets: int = 2_000) -> None:
        """200 choice-list attributes, the rest metafields; 2 owner sets + 2 verticals + subcategories."""
        pool = 200
        half = (attributes - pool) // 2
        self.metafields = [metafield(i, "PRODUCT" if i < half else "PRODUCTVARIANT", "custom", f"f{i}", f"Field {i}")
                           for i in range(attributes - pool)]
        self.taxonomy_attributes = {
            f"gid://shopify/TaxonomyChoiceListAttribute/{i}": {
                "__typename": "TaxonomyChoiceListAttribute", "id": f"gid://shopify/TaxonomyChoiceListAttribute/{i}",
                "name": f"Attribute {i}", "values": [{"id": f"gid://shopify/TaxonomyValue/{i}-{j}", "name": f"V{j}"} for j in range(3)]}
            for i in range(pool)
        }
        ids = list(self.taxonomy_attributes)
        cats = sets - 2
        self.categories = [{"id": f"gid://shopify/TaxonomyCategory/v{v}", "name": f"Vertical {v}", "fullName": f"Vertical {v}",
                            "isLeaf": False, "parent": None, "attributes": ids[v * 5 : v * 5 + 5]} for v in range(2)]
        self.categories += [{"id": f"gid://shopify/TaxonomyCategory/v{c % 2}-{c}", "name": f"Category {c}",
                             "fullName": f"Vertical {c % 2} > Category {c}", "isLeaf": True,
                             "parent": f"gid://shopify/TaxonomyCategory/v{c % 2}",
                             "attributes": [ids[(c * 5 + k) % pool] for k in range(5)]} for c in range(cats - 2)]

    def _cost(self, operation: str, available: float | None = None) -> dict[str, Any]:
        requested = COSTS.get(operation, 10)
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested if available is None else None,
                         "throttleStatus": {"maximumAvailable": MAX_AVAILABLE,
                                            "currentlyAvailable": self.available if available is None else available,
                                            "restoreRate": RESTORE_RATE}}}

    def throttled_response(self) -> Response:
        # The operation is unknown here; the throttle answer is computed for a MetafieldDefinitions query.
        return JSONResponse({"errors": [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": self._cost("MetafieldDefinitions", available=52.0)}, self.throttle_status)

    def failed_response(self) -> Response:
        return JSONResponse({"errors": "Service Unavailable"}, 503)

    def add_routes(self, app: FastAPI) -> None:
        @app.post("/{shop}/admin/api/{version}/graphql.json")
        async def graphql(shop: str, version: str, request: Request) -> Response:
            if shop != SHOP:
                return JSONResponse({"errors": "Not Found"}, 404)
            if request.headers.get("X-Shopify-Access-Token") != TOKEN or self.faults.reject_credentials:
                return JSONResponse({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401)
            body = await request.json()
            match = re.match(r"\s*query\s+(\w+)", body.get("query", ""))
            operation = match.group(1) if match else ""
            if self.graphql_error:
                return JSONResponse({"errors": [{"message": self.graphql_error, "extensions": {"code": "undefinedField"}}]})
            data = self._resolve(operation, body.get("variables") or {})
            return JSONResponse({"data": data, "extensions": self._cost(operation)}, headers={"X-Shopify-Api-Version": version})

    def _resolve(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        if operation == "CheckShop":
            return {"shop": {"id": "gid://shopify/Shop/1", "name": "Fake Shop", "myshopifyDomain": SHOP}}
        if operation == "MetafieldDefinitions":
            rows = [m for m in self.metafields if m["ownerType"] == variables["ownerType"]]
            return {"metafieldDefinitions": self._connection(rows, 250, variables.get("after"))}
        if operation == "TaxonomyCategories":
            scope = variables.get("descendantsOf")
            rows = [c for c in self.categories if (c["parent"] == scope if scope else c["parent"] is None)]
            page = self._connection(rows, 20, variables.get("after"))
            page["nodes"] = [{k: v for k, v in c.items() if k not in ("parent", "attributes")} | {"attributes": {"nodes": [
                {k: v for k, v in self.taxonomy_attributes[a].items() if k != "values"} for a in c["attributes"][:40]]}}
                for c in page["nodes"]]
            return {"taxonomy": {"categories": page}}
        if operation == "TaxonomyValues":
            nodes = []
            for gid in variables["ids"]:
                attr = self.taxonomy_attributes.get(gid)
                nodes.append(None if attr is None else {"id": gid, "name": attr["name"],
                                                        "values": {"nodes": attr.get("values", [])[:100]}})
            return {"nodes": nodes}
        return {}

    @staticmethod
    def _connection(rows: list[dict[str, Any]], first: int, after: str | None) -> dict[str, Any]:
        start = int(after) if after else 0
        end = start + first
        return {"nodes": rows[start:end], "pageInfo": {"hasNextPage": end < len(rows), "endCursor": str(end)}}
