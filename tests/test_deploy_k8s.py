"""The Kubernetes manifests: valid against Kubernetes' own schemas (offline), and consistent
with each other and with the application they run."""

from __future__ import annotations

import pytest
import yaml

from tests.k8s_helpers import (
    BASE,
    VERSIONS,
    base_documents,
    by_kind,
    check_commands_and_settings,
    check_references,
    validate_strictly,
)

OVERLAY = BASE.parent / "overlays" / "example"


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(version: str) -> None:
    docs = base_documents() + [d for d in yaml.safe_load_all(
        (OVERLAY / "namespace.yaml").read_text()) if d]
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler",
                     "Namespace", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]
    validate_strictly(docs, version)


def test_selectors_and_references_meet() -> None:
    overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    check_references(base_documents(), secrets={g["name"] for g in overlay["secretGenerator"]})


def test_containers_run_real_commands_and_settings() -> None:
    check_commands_and_settings(base_documents())


def test_probes_ask_the_health_endpoint() -> None:
    (deployment,) = by_kind(base_documents(), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["ports"][0]["name"] == "http"
    assert "--read-only" in container["args"]
