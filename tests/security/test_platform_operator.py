"""Rebuilding a view acts on every tenant's rows: only the platform operator role may, never a tenant admin."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.projections.entrypoints.admin import admin_routes
from shared.auth import BearerAuth, Principal, Role, StaticTokens
from shared.http import install_error_handlers, principal_dependency

TOKENS = {
    "tenant-admin": {"tenant": "acme", "roles": ["admin"], "actor": "acme-root"},
    "tenant-operator": {"tenant": "acme", "roles": ["operator"], "actor": "acme-ops"},
    "platform": {"tenant": "platform", "roles": ["platform-operator"], "actor": "ops"},
}
ROUTES = [("post", "/v1/admin/views/processes/rebuild"), ("get", "/v1/admin/views/processes/rebuild"),
          ("get", "/v1/admin/views")]


class _Progress:
    def as_dict(self) -> dict[str, Any]:
        return {"view": "processes", "state": "building", "position": 0, "target": 10, "fraction": 0.0,
                "events_applied": 0, "events_per_second": 0.0, "seconds": 0.0, "error": None}


class _Side:
    """The read side as the admin routes see it; records the rebuilds started."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.runner = SimpleNamespace(projections=[SimpleNamespace(name="processes")])
        self.rebuilds = SimpleNamespace(progress={})

    def start_rebuild(self, view: str) -> tuple[_Progress, bool]:
        self.started.append(view)
        self.rebuilds.progress[view] = _Progress()
        return _Progress(), True

    async def lag(self) -> tuple[int, list[Any]]:
        return 10, [SimpleNamespace(view="processes", position=10, events=0, seconds=0.0)]


@pytest.fixture
def side() -> _Side:
    return _Side()


@pytest.fixture
def api(side: _Side) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin_routes(side, principal_dependency(BearerAuth(StaticTokens(TOKENS)))))  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("token", ["tenant-admin", "tenant-operator"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_tenant_role_cannot_touch_views_of_every_tenant(api: TestClient, side: _Side, token: str, method: str,
                                                          path: str) -> None:
    answer = api.request(method, path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert answer.json()["missing_role"] == "platform-operator"
    assert side.started == []


def test_the_platform_operator_rebuilds_a_view(api: TestClient, side: _Side) -> None:
    headers = {"Authorization": "Bearer platform"}
    assert api.post("/v1/admin/views/processes/rebuild", headers=headers).status_code == 202
    assert side.started == ["processes"]
    assert api.get("/v1/admin/views/processes/rebuild", headers=headers).json()["state"] == "building"
    assert api.get("/v1/admin/views", headers=headers).json()[0]["view"] == "processes"
    assert api.post("/v1/admin/views/processes/rebuild").status_code == 401


def test_the_platform_role_stands_apart_from_the_tenant_roles() -> None:
    admin = Principal("acme", "root", frozenset({Role.ADMIN}))
    platform = Principal("platform", "ops", frozenset({Role.PLATFORM_OPERATOR}))
    assert not admin.has(Role.PLATFORM_OPERATOR)
    assert platform.has(Role.PLATFORM_OPERATOR)
    assert not any(platform.has(role) for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN))  # no tenant data
    both = Principal("acme", "x", frozenset({Role.ADMIN, Role.PLATFORM_OPERATOR}))
    assert both.has(Role.VIEWER) and both.has(Role.PLATFORM_OPERATOR)
