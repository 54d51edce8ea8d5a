"""``deploy/k8s`` validated offline: Kubernetes schemas (kubernetes-validate, strict) and the deployment rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from contracts.drivers import CATALOG
from shared.settings import Settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES = "1.30.0"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


FILES = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
ALL = [(name, doc) for name in FILES for doc in documents(name)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in ALL if doc["kind"] == kind]


DEPLOYMENTS = {d["metadata"]["name"]: d for d in of_kind("Deployment")}


@pytest.mark.parametrize(("name", "doc"), ALL, ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in ALL])
def test_every_manifest_is_valid_kubernetes(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_validation_catches_a_misplaced_field() -> None:
    broken = copy.deepcopy(DEPLOYMENTS["omni-serve"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(set(FILES) - {"secret.example.yaml"})


def test_a_deployment_per_process_and_per_driver() -> None:
    args = {tuple(d["spec"]["template"]["spec"]["containers"][0]["args"]) for d in DEPLOYMENTS.values()}
    assert {("serve",), ("relay",), ("projections",)} <= args
    assert {("worker", "--driver", driver) for driver in CATALOG} <= args


def test_one_relay_and_one_projection_runner_never_two_during_a_rollout() -> None:
    for name in ("omni-relay", "omni-projections"):
        spec = DEPLOYMENTS[name]["spec"]
        assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate", name
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind("HorizontalPodAutoscaler")}
    assert not scaled & {"omni-relay", "omni-projections"}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_container_has_probes_resources_and_runs_unprivileged(name: str) -> None:
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["containers"]:
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container)
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"omni-connections"} and len(container["envFrom"]) == 2  # ConfigMap and Secret


def test_http_processes_are_ready_only_when_their_checks_pass() -> None:
    for name in ("omni-serve", "omni-projections"):
        container = DEPLOYMENTS[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"


def test_every_deployment_has_a_disruption_budget_selecting_it() -> None:
    budgets = [b["spec"]["selector"]["matchLabels"] for b in of_kind("PodDisruptionBudget")]
    for name, deployment in DEPLOYMENTS.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(selector.items() <= labels.items() for selector in budgets), name


def test_http_scales_on_cpu_and_workers_on_their_group_lag() -> None:
    by_target = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["metrics"][0] for h in of_kind("HorizontalPodAutoscaler")}
    assert by_target["omni-serve"]["resource"]["name"] == "cpu"
    for driver in CATALOG:
        metric = by_target[f"omni-worker-{driver}"]["external"]["metric"]
        assert metric["name"] == "omni_consumer_group_lag_messages"
        assert metric["selector"]["matchLabels"] == {"group": f"driver-{driver}"}


def test_config_and_secret_hold_only_known_valid_settings() -> None:
    fields = {f"OMNI_{name.upper()}" for name in Settings.model_fields}
    config = of_kind("ConfigMap")[0]["data"]
    secret = of_kind("Secret")[0]["stringData"]
    for key in [*config, *secret]:
        assert not key.startswith("OMNI_") or key in fields, f"unknown setting {key}"
    assert {"OMNI_DATABASE_URL", "OMNI_MASTER_KEYS", "OMNI_WORKER_KEY", "OMNI_API_TOKENS"} <= set(secret)
    assert not {"OMNI_DATABASE_URL", "OMNI_MASTER_KEYS", "OMNI_WORKER_KEY"} & set(config), "secrets belong in the Secret"
    Settings.model_validate({k.removeprefix("OMNI_").lower(): v for k, v in config.items() if k.startswith("OMNI_")})
