"""Fake Shopware 6 Admin API: client-credentials tokens that expire, property groups, custom field sets."""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import FakeMarketplace

CLIENT_ID = "SWIAFAKEACCESSKEY"
CLIENT_SECRET = "fake-shopware-secret"


def _error(status: int, code: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "status": str(status), "title": title, "detail": detail}]}, status)


def property_group(gid: str, name: str, options: list[tuple[str, str]], position: int = 1) -> dict[str, Any]:
    """A property group as the Admin API returns it, options included."""
    return {
        "id": gid,
        "name": name,
        "description": None,
        "displayType": "text",
        "sortingType": "alphanumeric",
        "filterable": True,
        "visibleOnProductDetailPage": True,
        "position": position,
        "options": [
            {"id": oid, "groupId": gid, "name": oname, "position": i, "colorHexCode": None, "mediaId": None}
            for i, (oid, oname) in enumerate(options, 1)
        ],
    }


def custom_field(fid: str, name: str, ftype: str, config: dict[str, Any], active: bool = True) -> dict[str, Any]:
    """A custom field of a custom field set."""
    return {"id": fid, "name": name, "type": ftype, "config": config, "active": active}


def custom_field_set(
    sid: str, name: str, label: dict[str, str], fields: list[dict[str, Any]], entity: str = "product"
) -> dict[str, Any]:
    """A custom field set related to `entity`, with its fields."""
    return {
        "id": sid,
        "name": name,
        "config": {"label": label},
        "active": True,
        "global": False,
        "position": 1,
        "customFields": fields,
        "relations": [{"entityName": entity}],
    }


def small_model() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two property groups and two custom field sets (one not for products)."""
    groups = [
        property_group("a" * 32, "Color", [("c1" * 16, "Red"), ("c2" * 16, "Blue")]),
        property_group("b" * 32, "Size", [("s1" * 16, "S")]),
    ]
    sets = [
        custom_field_set(
            "d" * 32,
            "shoe_specs",
            {"en-GB": "Shoe specs", "de-DE": "Schuhdaten"},
            [
                custom_field("e" * 32, "shoe_heel", "int", {"label": {"en-GB": "Heel height"}}),
                custom_field(
                    "f" * 32,
                    "shoe_material",
                    "select",
                    {
                        "label": {"en-GB": "Material"},
                        "componentName": "sw-multi-select",
                        "options": [
                            {"value": "leather", "label": {"en-GB": "Leather", "de-DE": "Leder"}},
                            {"value": "textile", "label": {"en-GB": "Textile"}},
                        ],
                    },
                ),
                custom_field("0" * 32, "shoe_new", "bool", {"label": {"en-GB": "New"}}),
                custom_field("1" * 32, "shoe_old", "text", {}, active=False),
            ],
        ),
        custom_field_set("2" * 32, "customer_extras", {"en-GB": "Customer"}, [], entity="customer"),
    ]
    return groups, sets


class FakeShopware6(FakeMarketplace):
    """Serves /api/oauth/token and /api/search/{property-group,custom-field-set} like Shopware 6.6."""

    name = "shopware6"

    def __init__(self) -> None:
        self.token_ttl = 600
        self.tokens: dict[str, float] = {}
        # Client secrets accepted besides CLIENT_SECRET (e.g. unique markers of a canary test).
        self.client_secrets: set[str] = set()
        self.property_groups: list[dict[str, Any]] = []
        self.custom_field_sets: list[dict[str, Any]] = []
        super().__init__()
        self.load_small_model()

    def reset(self) -> None:
        super().reset()
        self.token_ttl = 600
        self.tokens.clear()
        self.load_small_model()

    def load_small_model(self) -> None:
        self.property_groups, self.custom_field_sets = small_model()

    def load_large_model(self, attributes: int = 10_000, sets: int = 2_000) -> None:
        """`attributes` normalised attributes (a tenth property groups) in `sets` product field sets."""
        groups = attributes // 10
        self.property_groups = [
            property_group(f"{i:032x}", f"Group {i}", [(f"{i:016x}{j:016x}", f"Value {j}") for j in range(3)])
            for i in range(groups)
        ]
        fields = attributes - groups
        per_set, extra = divmod(fields, sets)
        self.custom_field_sets, n = [], 0
        for s in range(sets):
            count = per_set + (1 if s < extra else 0)
            fs = [custom_field(f"{n + k:032x}", f"field_{n + k}", "text", {"label": {"en-GB": f"Field {n + k}"}})
                  for k in range(count)]
            n += count
            self.custom_field_sets.append(custom_field_set(f"{s:032x}", f"set_{s}", {"en-GB": f"Set {s}"}, fs))

    def expire_tokens(self) -> None:
        """Make every issued token invalid, as if its lifetime had passed."""
        self.tokens.clear()

    def throttled_response(self) -> Response:
        return _error(429, "0", "Too Many Requests", "Too many requests, retry later.")

    def failed_response(self) -> Response:
        return _error(503, "0", "Service Unavailable", "The shop is in maintenance mode.")

    def _authorised(self, request: Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return self.tokens.get(token, 0) > time.monotonic()

    def add_routes(self, app: FastAPI) -> None:
        @app.post("/api/oauth/token")
        async def token(request: Request) -> Response:
            body = await request.json()
            if body.get("grant_type") != "client_credentials":
                return _error(400, "1", "Bad Request", "The authorization grant type is not supported.")
            secret = body.get("client_secret")
            ok = body.get("client_id") == CLIENT_ID and (secret == CLIENT_SECRET or secret in self.client_secrets)
            if not ok or self.faults.reject_credentials:
                return _error(401, "4", "Unauthorized", "Client authentication failed")
            value = secrets.token_urlsafe(24)
            self.tokens[value] = time.monotonic() + self.token_ttl
            return JSONResponse({"token_type": "Bearer", "expires_in": self.token_ttl, "access_token": value})

        @app.post("/api/search/property-group")
        async def property_groups(request: Request) -> Response:
            if not self._authorised(request):
                return _error(401, "9", "Unauthorized", "The resource owner or authorization server denied the request.")
            body = await request.json()
            with_options = "options" in (body.get("associations") or {})
            rows = self._page(self.property_groups, body)
            data = rows if with_options else [{k: v for k, v in r.items() if k != "options"} for r in rows]
            return JSONResponse({"total": len(self.property_groups), "data": data, "aggregations": []})

        @app.post("/api/search/custom-field-set")
        async def custom_field_sets(request: Request) -> Response:
            if not self._authorised(request):
                return _error(401, "9", "Unauthorized", "The resource owner or authorization server denied the request.")
            body = await request.json()
            rows = self.custom_field_sets
            for f in body.get("filter", []):
                if f.get("type") == "equals" and f.get("field") == "relations.entityName":
                    rows = [r for r in rows if any(x["entityName"] == f["value"] for x in r["relations"])]
            return JSONResponse({"total": len(rows), "data": self._page(rows, body), "aggregations": []})

    @staticmethod
    def _page(rows: list[dict[str, Any]], body: dict[str, Any]) -> list[dict[str, Any]]:
        page, limit = int(body.get("page", 1)), int(body.get("limit", 25))
        return rows[(page - 1) * limit : page * limit]
