"""The read side's rules that need no storage: masking, what the timeline says of secrets, slow subscribers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

from services.projections.domain import audit, connection_status
from services.projections.domain.connection_status import MASK, masked
from services.projections.live import QUEUE_SIZE, ChangeHub
from services.projections.projection import Change


def test_settings_fields_named_like_a_drivers_secret_are_masked_at_any_depth() -> None:
    settings = {"password": "p", "production": {"bm_password": "b", "host": "h"}, "language": "de", "empty": None}
    assert masked(settings, {"password", "production.bm_password"}) == {
        "password": MASK, "production": {"bm_password": MASK, "host": "h"}, "language": "de", "empty": None}


def test_settings_of_an_unknown_driver_are_masked_entirely() -> None:
    assert masked({"a": 1, "b": {"c": "x"}}, None) == {"a": MASK, "b": {"c": MASK}}


def test_the_timeline_tells_a_credential_change_only_by_its_fingerprint() -> None:
    event = SimpleNamespace(
        originator_id=uuid4(), originator_version=3, timestamp=datetime.now(UTC), name=None, settings=None,
        credentials={"v": 1, "ciphertext": "SEALED"}, credentials_fingerprint="0123456789abcdef",
        meta={"tenant_id": "t", "actor": "bob", "correlation_id": "c", "causation_id": None, "reason": None},
    )
    entry = audit.entry(7, "Connection.Edited.v1", event, {"name": "Shop", "driver": "shopware6"})
    assert entry is not None
    assert entry["summary"] == "bob edited connection 'Shop': credentials changed (fingerprint 0123456789ab…)"
    assert "SEALED" not in str(entry)


def test_a_status_document_never_takes_the_sealed_credentials() -> None:
    event = SimpleNamespace(
        originator_id=uuid4(), originator_version=1, timestamp=datetime.now(UTC), tenant_id="t", name="Shop",
        driver="shopware6", settings={}, credentials={"v": 1, "ciphertext": "SEALED"},
        credentials_fingerprint="f" * 16, meta={"tenant_id": "t", "actor": "a"},
    )
    document = connection_status.evolve(None, "Connection.Created.v1", event, frozenset())
    assert document is not None and "SEALED" not in str(document)


def test_a_live_subscriber_that_falls_too_far_behind_gets_resync_and_its_stream_ends() -> None:
    async def scenario() -> list[str]:
        hub = ChangeHub()
        slow = hub.subscribe("t")
        hub.publish([Change("processes", "t", str(i), {"i": i}, i) for i in range(QUEUE_SIZE + 10)])
        return [notice.kind async for notice in slow.notices()]

    kinds = asyncio.run(scenario())
    assert kinds[:-1] == ["change"] * QUEUE_SIZE and kinds[-1] == "resync"
