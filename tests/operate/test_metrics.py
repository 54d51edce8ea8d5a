"""Every process's ``/metrics`` after a real flow: the counters count what happened, the lags move and settle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import topics
from tests.support.kafka_io import produce
from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=10).raise_for_status().text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels`` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def has(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= ls for (n, ls) in samples)


def metrics_of(stack: RunningStack, process: str) -> str:
    port = stack.stack.process_env[process]["OMNI_METRICS_PORT"]
    return f"http://127.0.0.1:{port}/metrics"


def settles(url: str, check: Callable[[Samples], bool], what: str, stack: RunningStack) -> Samples:
    try:
        return wait_until(lambda: s if check(s := scrape(url)) else None, 30, what, stack.stack)
    except AssertionError as missing:
        shown = sorted(f"{n}{dict(ls)} {v}" for (n, ls), v in scrape(url).items() if n.startswith("omni_"))
        raise AssertionError(f"{missing}; last scrape of {url}:\n" + "\n".join(shown)) from None


def _synced(stack: RunningStack, connection_id: str, syncs: int = 1) -> bool:
    response = stack.get_view(f"/v1/connections/{connection_id}")
    return response.status_code == 200 and response.json()["sync_state"] == "succeeded"


def test_metrics_count_commands_events_jobs_and_dead_letters_and_lags_settle(running_stack: RunningStack) -> None:
    stack = running_stack
    service, views = f"{stack.api}/metrics", f"{stack.views}/metrics"
    relay, worker = metrics_of(stack, "relay"), metrics_of(stack, "worker-pos")
    wait_until(lambda: scrape(relay) and scrape(worker), 30, "relay and worker /metrics", stack.stack)
    before = scrape(service)
    assert value(before, "omni_commands_total") == 0

    assert stack.post("/v1/drivers/pos/install").status_code == 200
    created = stack.post("/v1/connections", {"name": "Till M", "driver": "pos"})
    assert created.status_code == 200, created.text
    connection_id = created.json()["items"][0]["connection_id"]
    refused = stack.post("/v1/connections", {"name": "Nope", "driver": "shopify"})  # not installed
    assert refused.status_code == 404
    asyncio.run(produce(stack.bootstrap, stack.topic(topics.COMMANDS), b"not json", key=b"k"))
    wait_until(lambda: _synced(stack, connection_id), 30, "synced connection", stack.stack)

    samples = settles(service, lambda s: value(s, "omni_dead_letters_total") >= 1, "a dead letter counted", stack)
    assert value(samples, "omni_commands_total", command="InstallDriver", entrance="http", outcome="accepted") == 1
    assert value(samples, "omni_commands_total", command="CreateConnection", entrance="http", outcome="accepted") == 1
    assert value(samples, "omni_commands_total", command="CreateConnection", outcome="driver_not_installed") == 1
    assert value(samples, "omni_dead_letters_total", topic=topics.COMMANDS, reason_code="invalid_json") == 1
    assert value(samples, "omni_events_stored_total", type="Connection.Created.v1") == 1
    assert value(samples, "omni_events_stored_total") >= 5  # created, check and sync requested and reported
    assert value(samples, "omni_store_save_seconds_count") >= 3
    # HTTP commands go through the group commit: sent one after the other, each of the three was a batch of one.
    batched = [value(samples, n) - value(before, n)
               for n in ("omni_command_batch_size_count", "omni_command_batch_size_sum")]
    assert batched == [3, 3]
    assert value(samples, "omni_command_batch_seconds_count") == value(samples, "omni_command_batch_size_count")

    # The relay published everything: its position reached the store's head, its lag is back to 0.
    relayed = settles(relay, lambda s: value(s, "omni_relay_lag_events") == 0 and value(s, "omni_relay_position") > 0,
                      "relay caught up", stack)
    assert value(relayed, "omni_relay_position") == value(relayed, "omni_event_store_head")
    assert value(relayed, "omni_relay_messages_total") >= 3

    # The worker ran the credential check and the first sync, each started and succeeded, each timed.
    jobs = settles(worker, lambda s: value(s, "omni_jobs_total", state="succeeded") >= 2, "two jobs succeeded", stack)
    assert value(jobs, "omni_jobs_total", driver="pos", kind="check_credentials", state="started") == 1
    assert value(jobs, "omni_jobs_total", driver="pos", kind="sync", state="succeeded") >= 1
    assert value(jobs, "omni_job_duration_seconds_count", driver="pos") >= 2
    assert value(jobs, "omni_jobs_running", driver="pos") == 0

    # Views: positions moved and every view caught up.
    read = settles(views, lambda s: has(s, "projection_lag_events") and value(s, "projection_lag_events") == 0,
                   "views caught up", stack)
    assert value(read, "projection_position", view="connection_list") > 0

    # Consumer lag moves: with the worker stopped a sync waits in the driver's group, then drains.
    group = f"{stack.namespace}driver-pos"
    settles(service, lambda s: has(s, "omni_consumer_group_lag_messages", group=group)
            and value(s, "omni_consumer_group_lag_messages", group=group) == 0, "driver group lag 0", stack)
    stack.stack.stop("worker-pos")
    assert stack.post("/v1/connections/sync", {"connection_ids": [connection_id]}).status_code == 200
    settles(service, lambda s: value(s, "omni_consumer_group_lag_messages", group=group) >= 1,
            "a job waiting in the driver group", stack)
    stack.stack.start("worker-pos")
    settles(service, lambda s: value(s, "omni_consumer_group_lag_messages", group=group) == 0,
            "the driver group drained", stack)
    drained = scrape(service)
    assert value(drained, "omni_consumer_group_lag_messages", group=f"{stack.namespace}connections-commands") == 0


def test_readiness_checks_store_and_broker_and_views(running_stack: RunningStack) -> None:
    ready = httpx.get(f"{running_stack.api}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"store": "ok", "broker": "ok"}
    views = wait_until(lambda: (r := httpx.get(f"{running_stack.views}/health/ready", timeout=10)).status_code == 200
                       and r, 30, "views ready", running_stack.stack)
    assert views.json()["lag_seconds"] <= 30
