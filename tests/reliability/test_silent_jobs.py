"""A job nobody reports on (its driver has no worker running, or the worker died for good) must not show as
running forever: the watchdog tries it again and, after the last attempt, ends it as timed out with a reason.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from contracts import commands as cmd
from shared.local_kafka import LocalKafka
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import TENANTS, measure, reliability_stack
from tests.reliability.invariants import check, read_store
from tests.reliability.load import Load

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka]
RATE = 4.0
JOB_TIMEOUT_SECONDS = 4
SILENT = 2
TENANT = TENANTS[1]


def test_jobs_nobody_reports_on_end_as_timed_out_with_a_reason(
    kafka_broker: LocalKafka, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    recovery: dict[str, float] = {}
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "sqlite",
                           OMNI_JOB_TIMEOUT=str(JOB_TIMEOUT_SECONDS)) as stack:
        stack.install_drivers()
        stack.install_drivers(("magento2",), (TENANT,))  # installed, but no Magento 2 worker runs
        load = Load(stack, rate=RATE, shop_share=0.0).start()
        try:
            credentials = {"base_url": stack.shop_url, "username": "admin", "password": stack.marker}
            silent = []
            for _ in range(SILENT):
                connection_id = uuid.uuid4()
                sent = load.call(TENANT, cmd.CreateConnection(connection_id=connection_id, name="nobody answers",
                                                              driver="magento2", credentials=credentials))
                assert sent.accepted, sent
                silent.append(str(connection_id))
            stack.note("silent jobs requested", connections=silent)

            def timed_out() -> bool:
                rows = [stack.view(TENANT, f"/v1/connections/{c}").json() for c in silent]
                return all(r.get("credential_state") == "check_failed" for r in rows)

            _, recovery["silent_job_ended"] = measure(timed_out, 90, "the silent checks timed out", stack, 1.0)
            time.sleep(2)
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
        events = read_store(stack)
    ends = [e.event for e in events if e.originator_id in silent and e.topic == "Connection.JobEnded.v1"]
    retries = [e for e in events if e.originator_id in silent and e.topic == "Connection.JobRetried.v1"]
    verdict.figures.update({"silent_jobs": SILENT, "silent_job_retries": len(retries),
                            "silent_job_end_states": sorted(str(e.state) for e in ends)})
    scenario_report.record(
        "7-silent-jobs", title="jobs nobody reports on (the watchdog)",
        injected=f"{SILENT} Magento 2 connections created while no Magento 2 worker runs; job timeout "
                 f"{JOB_TIMEOUT_SECONDS} s", load=f"{RATE:g} commands/s, 3 tenants, SQLite store",
        verdict=verdict, recovery=recovery)
    assert verdict.held, verdict.explain()
    assert all(str(e.state).endswith("timed_out") and e.message for e in ends) and len(ends) == SILENT, ends
