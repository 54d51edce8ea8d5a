"""One trace follows a command through the real processes: HTTP -> store -> relay -> Kafka -> worker -> report.

Each process exports its spans to its own JSON Lines file (``OMNI_TRACES_EXPORTER=jsonl``): collecting across
processes needs no collector, and what is checked is what a collector would receive. The trace is then one
tree: the same trace id in every process, each span's parent in the trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def spans_in(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for file in sorted(folder.glob("*.jsonl"))
            for line in file.read_text().splitlines() if line.strip()]


def service_of(span: dict[str, Any]) -> str:
    return str(span["resource"]["attributes"]["service.name"])


def trace_of(spans: list[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["context"]["trace_id"] == trace_id]


def roots_of(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans whose parent is not in the trace: only the HTTP request's span, once every process exported."""
    ids = {s["context"]["span_id"] for s in trace}
    return [s for s in trace if s["parent_id"] is None or s["parent_id"] not in ids]


def http_trace_id(folder: Path) -> str:
    http = [s for s in spans_in(folder) if s["name"] == "POST /v1/connections" and s["kind"] == "SpanKind.SERVER"]
    return str(http[0]["context"]["trace_id"]) if http else ""


def restart_with_traces(stack: RunningStack, folder: Path) -> None:
    stack.stack.stop_all()
    stack.stack.env.update({"OMNI_TRACES_EXPORTER": "jsonl", "OMNI_TRACES_DIR": str(folder),
                            "OTEL_BSP_SCHEDULE_DELAY": "100"})  # export every 0.1 s instead of 5 s
    stack.stack.start_all()
    stack.stack.wait_http(f"{stack.api}/health/live")
    stack.stack.wait_http(f"{stack.views}/health/live")


def test_one_trace_spans_http_store_kafka_worker_and_report(running_stack: RunningStack, tmp_path: Path) -> None:
    stack, folder = running_stack, tmp_path / "traces"
    restart_with_traces(stack, folder)
    assert stack.post("/v1/drivers/pos/install").status_code == 200
    created = stack.post("/v1/connections", {"name": "Traced till", "driver": "pos"})
    assert created.status_code == 200, created.text

    jobs_topic, reports_topic = stack.topic("drivers.pos.jobs.v1"), stack.topic("drivers.reports.v1")
    steps = [
        ("connections-serve", "POST /v1/connections"),          # HTTP
        ("connections-serve", "event_store.save"),              # the command's events stored
        ("connections-relay", f"{jobs_topic} publish"),         # the relay continues the stored trace on Kafka
                                                                # (trace context in the headers)
        ("driver-worker-pos", f"{jobs_topic} process"),         # the worker runs the job (span ends with it)
        ("driver-worker-pos", f"{reports_topic} publish"),      # and reports
        ("connections-serve", f"{reports_topic} process"),      # the write side handles the report
    ]
    seen: set[tuple[str, str]] = set()

    def whole_trace() -> list[dict[str, Any]] | None:
        trace_id = http_trace_id(folder)
        if not trace_id:
            return None
        trace = trace_of(spans_in(folder), trace_id)
        seen.update((service_of(s), s["name"]) for s in trace)
        # Each process exports on its own schedule: a child may be on disk before its parent. Wait for a
        # closed tree; a parent that never arrives fails below, naming the orphan.
        return trace if set(steps) <= seen and len(roots_of(trace)) == 1 else None

    try:
        trace = wait_until(whole_trace, 60, "every step in one trace", stack.stack)
    except AssertionError:
        orphans = [s["name"] for s in roots_of(trace_of(spans_in(folder), http_trace_id(folder)))]
        pytest.fail(f"missing from the trace: {sorted(set(steps) - seen)}; seen: {sorted(seen)}; "
                    f"spans without a parent in the trace: {orphans}")
    stored_reports = [s for s in trace if s["name"] == "event_store.save" and s["parent_id"] in
                      {p["context"]["span_id"] for p in trace if p["name"] == f"{reports_topic} process"}]
    assert stored_reports, "the report's events are stored inside the report's span"

    # One tree: every span but the HTTP root has its parent in the same trace.
    assert [r["name"] for r in roots_of(trace)] == ["POST /v1/connections"]

    # Log lines carry the trace: the worker's job lines have this trace id.
    trace_id = trace[0]["context"]["trace_id"].removeprefix("0x")
    worker_log = (stack.stack.log_dir / "worker-pos.log").read_text()
    assert f'"trace_id": "{trace_id}"' in worker_log
