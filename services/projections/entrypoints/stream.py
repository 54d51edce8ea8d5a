"""Live updates: a server-sent-events stream of the caller's tenant's view changes."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.projections.read_side import ReadSide
from shared.auth import Principal, Role

VIEWS = ("connection_list", "connection_status", "processes", "data_model", "audit")


def stream_routes(side: ReadSide, requires: Callable[[Role], Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["live"])

    @router.get("/stream", response_class=EventSourceResponse)
    async def stream(
        principal: Annotated[Principal, requires(Role.VIEWER)],
        views: Annotated[str | None, Query(
            max_length=200, description=f"comma-separated views to follow (default all): {', '.join(VIEWS)}")] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Server-sent events of the tenant's view changes, as the runner commits them.

        First a ``ready`` event (the stream is subscribed: changes committed from now on will arrive), then one
        ``change`` event per changed row: ``{"view", "key", "position", "row"}`` (``row`` null when it left the
        view), in store order. ``rebuilt`` says a view was replaced by a rebuild (reload it); ``resync`` that the
        client fell too far behind and the stream ends (reconnect, then reload). The event id is the store
        position, usable as ``min_position`` on queries.
        """
        wanted = [v.strip() for v in views.split(",") if v.strip()] if views else None
        subscription = side.hub.subscribe(principal.tenant_id, wanted)
        try:
            yield ServerSentEvent(event="ready", data={"views": wanted or list(VIEWS),
                                                       "positions": side.runner.positions()})
            async for notice in subscription.notices():
                yield ServerSentEvent(event=notice.kind, data=notice.body,
                                      id=str(notice.position) if notice.position is not None else None)
        finally:
            side.hub.unsubscribe(subscription)

    return router
