"""What every fake marketplace shares: a call log and faults a test can switch on."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


@dataclass
class Faults:
    """Misbehaviour for the next requests whose path contains `only` (all requests if None)."""

    reject_credentials: bool = False
    throttle: int = 0  # answer the next N requests "throttled" in the vendor's way
    fail: int = 0  # answer the next N requests 503
    hang: int = 0  # hold the next N requests for hang_seconds before answering
    hang_seconds: float = 30.0
    retry_after: float | None = 2.0  # Retry-After sent with throttled/failed answers (None: no header)
    only: str | None = None


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body (parsed here: Starlette's form parser needs python-multipart)."""
    return dict(parse_qsl((await request.body()).decode()))


class FakeMarketplace:
    """Base of the fakes: `app` is the ASGI app; `calls` counts requests by path (faulted ones too)."""

    name = "fake"

    def __init__(self) -> None:
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.app = FastAPI(title=f"fake {self.name}", docs_url=None, redoc_url=None, openapi_url=None)
        self.app.middleware("http")(self._disrupt)
        self.add_routes(self.app)

    def add_routes(self, app: FastAPI) -> None:
        """Register the vendor's routes (subclasses)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget faults and the call log; the model stays (subclasses reset it too)."""
        self.faults = Faults()
        self.calls.clear()

    def throttled_response(self) -> Response:
        """How this vendor says "too many requests"."""
        return JSONResponse({"errors": [{"code": "QuotaExceeded", "message": "Too many requests"}]}, 429)

    def failed_response(self) -> Response:
        """How this vendor says "temporarily unavailable"."""
        return JSONResponse({"errors": [{"code": "ServiceUnavailable", "message": "Try again later"}]}, 503)

    def count(self, fragment: str) -> int:
        """Requests so far whose path contains `fragment`."""
        return sum(n for path, n in self.calls.items() if fragment in path)

    async def _disrupt(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        root = request.scope.get("root_path", "")
        path = request.url.path.removeprefix(root) if root else request.url.path
        self.calls[path] += 1
        f = self.faults
        if f.only is None or f.only in path:
            if f.hang > 0:
                f.hang -= 1
                await asyncio.sleep(f.hang_seconds)
            if f.throttle > 0:
                f.throttle -= 1
                return self._with_retry_after(self.throttled_response())
            if f.fail > 0:
                f.fail -= 1
                return self._with_retry_after(self.failed_response())
        return await call_next(request)

    def _with_retry_after(self, response: Response) -> Response:
        if self.faults.retry_after is not None and response.status_code in (429, 503):
            response.headers["Retry-After"] = f"{self.faults.retry_after:g}"
        return response
