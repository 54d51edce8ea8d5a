"""``deploy/compose.yaml`` validated offline: the Compose Specification (compose-spec's bindings) and our rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from contracts.drivers import CATALOG
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def resolved(text: str) -> dict[str, Any]:
    """The file as Compose reads it: anchors and ``<<`` merges resolved, ``x-`` extension blocks dropped."""
    document = yaml.safe_load(text)
    return {key: value for key, value in document.items() if not key.startswith("x-")}


def validate(text: str) -> Any:
    """Parse against the Compose Specification; raises on unknown keys, wrong types, unknown values."""
    return PyCompose.from_json(json.dumps(resolved(text))).to_spec()


FILE = COMPOSE.read_text()
SERVICES: dict[str, dict[str, Any]] = resolved(FILE)["services"]


def test_the_compose_file_follows_the_compose_specification() -> None:
    spec = validate(FILE)
    assert set(spec.services) == set(SERVICES)


@pytest.mark.parametrize(("change", "why"), [
    (("restart: unless-stopped", "restrat: unless-stopped"), "a misspelt key"),
    (("      retries: 12\n", "      retries: often\n"), "a wrong type"),
    (("condition: service_healthy", "condition: healthy"), "an unknown value"),
])
def test_the_validation_catches_mistakes(change: tuple[str, str], why: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the parser's message names the key; any refusal will do
        validate(FILE.replace(*change, 1))


def test_every_process_and_every_driver_runs() -> None:
    commands = {name: service.get("command") for name, service in SERVICES.items()}
    for process in ("serve", "relay", "projections"):
        assert [process] in commands.values(), process
    workers = {c[c.index("--driver") + 1] for c in commands.values() if c and c[0] == "worker"}
    assert workers == set(CATALOG)
    assert SERVICES["marketplaces"]["entrypoint"][:3] == ["python", "-m", "tests.fakes"]


def test_kafka_is_the_official_image_in_kraft_mode_and_postgres_is_the_store() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in kafka["environment"]
    assert SERVICES["serve"]["environment"]["OMNI_STORE"] == "postgres"
    assert "postgres" in SERVICES["serve"]["depends_on"]


def test_images_are_pinned_and_ours_is_built_from_the_dockerfile() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
        if image.startswith("omni-connections"):
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_every_omni_variable_is_a_setting_and_its_value_is_valid() -> None:
    fields = {f"OMNI_{name.upper()}" for name in Settings.model_fields}
    for name, service in SERVICES.items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items() if k.startswith("OMNI_")}
        assert set(env) <= fields, f"{name}: unknown settings {set(env) - fields}"
        Settings.model_validate({k.removeprefix("OMNI_").lower(): v for k, v in env.items()})


def test_dependencies_exist_and_processes_wait_for_kafka_postgres_and_topics() -> None:
    for name, service in SERVICES.items():
        for needed in service.get("depends_on") or {}:
            assert needed in SERVICES, f"{name} depends on unknown {needed}"
    for name in ("serve", "relay", "projections", "worker-pos"):
        assert {"kafka", "postgres", "topics"} <= set(SERVICES[name]["depends_on"])


def test_processes_sharing_a_network_namespace_use_distinct_metrics_ports() -> None:
    shared = [s for s in SERVICES.values() if s.get("network_mode") == "service:marketplaces"]
    ports = [s["environment"]["OMNI_METRICS_PORT"] for s in shared]
    assert len(ports) == len(set(ports)) == len(CATALOG)
