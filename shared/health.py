"""Readiness that means something: each check touches the thing it names (store, broker), within a bound.

Liveness (``/health/live``) only says the process answers; readiness says it can do its work now, so a load
balancer or Kubernetes stops sending it traffic while the store or the broker is away, without restarting it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Check = Callable[[], Awaitable[None]]

CHECK_TIMEOUT_SECONDS = 3.0


def store_check(read_head: Callable[[], Any]) -> Check:
    """The event store answers a read (its head position), off the event loop."""

    async def check() -> None:
        await asyncio.to_thread(read_head)

    return check


def broker_check(broker: Any) -> Check:
    """The Kafka broker answers a metadata request (FastStream's ``ping``)."""

    async def check() -> None:
        if not await broker.ping(timeout=CHECK_TIMEOUT_SECONDS):
            raise ConnectionError("Kafka did not answer")

    return check


async def run_checks(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    """Every check at once, each bounded in time; ``(all ok, name -> "ok" or the reason)``."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure is the answer, as one line
            return f"{type(exc).__name__}: {exc}"[:300]
        return "ok"

    results = dict(zip(checks, await asyncio.gather(*(one(c) for c in checks.values())), strict=True))
    return all(r == "ok" for r in results.values()), results


def add_readiness(api: Any, checks: Mapping[str, Check]) -> None:
    """``GET /health/ready`` on a FastAPI app: 200 when every check passes, else 503 naming what failed."""
    from fastapi.responses import JSONResponse

    async def ready() -> JSONResponse:
        ok, results = await run_checks(checks)
        return JSONResponse(status_code=200 if ok else 503,
                            content={"status": "ok" if ok else "unavailable", "checks": results})

    # response_model=None: the return annotation is a string here (postponed) naming a local import, which
    # FastAPI cannot resolve; without it /openapi.json fails.
    api.add_api_route("/health/ready", ready, methods=["GET"], tags=["operations"], response_model=None,
                      summary="Ready: the store and the broker answer")
