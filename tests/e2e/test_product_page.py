"""The product page, procedure by procedure, against real processes, the real broker and a fake Shopware 6.

Each step is asserted on what the user sees: the command's answer and the connection list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.projections.application import EventStoreReader
from shared.settings import Settings
from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import FakeShopware6
from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
SECRET = "fake-shopware-secret"


@pytest.fixture
def shopware() -> Iterator[tuple[FakeShopware6, str]]:
    fake = FakeShopware6()
    fake.load_small_model()
    server = BackgroundServer(fake.app)
    url = server.start()
    try:
        yield fake, url
    finally:
        server.stop()


def _row(stack: RunningStack, connection_id: str) -> dict[str, Any] | None:
    response = stack.get_view(f"/v1/connections/{connection_id}")
    return response.json() if response.status_code == 200 else None


def _row_where(stack: RunningStack, connection_id: str, **wanted: Any) -> dict[str, Any]:
    def matches() -> dict[str, Any] | None:
        row = _row(stack, connection_id)
        return row if row and all(row.get(k) == v for k, v in wanted.items()) else None

    return wait_until(matches, 30, f"{connection_id} with {wanted}", stack.stack)


def _topics(stack: RunningStack, connection_id: str) -> list[str]:
    settings = Settings(data_dir=Path(stack.env["OMNI_DATA_DIR"]), store=stack.env["OMNI_STORE"],
                        database_url=stack.env.get("OMNI_DATABASE_URL"))
    reader = EventStoreReader(env=settings.eventsourcing_env())
    try:
        return [n.topic for n in reader.recorder.select_notifications(start=1, limit=100_000)
                if n.originator_id == connection_id or str(n.originator_id) == connection_id]
    finally:
        reader.close()


def test_every_procedure_of_the_product_page(running_stack: RunningStack, shopware: tuple[FakeShopware6, str]) -> None:
    stack = running_stack
    fake, shop_url = shopware
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")
    for driver in ("shopware6", "pos"):
        assert stack.post(f"/v1/drivers/{driver}/install").status_code == 200
    offered = httpx.get(f"{stack.api}/v1/drivers", headers=stack.headers, timeout=10).json()
    assert sorted(d["id"] for d in offered) == ["pos", "shopware6"]

    # Create a connection: Name, Driver, Credentials, SAVE -> "Checking credentials..." -> "Sync triggered".
    credentials = {"url": shop_url, "access_key_id": "SWIAFAKEACCESSKEY", "secret_access_key": SECRET}
    created = stack.post("/v1/connections", {"name": "Webshop", "driver": "shopware6", "credentials": credentials})
    assert created.status_code == 200, created.text
    shop_id = created.json()["items"][0]["connection_id"]
    row = _row_where(stack, shop_id, sync_state="succeeded")
    assert (row["status"], row["credential_state"]) == ("active", "verified")
    assert _topics(stack, row_mirror_id(stack, shop_id)) == ["DataModelMirror.Created.v1", "DataModelMirror.Synced.v1"]

    # Edit a connection: the driver is read-only; a masked secret keeps its value; saving triggers a sync.
    refused = httpx.patch(f"{stack.api}/v1/connections/{shop_id}", json={"driver": "magento2"},
                          headers=stack.headers, timeout=10)
    assert refused.status_code == 409 and refused.json()["reason_code"] == "driver_read_only"
    edited = httpx.patch(f"{stack.api}/v1/connections/{shop_id}", headers=stack.headers, timeout=10,
                         json={"name": "Webshop DE", "credentials": {"secret_access_key": "**********"}})
    assert edited.status_code == 200, edited.text
    sync_after_edit = edited.json()["items"][0]["job_id"]
    row = _row_where(stack, shop_id, name="Webshop DE", sync_job_id=sync_after_edit, sync_state="succeeded")
    assert row["driver"] == "shopware6" and row["credential_state"] == "verified"

    # Synchronize a connection.
    synced = stack.post("/v1/connections/sync", {"connection_ids": [shop_id]})
    assert synced.status_code == 200
    _row_where(stack, shop_id, sync_job_id=synced.json()["items"][0]["job_id"], sync_state="succeeded")

    # Disable two connections at once; the Status column switches to Inactive.
    till = stack.post("/v1/connections", {"name": "Till", "driver": "pos"}).json()["items"][0]["connection_id"]
    _row_where(stack, till, sync_state="succeeded")
    disabled = stack.post("/v1/connections/disable", {"connection_ids": [shop_id, till]})
    assert [i["outcome"] for i in disabled.json()["items"]] == ["done", "done"]
    _row_where(stack, shop_id, status="inactive")
    _row_where(stack, till, status="inactive")
    assert stack.post("/v1/connections/sync", {"connection_ids": [shop_id]}).json()["items"][0]["reason_code"] == (
        "connection_inactive"
    )

    # Enable a connection; Active again.
    enabled = stack.post("/v1/connections/enable", {"connection_ids": [shop_id, till]})
    assert [i["outcome"] for i in enabled.json()["items"]] == ["done", "done"]
    _row_where(stack, shop_id, status="active")

    # Delete: only inactive connections.
    refused_delete = stack.post("/v1/connections/delete", {"connection_ids": [shop_id]})
    assert refused_delete.status_code == 409
    assert refused_delete.json()["items"][0]["reason_code"] == "connection_active"
    stack.post("/v1/connections/disable", {"connection_ids": [shop_id]})
    deleted = stack.post("/v1/connections/delete", {"connection_ids": [shop_id]})
    assert deleted.status_code == 200 and deleted.json()["items"][0]["outcome"] == "done"
    wait_until(lambda: _row(stack, shop_id) is None, 30, "the deleted connection leaves the list", stack.stack)
    topics = _topics(stack, shop_id)
    assert topics.count("Connection.DeletionStepCompleted.v1") == 3
    assert topics[-1] == "Connection.Deleted.v1"
    assert [r["connection_id"] for r in stack.list_rows()] == [till]


def row_mirror_id(stack: RunningStack, connection_id: str) -> str:
    from uuid import UUID

    from services.connections.domain.mirror import DataModelMirror

    return str(DataModelMirror.id_for(UUID(connection_id)))
