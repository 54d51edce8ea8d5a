"""Jobs end, whatever happens to their workers: a killed worker's job is redelivered and completes once;
a silent job is tried again and finally timed out by the watchdog."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.projections.application import EventStoreReader
from shared.settings import Settings
from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import FakeShopware6
from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
SHOPWARE_SECRET = "fake-shopware-secret"


@pytest.fixture
def shopware() -> Iterator[tuple[FakeShopware6, str]]:
    fake = FakeShopware6()
    fake.load_small_model()
    server = BackgroundServer(fake.app)
    try:
        yield fake, server.start()
    finally:
        server.stop()


def _restart_with(stack: RunningStack, **env: str) -> None:
    """Restart the write side and the relay with a short job timeout and retry backoff."""
    stack.stack.env.update(env)
    for name in ("service", "relay"):
        stack.stack.stop(name)
        stack.stack.start(name)
    stack.stack.wait_http(f"{stack.api}/health/live")


def _job_events(stack: RunningStack, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    settings = Settings(data_dir=Path(stack.env["OMNI_DATA_DIR"]), store=stack.env["OMNI_STORE"],
                        database_url=stack.env.get("OMNI_DATABASE_URL"))
    reader = EventStoreReader(env=settings.eventsourcing_env())
    try:
        found = []
        for n in reader.recorder.select_notifications(start=1, limit=100_000):
            if n.topic.startswith("Connection.Job"):
                event = reader.mapper.to_domain_event(n)
                if event.job_id == job_id:
                    found.append((n.topic, event.__dict__))
        return found
    finally:
        reader.close()


def test_a_job_nobody_answers_is_tried_again_then_timed_out_and_never_stays_running(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    _restart_with(stack, OMNI_JOB_TIMEOUT="1.5", OMNI_WATCHDOG_INTERVAL="0.3", OMNI_JOB_RETRY_BACKOFF="0.1")
    assert stack.post("/v1/drivers/shopify/install").status_code == 200
    # No Shopify worker runs: the credential check is never picked up.
    created = stack.post("/v1/connections", {"name": "Outlet", "driver": "shopify", "credentials": {
        "shop_domain": "outlet.myshopify.com", "access_token": "shpat_" + "0" * 32}})
    assert created.status_code == 200, created.text
    connection_id = created.json()["items"][0]["connection_id"]
    check = created.json()["items"][0]["job_id"]

    row = wait_until(
        lambda: (r := stack.get_view(f"/v1/connections/{connection_id}").json()).get("credential_state")
        == "check_failed" and r, 60, "the check timed out", stack.stack)
    assert "no report" in (row["credential_reason"] or "")
    topics = [t for t, _ in _job_events(stack, check)]
    assert topics.count("Connection.JobRetried.v1") == 2
    assert topics[-1] == "Connection.JobEnded.v1"
    ended = _job_events(stack, check)[-1][1]
    assert (ended["state"], ended["error_type"]) == ("timed_out", "timed_out")


def test_a_frozen_worker_is_timed_out_and_its_late_reports_change_nothing(
    running_stack: RunningStack, shopware: tuple[FakeShopware6, str],
) -> None:
    stack = running_stack
    fake, url = shopware
    _restart_with(stack, OMNI_JOB_TIMEOUT="2.5", OMNI_WATCHDOG_INTERVAL="0.2", OMNI_JOB_RETRY_BACKOFF="0.1")
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")
    assert stack.post("/v1/drivers/shopware6/install").status_code == 200
    # The first request hangs for a second; the worker, frozen meanwhile, says nothing for longer than the
    # job timeout, so the watchdog tries the check again.
    fake.faults.hang, fake.faults.hang_seconds = 1, 1.0
    created = stack.post("/v1/connections", {"name": "Shop", "driver": "shopware6", "credentials": {
        "url": url, "access_key_id": "SWIAFAKEACCESSKEY", "secret_access_key": SHOPWARE_SECRET}})
    connection_id = created.json()["items"][0]["connection_id"]
    check = created.json()["items"][0]["job_id"]
    wait_until(lambda: any(t == "Connection.JobStarted.v1" for t, _ in _job_events(stack, check)), 30,
               "the worker started the check", stack.stack)
    worker = stack.stack.processes["worker-shopware6"]
    os.kill(worker.pid, signal.SIGSTOP)  # frozen: no heartbeat, no report
    try:
        wait_until(lambda: any(t == "Connection.JobRetried.v1" for t, _ in _job_events(stack, check)), 30,
                   "the watchdog tried the silent check again", stack.stack)
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    # Thawed, the worker finishes its stale attempt (ignored) and then runs the retried attempts.
    row = wait_until(
        lambda: (r := stack.get_view(f"/v1/connections/{connection_id}").json()).get("sync_state")
        == "succeeded" and r, 60, "the connection synced after all", stack.stack)
    assert row["credential_state"] == "verified"
    ended = [e for t, e in _job_events(stack, check) if t == "Connection.JobEnded.v1"]
    assert len(ended) == 1 and ended[0]["state"] == "succeeded"


def test_a_job_whose_worker_is_killed_is_redelivered_and_completes_once(
    running_stack: RunningStack, shopware: tuple[FakeShopware6, str],
) -> None:
    stack = running_stack
    fake, url = shopware
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.commands["worker-shopware6-b"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")
    stack.stack.start("worker-shopware6-b")
    assert stack.post("/v1/drivers/shopware6/install").status_code == 200
    created = stack.post("/v1/connections", {"name": "Shop", "driver": "shopware6", "credentials": {
        "url": url, "access_key_id": "SWIAFAKEACCESSKEY", "secret_access_key": SHOPWARE_SECRET}})
    connection_id = created.json()["items"][0]["connection_id"]
    wait_until(lambda: stack.get_view(f"/v1/connections/{connection_id}").json().get("sync_state") == "succeeded",
               30, "initial sync", stack.stack)

    fake.faults.hang, fake.faults.hang_seconds = 1, 8.0  # the next sync hangs in whichever worker takes it
    sync = stack.post("/v1/connections/sync", {"connection_ids": [connection_id]}).json()["items"][0]["job_id"]
    wait_until(lambda: any(t == "Connection.JobStarted.v1" for t, _ in _job_events(stack, sync)), 30,
               "a worker took the sync", stack.stack)
    started = next(e for t, e in _job_events(stack, sync) if t == "Connection.JobStarted.v1")
    pid = int(started["worker"].rsplit(":", 1)[1])
    victim = next(name for name, p in stack.stack.processes.items() if p.pid == pid)
    stack.stack.kill(victim)  # kill -9 with the sync in flight; its offset was never committed

    wait_until(lambda: stack.get_view(f"/v1/connections/{connection_id}").json().get("sync_job_id") == sync
               and stack.get_view(f"/v1/connections/{connection_id}").json().get("sync_state") == "succeeded",
               90, "the sync redelivered and completed", stack.stack)
    ended = [e for t, e in _job_events(stack, sync) if t == "Connection.JobEnded.v1"]
    assert len(ended) == 1 and ended[0]["state"] == "succeeded"
