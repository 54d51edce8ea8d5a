"""How the dashboard is served: the page and its assets on the views API, CORS on the commands API.

No browser and no processes here: the two FastAPI apps the dashboard module extends, in memory.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.dashboard.web import STATIC, allow_dashboard, dashboard_origins, mount_dashboard
from shared.settings import Settings


def _views(settings: Settings) -> TestClient:
    api = FastAPI()
    mount_dashboard(api, settings)
    return TestClient(api, base_url="http://127.0.0.1:8001")


def _commands(settings: Settings) -> TestClient:
    api = FastAPI()
    allow_dashboard(api, settings)

    @api.post("/v1/connections/sync")
    def sync() -> dict[str, bool]:
        return {"accepted": True}

    return TestClient(api, base_url="http://127.0.0.1:8000")


def test_the_page_names_the_commands_api_on_the_host_it_was_loaded_from() -> None:
    page = _views(Settings(http_port=8123)).get("/")

    assert page.status_code == 200
    assert '<meta name="commands-api" content="http://127.0.0.1:8123">' in page.text
    assert "connect-src 'self' http://127.0.0.1:8123;" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_a_configured_commands_url_wins() -> None:
    page = _views(Settings(dashboard_commands_url="https://commands.example.com/")).get("/")

    assert '<meta name="commands-api" content="https://commands.example.com">' in page.text


def test_the_assets_are_served_and_fetch_nothing_from_the_network() -> None:
    client = _views(Settings())
    assets = sorted(p.name for p in STATIC.iterdir())

    for name in assets:
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200, name
        # No CDN, no web fonts, no remote scripts: the only absolute URL is the SVG namespace.
        remote = set(re.findall(r"https?://[^\s\"'`)]+", answer.text)) - {"http://www.w3.org/2000/svg"}
        assert not remote, f"{name} refers to {remote}"
    assert client.get("/static/app.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert {"index.html", "app.js", "dashboard.css"} <= set(assets)


def test_the_commands_api_lets_the_dashboard_origin_post_with_a_bearer_token() -> None:
    client = _commands(Settings(query_port=8001))

    preflight = client.options("/v1/connections/sync", headers={
        "Origin": "http://localhost:8001", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8001"
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers  # tokens, never cookies


def test_other_origins_are_not_allowed() -> None:
    client = _commands(Settings(query_port=8001))

    preflight = client.options("/v1/connections/sync", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    post = client.post("/v1/connections/sync", headers={"Origin": "https://elsewhere.example"})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in post.headers


def test_the_allowed_origins_are_the_views_address_and_the_configured_ones() -> None:
    settings = Settings(http_host="0.0.0.0", query_port=9001, dashboard_origins=["https://ops.example.com/"])  # noqa: S104

    assert dashboard_origins(settings) == ["http://127.0.0.1:9001", "http://localhost:9001", "https://ops.example.com"]
