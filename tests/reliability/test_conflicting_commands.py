"""Scenario 4: many clients send conflicting commands (disable, enable, sync, edit, delete) to the same
connections at once, over HTTP and the bus, on PostgreSQL where the HTTP threads and the bus batches really
write concurrently. Every command must come out as if the commands had run one after the other.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contracts import commands as cmd
from shared.local_kafka import LocalKafka
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import TENANTS, measure, reliability_stack
from tests.reliability.invariants import check
from tests.reliability.load import Load

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
RATE = 4.0
CLIENTS = 12
TARGETS = 6
DELETABLE = 2
SECONDS = 10.0
TENANT = TENANTS[2]


def _conflicting(rng: random.Random, targets: list[uuid.UUID]) -> cmd.Message:
    """One of the commands that fight over a connection's state.

    Only the first ``DELETABLE`` targets are ever deleted: the others stay contested for the whole run.
    """
    kind = rng.choices(("disable", "enable", "sync", "edit", "delete"), weights=(3, 3, 3, 2, 2))[0]
    pool = targets[:DELETABLE] if kind == "delete" else targets
    chosen = rng.sample(pool, rng.choice((1, 1, 2)))
    if kind == "edit":
        return cmd.EditConnection(connection_id=chosen[0], name=f"edited {rng.randrange(10**6)}")
    command_type: type[cmd.Message] = {"disable": cmd.DisableConnections, "enable": cmd.EnableConnections,
                                       "sync": cmd.RequestSync, "delete": cmd.DeleteConnections}[kind]
    return command_type(connection_ids=chosen)  # type: ignore[call-arg]


def test_conflicting_commands_from_many_clients_come_out_as_some_serial_order(
    kafka_broker: LocalKafka, postgres_dsn: str, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    outcomes: Counter[str] = Counter()
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "postgres", postgres_dsn) as stack:
        stack.install_drivers()
        load = Load(stack, rate=RATE, tenants=TENANTS[:2]).start()
        try:
            targets = [uuid.uuid4() for _ in range(TARGETS)]
            for connection_id in targets:
                assert load.call(TENANT, cmd.CreateConnection(connection_id=connection_id, name="contested",
                                                              driver="pos")).accepted

            def synced() -> bool:
                rows = [stack.view(TENANT, f"/v1/connections/{c}") for c in targets]
                return all(r.status_code == 200 and r.json()["sync_state"] == "succeeded" for r in rows)

            measure(synced, 60, "the contested connections synced", stack)

            def client(seed: int) -> None:
                rng = random.Random(seed)
                deadline = time.monotonic() + SECONDS
                while time.monotonic() < deadline:
                    sent = load.call(TENANT, _conflicting(rng, targets), rng.choice(("http", "bus")))
                    if sent.result is not None:
                        for item in sent.result.get("items", []):
                            outcomes[f"{sent.command_type}:{item['outcome']}"] += 1

            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(client, range(CLIENTS)))
            time.sleep(2)
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
    contested = [s for s in log.sent if s.tenant == TENANT]
    verdict.figures["contested_commands"] = len(contested)
    verdict.figures["contested_outcomes_over_http"] = dict(sorted(outcomes.items()))
    verdict.figures["contested_refused"] = sum(1 for s in contested if s.result and not s.result.get("accepted"))
    scenario_report.record(
        "4-conflicting-commands", title="concurrent conflicting commands on the same connections",
        injected=f"{CLIENTS} clients for {SECONDS:g} s, each sending disable / enable / sync / edit / delete on "
                 f"{TARGETS} shared connections (1 or 2 per command; {DELETABLE} of them deletable), half over HTTP, half "
                 "on the bus",
        load=f"{RATE:g} commands/s steady mix from 2 other tenants besides, PostgreSQL store", verdict=verdict)
    assert verdict.held, verdict.explain()
