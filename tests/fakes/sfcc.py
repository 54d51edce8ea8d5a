"""Fake Salesforce B2C Commerce OCAPI: BM user grant, Data API attribute definitions and groups, faults."""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import FakeMarketplace, form_fields

CLIENT_ID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
CLIENT_PASSWORD = "fake-client-password"
BM_USER = "integration@example.com"
BM_PASSWORD = "fake-bm-access-key"
GRANT = "urn:demandware:params:oauth:grant-type:client-id:dwsid:dwsecuretoken"
VERSION = "24_5"


def _fault(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"_v": VERSION.replace("_", "."), "fault": {"type": kind, "message": message, "arguments": {}}}, status)


def definition(
    aid: str,
    name: dict[str, str],
    value_type: str = "string",
    mandatory: bool = False,
    system: bool = True,
    values: list[tuple[str, str]] | None = None,
    multi: bool = False,
) -> dict[str, Any]:
    """An attribute definition as the Data API returns it with select=(**)."""
    row: dict[str, Any] = {
        "_type": "object_attribute_definition",
        "id": aid,
        "display_name": name,
        "value_type": value_type,
        "mandatory": mandatory,
        "localizable": False,
        "multi_value_type": multi,
        "searchable": False,
        "system": system,
        "visible": True,
        "key": aid == "ID",
    }
    if values is not None:
        row["value_definitions"] = [{"value": v, "display_value": {"default": d}} for v, d in values]
    return row


def small_model() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Four definitions (one custom enum) and two groups."""
    defs = [
        definition("ID", {"default": "ID"}, mandatory=True),
        definition("name", {"default": "Name", "de": "Name"}, "text"),
        definition("color", {"default": "Color"}, "enum_of_string", system=False,
                   values=[("red", "Red"), ("blue", "Blue")], multi=True),
        definition("internalNote", {"default": "Internal note"}, "string", system=False),
    ]
    groups = [
        {"id": "general", "display_name": {"default": "General"}, "attribute_definitions": [{"id": "ID"}, {"id": "name"}]},
        {"id": "appearance", "display_name": {"default": "Appearance"},
         "attribute_definitions": [{"id": "color"}, {"id": "internalNote"}]},
    ]
    return defs, groups


class FakeSfcc(FakeMarketplace):
    """Serves /dw/oauth2/access_token and the Data API's Product definitions with start/count/next paging."""

    name = "sfcc"

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.definitions: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        super().__init__()
        self.load_small_model()

    def reset(self) -> None:
        super().reset()
        self.tokens.clear()
        self.load_small_model()

    def load_small_model(self) -> None:
        self.definitions, self.groups = small_model()

    def load_large_model(self, attributes: int = 10_000, sets: int = 2_000) -> None:
        """`attributes` definitions (every tenth an enum) and `sets` groups of 5."""
        self.definitions = [
            definition(f"attr{i}", {"default": f"Attribute {i}"}, "enum_of_int" if i % 10 == 0 else "string",
                       system=False, values=[(str(j), f"V{j}") for j in range(3)] if i % 10 == 0 else None)
            for i in range(attributes)
        ]
        self.groups = [
            {"id": f"group{s}", "display_name": {"default": f"Group {s}"},
             "attribute_definitions": [{"id": f"attr{(s * 5 + k) % attributes}"} for k in range(5)]}
            for s in range(sets)
        ]

    def throttled_response(self) -> Response:
        return _fault(429, "QuotaExceededException", "The request quota was exceeded.")

    def failed_response(self) -> Response:
        return _fault(503, "ServiceUnavailableException", "The service is shedding load.")

    def add_routes(self, app: FastAPI) -> None:
        @app.post("/dw/oauth2/access_token")
        async def token(request: Request) -> Response:
            form = await form_fields(request)
            expected = base64.b64encode(f"{BM_USER}:{BM_PASSWORD}:{CLIENT_PASSWORD}".encode()).decode()
            ok = (request.query_params.get("client_id") == CLIENT_ID
                  and request.headers.get("Authorization") == f"Basic {expected}" and form.get("grant_type") == GRANT)
            if not ok or self.faults.reject_credentials:
                return JSONResponse({"error": "unauthorized_client",
                                     "error_description": "Client authentication failed: invalid user or password"}, 401)
            value = secrets.token_urlsafe(24)
            self.tokens.add(value)
            return JSONResponse({"access_token": value, "expires_in": 899, "token_type": "Bearer"})

        base = f"/s/-/dw/data/v{VERSION}/system_object_definitions/Product"

        @app.get(base + "/attribute_definitions")
        async def definitions(request: Request) -> Response:
            return self._list(request, self.definitions, "object_attribute_definitions")

        @app.get(base + "/attribute_groups")
        async def groups(request: Request) -> Response:
            return self._list(request, self.groups, "object_attribute_groups")

    def _list(self, request: Request, rows: list[dict[str, Any]], kind: str) -> Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return _fault(401, "InvalidAccessTokenException", "The request is unauthorized, the access token is invalid.")
        start = int(request.query_params.get("start", 0))
        count = int(request.query_params.get("count", 25))
        if count > 200:
            return _fault(400, "InvalidParameterException", "The value of 'count' must be at most 200.")
        data = rows[start : start + count]
        body: dict[str, Any] = {"_v": "24.5", "_type": kind, "count": len(data), "start": start, "total": len(rows), "data": data}
        if start + count < len(rows):
            query = dict(request.query_params) | {"start": str(start + count)}
            body["next"] = f"{request.base_url}{request.url.path.lstrip('/')}?{urlencode(query)}"
        return JSONResponse(body)
