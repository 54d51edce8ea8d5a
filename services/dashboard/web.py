"""Serving the dashboard: its page on the views API, and the commands API's CORS permission for that page.

The views process serves the page (``/``) and its assets (``/static/...``); the page reads the views API on
its own origin and posts commands to the commands API, a second origin that must allow it (CORS). Tokens
travel in the ``Authorization`` header, never in cookies, so allowing an origin grants nothing by itself.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from shared.settings import Settings

STATIC = Path(__file__).parent / "static"
_COMMANDS_URL_MARK = "__COMMANDS_URL__"
_ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - names of the wildcard bind, not a bind


def commands_url(settings: Settings, request: Request) -> str:
    """The commands API as the browser reaches it: configured, else the page's host name on the commands port."""
    if settings.dashboard_commands_url:
        return settings.dashboard_commands_url.rstrip("/")
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{request.url.scheme}://{host}:{settings.http_port}"


def mount_dashboard(api: FastAPI, settings: Settings) -> None:
    """``/`` answers the page (with the commands API's address filled in), ``/static/...`` its assets."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    @api.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        target = commands_url(settings, request)
        policy = (f"default-src 'self'; connect-src 'self' {target}; img-src 'self' data:; "
                  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return HTMLResponse(page.replace(_COMMANDS_URL_MARK, html.escape(target, quote=True)), headers={
            "Content-Security-Policy": policy, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"})

    api.mount("/static", StaticFiles(directory=STATIC), name="dashboard-static")


def dashboard_origins(settings: Settings) -> list[str]:
    """Origins the page is served from: the views API's own address (by loopback names too) and configured ones."""
    hosts = {"127.0.0.1", "localhost"}
    if settings.http_host not in _ANY_ADDRESS:
        hosts.add(settings.http_host)
    own = {f"http://{host}:{settings.query_port}" for host in hosts}
    return sorted(own | {origin.rstrip("/") for origin in settings.dashboard_origins})


def allow_dashboard(api: FastAPI, settings: Settings) -> None:
    """Let the dashboard's origins call the commands API from a browser (preflight included)."""
    api.add_middleware(
        CORSMiddleware,
        allow_origins=dashboard_origins(settings),
        allow_methods=["GET", "POST", "PATCH"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id"],
        max_age=600,
    )
