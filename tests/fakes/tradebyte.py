"""Fake Tradebyte TB.One REST: HTTP Basic, HNR in the path, TB.Cat XML product export (full or delta)."""

from __future__ import annotations

import base64
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fastapi import FastAPI, Request, Response

from tests.fakes.common import FakeMarketplace

HNR = "4711"
CHANNEL = "zalando_de"
USERNAME = "api-user"
PASSWORD = "fake-tradebyte-password"


def product(nr: str, components: list[tuple[str, str, str]], tags: list[tuple[str, list[str]]],
            variant_fields: list[tuple[str, str]], articles: list[list[tuple[str, str]]]) -> dict[str, Any]:
    """A product: components (key, name, text), tags (key, value keys), variant fields, articles' variant values."""
    return {"nr": nr, "components": components, "tags": tags, "variant_fields": variant_fields, "articles": articles}


def small_model() -> list[dict[str, Any]]:
    """Two products of two product types."""
    return [
        product("P1", [("material", "Material", "Baumwolle")], [("product_type", ["shirt"]), ("season", ["ss24", "aw24"])],
                [("color", "Farbe")], [[("color", "rot")], [("color", "blau")]]),
        product("P2", [("material", "Material", "Leder"), ("care", "Pflege", "Nicht waschen")], [("product_type", ["shoe"])],
                [("size", "Größe")], [[("size", "42")]]),
    ]


def _xml(p: dict[str, Any]) -> str:
    comps = "".join(f'<P_COMPONENT identifier="text" key={quoteattr(k)} name={quoteattr(n)}>'
                    f'<VALUE xml:lang="de">{escape(v)}</VALUE></P_COMPONENT>' for k, n, v in p["components"])
    tags = "".join(f'<P_TAG key={quoteattr(k)}><VALUES>{"".join(f"<VALUE key={quoteattr(v)}/>" for v in vs)}</VALUES></P_TAG>'
                   for k, vs in p["tags"])
    fields = "".join(f'<P_VARIANTFIELD key={quoteattr(k)}>{escape(label)}</P_VARIANTFIELD>' for k, label in p["variant_fields"])
    articles = "".join(
        f'<ARTICLE><A_NR>{escape(p["nr"])}-{i}</A_NR><A_VARIANTDATA>'
        + "".join(f'<A_VARIANT identifier="name" key={quoteattr(k)}><VALUE xml:lang="de">{escape(v)}</VALUE></A_VARIANT>' for k, v in a)
        + "</A_VARIANTDATA></ARTICLE>"
        for i, a in enumerate(p["articles"])
    )
    return (f"<PRODUCT><P_NR>{escape(p['nr'])}</P_NR><P_COMPONENTDATA>{comps}</P_COMPONENTDATA><P_TAGS>{tags}</P_TAGS>"
            f"<P_VARIANTFIELDS>{fields}</P_VARIANTFIELDS><ARTICLEDATA>{articles}</ARTICLEDATA></PRODUCT>")


def _error(status: int, message: str) -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><ERROR><CODE>{status}</CODE><MESSAGE>{escape(message)}</MESSAGE></ERROR>',
                    status, media_type="application/xml")


class FakeTradebyte(FakeMarketplace):
    """Serves GET /{hnr}/products/?channel=... as TB.Cat XML; a `delta` parameter yields an empty export."""

    name = "tradebyte"

    def __init__(self) -> None:
        self.products: list[dict[str, Any]] = []
        self.broken_xml = False  # cut the export off mid-element
        super().__init__()
        self.load_small_model()

    def reset(self) -> None:
        super().reset()
        self.broken_xml = False
        self.load_small_model()

    def load_small_model(self) -> None:
        self.products = small_model()

    def load_large_model(self, attributes: int = 10_000, sets: int = 2_000) -> None:
        """`sets` products of distinct product types: 3 components, 1 tag and 1 variant field each."""
        assert attributes == 5 * sets
        self.products = [
            product(f"P{i}", [(f"c{i * 3 + k}", f"Component {i * 3 + k}", "x") for k in range(3)],
                    [("product_type", [f"type_{i}"])] + ([(f"t{i}", ["a", "b"])] if i else []),
                    [(f"v{i}", f"Variant {i}")], [[(f"v{i}", "1")], [(f"v{i}", "2")]])
            for i in range(sets)
        ]
        # product 0 has no own tag: its place among the 10,000 is taken by the shared product_type tag.

    def throttled_response(self) -> Response:
        return _error(429, "Too many requests")

    def failed_response(self) -> Response:
        return _error(503, "Service temporarily unavailable")

    def add_routes(self, app: FastAPI) -> None:
        @app.get("/{hnr}/products/")
        async def products(hnr: str, request: Request) -> Response:
            expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            if request.headers.get("Authorization") != expected or self.faults.reject_credentials:
                return _error(401, "Authentication failed: invalid user name or password")
            if hnr != HNR:
                return _error(403, f"No access to account {hnr}")
            if request.query_params.get("channel") != CHANNEL:
                return _error(404, "Unknown channel")
            rows = [] if request.query_params.get("delta") else self.products
            body = ('<?xml version="1.0" encoding="UTF-8"?><TBCATALOG version="1.0"><SUPPLIER>fake</SUPPLIER><PRODUCTDATA>'
                    + "".join(_xml(p) for p in rows) + "</PRODUCTDATA></TBCATALOG>")
            if self.broken_xml:
                body = body[: len(body) // 2] + "</TBCATALOG>"
            return Response(body, 200, media_type="application/xml")
