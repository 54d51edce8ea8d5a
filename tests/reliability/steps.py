"""Steps the scenarios share: the end-to-end probe that measures recovery, and a sync held in flight."""

from __future__ import annotations

import time
import uuid
from typing import Any

from contracts import commands as cmd
from tests.reliability.harness import TENANTS, ReliabilityStack, measure
from tests.reliability.invariants import open_jobs, read_store
from tests.reliability.load import Load


def probe(stack: ReliabilityStack, load: Load, timeout: float = 90) -> float:
    """Seconds until a new connection went the whole way: command, store, relay, worker, report, view.

    The create is an ordinary client call (retried with its key while the service is away), so the time
    includes waiting for whatever was just restarted.
    """
    begun = time.monotonic()
    tenant = TENANTS[0]
    connection_id = uuid.uuid4()
    sent = load.call(tenant, cmd.CreateConnection(connection_id=connection_id, name="probe", driver="pos"))
    assert sent.accepted, f"the probe was not accepted: {sent}"  # not adopted: the mix must not disable it

    def synced() -> bool:
        response = stack.view(tenant, f"/v1/connections/{connection_id}")
        return response.status_code == 200 and response.json()["sync_state"] == "succeeded"

    measure(synced, timeout, "the probe connection synced", stack)
    return round(time.monotonic() - begun, 2)


def established_shop(stack: ReliabilityStack, load: Load, tenant: str = TENANTS[0]) -> str:
    """A Shopware 6 connection whose first sync succeeded (its secret is the marker)."""
    connection_id = uuid.uuid4()
    sent = load.call(tenant, cmd.CreateConnection(connection_id=connection_id, name="held shop", driver="shopware6",
                                                  credentials=stack.shop_credentials()))
    assert sent.accepted, sent

    def synced() -> bool:
        response = stack.view(tenant, f"/v1/connections/{connection_id}")
        return response.status_code == 200 and response.json()["sync_state"] == "succeeded"

    measure(synced, 60, "the shop connection synced", stack)
    return str(connection_id)


def hold_a_sync(stack: ReliabilityStack, load: Load, connection_id: str, hang_seconds: float = 25,
                tenant: str = TENANTS[0]) -> str:
    """Request a sync of the shop and wait until the worker is inside it (the shop holds its first call)."""
    faults = stack.shop.faults
    faults.only, faults.hang_seconds, faults.hang = "/api/search/property-group", hang_seconds, 1
    sent = load.call(tenant, cmd.RequestSync(connection_ids=[uuid.UUID(connection_id)]))
    assert sent.accepted and sent.result is not None, sent
    job_id = str(sent.result["items"][0]["job_id"])
    measure(lambda: faults.hang == 0, 30, "the worker reached the shop", stack)
    stack.note("sync in flight", job_id=job_id, connection_id=connection_id)
    return job_id


def kill_while_catching_up(stack: ReliabilityStack, name: str, started_line: str, down_seconds: float = 4.0,
                           into_seconds: float = 0.3) -> None:
    """Kill the process, let a backlog build up, restart it, and kill it again just as it works the backlog off.

    ``started_line`` is the log event the process writes when it begins to follow the store; the second kill
    comes ``into_seconds`` after it, in the middle of publishing or applying the backlog.
    """
    stack.kill(name)
    time.sleep(down_seconds)
    log = stack.log_dir / f"{name}.log"
    offset = log.stat().st_size
    stack.start(name)
    measure(lambda: started_line.encode() in log.read_bytes()[offset:], 30, f"{name} following again", stack,
            interval=0.02)
    time.sleep(into_seconds)
    stack.kill(name)
    stack.start(name)


def jobs_of_driver(stack: ReliabilityStack, driver: str) -> dict[str, Any]:
    """Open jobs of the driver's connections, as the store has them now."""
    events = read_store(stack)
    drivers = {e.originator_id: e.event.driver for e in events if e.topic == "Connection.Created.v1"}
    return {job: where for job, where in open_jobs(events).items() if drivers.get(where[0]) == driver}


def ended(stack: ReliabilityStack, job_ids: set[str]) -> bool:
    """Whether every one of the jobs ended in the store."""
    still = set(open_jobs(read_store(stack)))
    return not (job_ids & still)
