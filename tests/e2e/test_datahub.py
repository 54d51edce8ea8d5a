"""The first sync mirrors a Shopware 6 shop's whole data model into DataHub; later syncs record exactly
what changed at the marketplace (added, changed, removed), through the real broker and processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import FakeShopware6, custom_field, property_group
from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
COLOR, SIZE, STYLE = "a" * 32, "b" * 32, "c" * 32


@pytest.fixture
def shopware() -> Iterator[tuple[FakeShopware6, str]]:
    fake = FakeShopware6()
    server = BackgroundServer(fake.app)
    try:
        yield fake, server.start()
    finally:
        server.stop()


def _all(stack: RunningStack, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = stack.get_view(path, limit=500, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


def _synced(stack: RunningStack, connection_id: str, job_id: str | None = None) -> bool:
    row = stack.get_view(f"/v1/connections/{connection_id}").json()
    return row.get("sync_state") == "succeeded" and (job_id is None or row.get("sync_job_id") == job_id)


def test_datahub_mirrors_the_shop_and_each_sync_records_exactly_what_changed(
    running_stack: RunningStack, shopware: tuple[FakeShopware6, str],
) -> None:
    stack = running_stack
    fake, url = shopware
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")
    assert stack.post("/v1/drivers/shopware6/install").status_code == 200
    created = stack.post("/v1/connections", {"name": "Shoes", "driver": "shopware6", "credentials": {
        "url": url, "access_key_id": "SWIAFAKEACCESSKEY", "secret_access_key": "fake-shopware-secret"}})
    connection_id = created.json()["items"][0]["connection_id"]
    wait_until(lambda: _synced(stack, connection_id), 30, "initial sync", stack.stack)
    base = f"/v1/connections/{connection_id}/data-model"

    attributes = {a["code"]: a for a in _all(stack, f"{base}/attributes")}
    assert set(attributes) == {COLOR, SIZE, "shoe_heel", "shoe_material", "shoe_new"}  # groups + product fields
    assert attributes[COLOR]["document"]["labels"]["default"] == "Color"
    assert [o["code"] for o in attributes[SIZE]["document"]["options"]] == ["s1" * 16]
    sets = {s["code"]: s for s in _all(stack, f"{base}/sets")}
    assert set(sets) == {"shoe_specs"}  # the customer field set is not the product model's

    # At the marketplace: a new property group, a changed one, a removed product field.
    fake.property_groups.append(property_group(STYLE, "Style", [("st" * 16, "Casual")]))
    fake.property_groups[1] = property_group(SIZE, "Size", [("s1" * 16, "S"), ("s2" * 16, "M")])
    shoe_set = fake.custom_field_sets[0]
    shoe_set["customFields"] = [f for f in shoe_set["customFields"] if f["name"] != "shoe_new"]
    shoe_set["customFields"].append(custom_field("9" * 32, "shoe_width", "int", {"label": {"en-GB": "Width"}}))

    sync = stack.post("/v1/connections/sync", {"connection_ids": [connection_id]}).json()["items"][0]["job_id"]
    wait_until(lambda: _synced(stack, connection_id, sync), 30, "second sync", stack.stack)

    syncs = _all(stack, f"{base}/syncs")
    latest = max(syncs, key=lambda s: s["sync_id"])
    assert latest["job_id"] == sync
    changes = _all(stack, f"{base}/syncs/{latest['sync_id']}/changes")
    recorded = sorted((c["item"], c["change"], c["code"]) for c in changes)
    assert recorded == sorted([
        ("attribute", "added", STYLE), ("attribute", "added", "shoe_width"),
        ("attribute", "changed", SIZE), ("attribute", "removed", "shoe_new"),
        ("set", "changed", "shoe_specs"),
    ])
    assert set(a["code"] for a in _all(stack, f"{base}/attributes")) == {
        COLOR, SIZE, STYLE, "shoe_heel", "shoe_material", "shoe_width"}

    # Nothing changed at the marketplace: a sync records no changes.
    quiet = stack.post("/v1/connections/sync", {"connection_ids": [connection_id]}).json()["items"][0]["job_id"]
    wait_until(lambda: _synced(stack, connection_id, quiet), 30, "third sync", stack.stack)
    assert max(s["sync_id"] for s in _all(stack, f"{base}/syncs")) == latest["sync_id"]
