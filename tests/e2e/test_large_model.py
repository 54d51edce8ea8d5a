"""A 10,000-attribute data model travels through Kafka whole, in chunks under the 1 MB message limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from services.connections.domain.mirror import DataModelMirror
from services.projections.application import EventStoreReader
from shared.settings import Settings
from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import FakeShopware6
from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture
def large_shop() -> Iterator[str]:
    fake = FakeShopware6()
    fake.load_large_model()
    server = BackgroundServer(fake.app)
    try:
        yield server.start()
    finally:
        server.stop()


def test_a_10000_attribute_model_is_mirrored_whole_through_kafka(running_stack: RunningStack, large_shop: str) -> None:
    stack = running_stack
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")
    assert stack.post("/v1/drivers/shopware6/install").status_code == 200
    credentials = {"url": large_shop, "access_key_id": "SWIAFAKEACCESSKEY", "secret_access_key": "fake-shopware-secret"}
    created = stack.post("/v1/connections", {"name": "Big shop", "driver": "shopware6", "credentials": credentials})
    connection_id = created.json()["items"][0]["connection_id"]

    def synced() -> bool:
        response = stack.get_view(f"/v1/connections/{connection_id}")
        return response.status_code == 200 and response.json()["sync_state"] == "succeeded"

    wait_until(synced, 90, "the large model synced", stack.stack)
    settings = Settings(data_dir=Path(stack.env["OMNI_DATA_DIR"]), store=stack.env["OMNI_STORE"],
                        database_url=stack.env.get("OMNI_DATABASE_URL"))
    reader = EventStoreReader(env=settings.eventsourcing_env())
    try:
        mirror = reader.repository.get(DataModelMirror.id_for(UUID(connection_id)))
        assert len(mirror.attributes) == 10_000
        assert len(mirror.attribute_sets) == 2_000
    finally:
        reader.close()
