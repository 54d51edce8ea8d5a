"""Render ``docs/reliability.md`` from the JSON report the fault and soak suite writes.

    python -m pytest -m reliability                 # writes test-artifacts/reliability.json
    python -m tests.reliability.report              # renders docs/reliability.md from it

Every number in the document comes from that JSON, i.e. from the last run of each scenario.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPORT = ROOT / "test-artifacts" / "reliability.json"
DEFAULT_DOC = ROOT / "docs" / "reliability.md"

INVARIANTS = {
    "commands": "every accepted command has exactly its events and one record of it in the store (its events are "
                "on exactly the connections its result names as done); a refused command left none; repeated "
                "answers to one command id are alike; every stored event has a known cause (a command, a worker "
                "report, the watchdog)",
    "events_topic": "every stored event's public messages reached `connections.events.v1` at least once, in order "
                    "per key, exactly once after dropping repeated message ids; every requested job reached its "
                    "driver's job topic",
    "views": "every view equals a fresh rebuild from the store into an empty database, at the view's position "
             "(digest of all rows, row-by-row evidence when not)",
    "jobs_ended": "every job ended (succeeded, failed, cancelled, timed out); none left running",
    "no_secret_leaked": "the run's marker secret appears nowhere, in plaintext, hex or base64: not in the store, "
                        "views, keys, positions, logs, nor any record of any topic of the run",
}


FINDINGS = [
    "**Stale PostgreSQL connections after a database restart** (scenario 2b): once PostgreSQL was back, the relay "
    "and the projection runner exited on the first transaction that drew a connection opened before the restart "
    "(`AdminShutdown: terminating connection due to administrator command` / `... unexpected postmaster exit`), "
    "from the side-database pools (`shared/sql.py`) and the event store's pool. Fixed: both pools test a "
    "connection before handing it out (`check=ConnectionPool.check_connection`; `POSTGRES_PRE_PING` for the "
    "store), so they replace it instead of failing. Before the fix the test's supervisor had to restart both "
    "processes after every restart of the database.",
    "**The relay exited while Kafka was away** (scenario 2a): a batch whose publishing failed "
    "(`LeaderNotAvailableError`) ended the process. Fixed: the relay sends the batch again with a backoff "
    "(0.5 s doubling to 10 s) until the broker is back or it is stopped; a batch sent twice only repeats "
    "message ids consumers drop.",
    "**Repeated commands that changed nothing are evaluated afresh** (seen in 2a and 3, not a violation of the "
    "delivery guarantees): a command whose items were all `already` stores nothing (the application suite "
    "requires it), so a redelivery may be answered differently (`already`, later `not_found` once the connection "
    "was deleted). `docs/contracts.md` and the `CommandResult` description now say exactly this (a command that "
    "changed something answers its first result again; one that changed nothing is evaluated afresh); the "
    "checker holds commands to that reading.",
]


def _recovery(scenario: dict[str, Any]) -> str:
    found = scenario.get("recovery_seconds") or {}
    return ", ".join(f"{name} {seconds:g} s" for name, seconds in found.items()) or "n/a (no outage)"


def _row(key: str, s: dict[str, Any]) -> str:
    f = s["figures"]
    cells = [
        f"**{key}** {s['title']}", s["injected"], s["load"],
        f"{f.get('commands_accepted', 0)} of {f.get('commands_sent', 0)} ({f.get('commands_rejected', 0)} refused)",
        str(f.get("events_stored", 0)),
        f"{f.get('messages_published', 0)} ({f.get('messages_distinct', 0)} distinct)",
        str(f.get("duplicates_seen_by_consumers", 0)),
        _recovery(s),
        "yes" if s["held"] else "**NO**",
    ]
    return "| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |"


def _details(key: str, s: dict[str, Any]) -> list[str]:
    f = s["figures"]
    lines = [f"### {key}: {s['title']}", "", f"Run at {s['recorded_at']}.", ""]
    lines.append(f"- Client: {f.get('commands_per_second', 0)} commands/s over {f.get('load_seconds', 0)} s "
                 f"({f.get('commands_over_http', 0)} HTTP, {f.get('commands_over_bus', 0)} bus); client-side "
                 f"errors (retried): {f.get('client_errors') or 'none'}; unanswered: "
                 f"{f.get('commands_unanswered', 0)}.")
    lines.append(f"- Store: {f.get('events_stored', 0)} events, {f.get('commands_recorded_in_store', 0)} command "
                 f"records; topics: {f.get('messages_published', 0)} integration messages for "
                 f"{f.get('messages_expected', 0)} expected, {f.get('job_messages_published', 0)} job messages, "
                 f"{f.get('reports_published', 0)} reports; view rows compared with a rebuild: "
                 f"{f.get('view_rows', 0)}.")
    lines.append(f"- Settled (jobs ended, relay and views at the head) {f.get('settle_seconds', 0)} s after the load "
                 f"stopped; jobs left running: {f.get('jobs_left_running', 0)}.")
    if "process_restarts_by_supervisor" in f:
        lines.append(f"- Processes the test's supervisor had to restart (exited, or no answer on /health/live for "
                     f"20 s): {f['process_restarts_by_supervisor'] or 'none'}.")
    if f.get("dead_letters"):
        lines.append(f"- Dead letters: {f['dead_letters']}.")
    if "rss_start_mib" in f:
        lines += ["", "| process | RSS after warm-up (MiB) | RSS at end (MiB) | growth (MiB) |", "|---|---|---|---|"]
        for name, start in f["rss_start_mib"].items():
            lines.append(f"| {name} | {start} | {f['rss_end_mib'].get(name)} | {f['rss_growth_mib'].get(name)} |")
        lines += ["", f"Bound: at most {f['rss_growth_bound_mib']} MiB growth per process. Throughput: "
                      f"{f['accepted_per_second']} accepted commands/s, {f['events_per_second']} stored events/s; "
                      f"error log lines: {f['error_log_lines']}."]
    shown = {k: v for k, v in f.items() if k.startswith(("silent_", "contested_", "command_repeats", "reports_echo",
                                                          "out_of_order", "events_from_late", "poisons_",
                                                          "topics_poisoned"))}
    if shown:
        lines.append("- Scenario figures: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in shown.items()) + ".")
    broken = {n: i for n, i in s["invariants"].items() if not i["held"]}
    for name, invariant in broken.items():
        lines.append(f"- **{name} broken** ({invariant['violations']}): " + "; ".join(invariant["evidence"]))
    return [*lines, ""]


def _provenance(run: dict[str, Any], scenarios: dict[str, Any]) -> str:
    loads = [s.get("machine_load_average") for s in scenarios.values() if s.get("machine_load_average") is not None]
    load = f" The machine's 1-minute load average when each scenario ended: {min(loads)} to {max(loads)}" \
           " (2 cores; other test suites ran beside it)." if loads else ""
    if set(run.get("scenarios", [])) >= set(scenarios):
        return (f"All figures below are from one run of the whole suite, which took {run['suite_seconds']} s and "
                f"ended {run['finished_at']}.{load}")
    return f"All figures below are from the test runs of {run.get('finished_at', '?')} and before (each row says " \
           f"when).{load}"


def render(report: dict[str, Any]) -> str:
    scenarios = dict(sorted(report["scenarios"].items()))
    lines = [
        "# Reliability: faults, duplicates, poison and soak",
        "",
        "<!-- Rendered by `python -m tests.reliability.report` from test-artifacts/reliability.json; do not edit. -->",
        "",
        "The fault and soak suite (`tests/reliability/`, marker `reliability`, part of `make test`) drives the real",
        "processes (`connections serve`, `relay`, `projections`, driver workers), a real Kafka broker and SQLite or",
        "PostgreSQL, under a steady mixed load of commands from three tenants over HTTP and the command topic",
        "(`tests/reliability/load.py`). After every scenario the stack is let to settle, then the invariant checker",
        "(`tests/reliability/invariants.py`) reads the store, every topic of the run, the views and the logs itself:",
        "",
        *[f"- **{name}**: {text}." for name, text in INVARIANTS.items()],
        "",
        _provenance(report.get("run", {}), scenarios),
        "",
        "| scenario | injected | load held | commands accepted | events stored | messages published "
        "(events topic) | duplicates seen by consumers | recovery after the fault | invariants held |",
        "|---|---|---|---|---|---|---|---|---|",
        *[_row(key, s) for key, s in scenarios.items()],
        "",
        "Recovery is measured from the end of the fault (process restarted, broker or database started again) until",
        "a new connection created by a client went the whole way (command, store, relay, worker, report, view), or",
        "until the jobs in flight at the fault ended. Duplicates are records on `connections.events.v1` whose message",
        "id a consumer had already seen.",
        "",
        "## Found and fixed on the way",
        "",
        *[f"- {finding}" for finding in FINDINGS],
        "",
        "## Scenarios in detail",
        "",
    ]
    for key, scenario in scenarios.items():
        lines += _details(key, scenario)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--out", type=Path, default=DEFAULT_DOC)
    args = parser.parse_args()
    args.out.write_text(render(json.loads(args.report.read_text())))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
