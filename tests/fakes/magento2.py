"""Fake Magento 2 REST API: admin tokens (2FA refusal), attributes and attribute sets, repeated last page."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import FakeMarketplace

USERNAME = "admin"
PASSWORD = "fake-magento-password"
BAD_LOGIN = (
    "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later."
)


def attribute(
    aid: int,
    code: str,
    frontend_input: str = "text",
    label: str | None = None,
    options: list[tuple[str, str]] | None = None,
    required: bool = False,
    store_labels: dict[int, str] | None = None,
    backend_type: str = "varchar",
) -> dict[str, Any]:
    """An attribute as /V1/products/attributes returns it (select options begin with Magento's blank one)."""
    opts = [{"label": " ", "value": ""}] + [{"label": lb, "value": v} for v, lb in options] if options else []
    return {
        "attribute_id": aid,
        "attribute_code": code,
        "frontend_input": frontend_input,
        "backend_type": backend_type,
        "is_required": required,
        "is_user_defined": True,
        "is_unique": False,
        "scope": "global",
        "default_frontend_label": label or code,
        "frontend_labels": [{"store_id": s, "label": lb} for s, lb in (store_labels or {}).items()],
        "options": opts,
        "apply_to": [],
    }


def small_model() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Four attributes in two sets."""
    attrs = [
        attribute(73, "name", label="Product Name", required=True, store_labels={1: "Produktname"}),
        attribute(93, "color", "select", "Color", [("49", "Black"), ("50", "Blue")]),
        attribute(77, "price", "price", "Price", required=True, backend_type="decimal"),
        attribute(140, "activity", "multiselect", "Activity", [("1", "Yoga")], backend_type="text"),
    ]
    sets = [
        {"attribute_set_id": 4, "attribute_set_name": "Default", "codes": ["name", "price"]},
        {"attribute_set_id": 9, "attribute_set_name": "Gear", "codes": ["name", "color", "price", "activity"]},
    ]
    return attrs, sets


class FakeMagento2(FakeMarketplace):
    """Serves /rest/V1/... like Magento 2.4: bare-string tokens, total_count paging that repeats the last page."""

    name = "magento2"

    def __init__(self) -> None:
        self.two_factor = False
        self.acl_denied = False
        self.tokens: set[str] = set()
        self.attributes: list[dict[str, Any]] = []
        self.sets: list[dict[str, Any]] = []
        super().__init__()
        self.load_small_model()

    def reset(self) -> None:
        super().reset()
        self.two_factor = self.acl_denied = False
        self.tokens.clear()
        self.load_small_model()

    def load_small_model(self) -> None:
        self.attributes, self.sets = small_model()

    def load_large_model(self, attributes: int = 10_000, sets: int = 2_000) -> None:
        """`attributes` attributes, every tenth a select; `sets` sets of 5 attributes each plus `name`."""
        self.attributes = [
            attribute(i, f"attr_{i}", "select" if i % 10 == 0 else "text", f"Attribute {i}",
                      [(str(i * 10 + j), f"Option {j}") for j in range(3)] if i % 10 == 0 else None)
            for i in range(attributes)
        ]
        self.sets = [
            {"attribute_set_id": s + 100, "attribute_set_name": f"Set {s}",
             "codes": ["attr_0"] + [f"attr_{(s * 5 + k) % attributes}" for k in range(5)]}
            for s in range(sets)
        ]

    def failed_response(self) -> Response:
        return JSONResponse({"message": "Service temporarily unavailable"}, 503)

    def throttled_response(self) -> Response:
        # Magento itself has no rate limit; a CDN in front answers like this.
        return Response("<html><body>429 Too Many Requests</body></html>", 429, media_type="text/html")

    def _denied(self, request: Request) -> Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens or self.acl_denied:
            return JSONResponse(
                {"message": "The consumer isn't authorized to access %resources.",
                 "parameters": {"resources": "Magento_Catalog::attributes_attributes"}},
                401,
            )
        return None

    def _by_code(self) -> dict[str, dict[str, Any]]:
        # Rebuilt only when the attribute list changed: 2,000 set requests must not each scan 10,000 rows.
        stamp = (id(self.attributes), len(self.attributes))
        if getattr(self, "_index_stamp", None) != stamp:
            self._index = {a["attribute_code"]: a for a in self.attributes}
            self._index_stamp = stamp
        return self._index

    @staticmethod
    def _page(rows: list[Any], request: Request) -> list[Any]:
        size = int(request.query_params.get("searchCriteria[pageSize]", 20))
        page = int(request.query_params.get("searchCriteria[currentPage]", 1))
        last = max(1, -(-len(rows) // size))
        # The trap: past the end Magento answers the last page again instead of an empty one.
        page = min(page, last)
        return rows[(page - 1) * size : page * size]

    def add_routes(self, app: FastAPI) -> None:
        @app.post("/rest/V1/integration/admin/token")
        async def token(request: Request) -> Response:
            body = await request.json()
            if body.get("username") != USERNAME or body.get("password") != PASSWORD or self.faults.reject_credentials:
                return JSONResponse({"message": BAD_LOGIN}, 401)
            if self.two_factor:
                return JSONResponse(
                    {"message": "Please use the 2fa provider-specific endpoints to obtain a token.",
                     "parameters": {"active_providers": ["google"]}},
                    401,
                )
            value = secrets.token_hex(16)
            self.tokens.add(value)
            return JSONResponse(value)

        @app.get("/rest/V1/products/attributes")
        async def attributes(request: Request) -> Response:
            if (denied := self._denied(request)) is not None:
                return denied
            return JSONResponse({"items": self._page(self.attributes, request), "search_criteria": {},
                                 "total_count": len(self.attributes)})

        @app.get("/rest/V1/products/attribute-sets/sets/list")
        async def sets(request: Request) -> Response:
            if (denied := self._denied(request)) is not None:
                return denied
            items = [{"attribute_set_id": s["attribute_set_id"], "attribute_set_name": s["attribute_set_name"],
                      "sort_order": 0, "entity_type_id": 4} for s in self._page(self.sets, request)]
            return JSONResponse({"items": items, "search_criteria": {}, "total_count": len(self.sets)})

        @app.get("/rest/V1/products/attribute-sets/{set_id}/attributes")
        async def set_attributes(set_id: int, request: Request) -> Response:
            if (denied := self._denied(request)) is not None:
                return denied
            by_code = self._by_code()
            for s in self.sets:
                if s["attribute_set_id"] == set_id:
                    return JSONResponse([by_code[c] for c in s["codes"] if c in by_code])
            return JSONResponse({"message": f"No such entity with attributeSetId = {set_id}"}, 404)
