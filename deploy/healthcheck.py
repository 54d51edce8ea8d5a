"""The image's HEALTHCHECK: ask the container's own process the question that fits it.

One image runs every process, so the check reads which one is PID 1 (``connections serve``, ``relay``, ...)
and asks it: the commands API's ``/health/live``, the views API's ``/health/live``, ``/metrics`` for the
relay and workers (when ``OMNI_METRICS_PORT`` is set), or the demo marketplaces' port. Exit 0 = healthy.
Liveness only: readiness (store, broker, view lag) is for the orchestrator's traffic decisions, and a
container must not be restarted because Kafka is away.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path


def _process() -> list[str]:
    try:
        return Path("/proc/1/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return sys.argv[1:]


def _get(port: str, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=4) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except OSError:
        return False


def _listening(port: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=4):
            return True
    except OSError:
        return False


def healthy(argv: list[str], env: dict[str, str]) -> bool:
    """Whether the process that ``argv`` started answers where it should."""
    if "tests.fakes" in argv:
        port = argv[argv.index("--port") + 1] if "--port" in argv else "8900"
        return _listening(port)
    if "serve" in argv:
        return _get(env.get("OMNI_HTTP_PORT", "8000"), "/health/live")
    if "projections" in argv:
        return _get(env.get("OMNI_QUERY_PORT", "8001"), "/health/live")
    metrics = env.get("OMNI_METRICS_PORT", "0")
    return metrics == "0" or _get(metrics, "/metrics")  # relay, worker: alive while PID 1 runs


if __name__ == "__main__":
    sys.exit(0 if healthy(_process(), dict(os.environ)) else 1)
