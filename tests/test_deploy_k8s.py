"""The Kubernetes manifests: valid against Kubernetes' own schemas (offline), and consistent
with each other and with the application they run."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.cli import build_parser
from app.settings import SETTINGS

BASE = Path(__file__).resolve().parent.parent / "deploy" / "k8s" / "base"
OVERLAY = BASE.parent / "overlays" / "example"
# The oldest Kubernetes release still supported by the major providers, and the newest.
VERSIONS = ["1.30.0", "1.37.0"]


def _documents() -> list[dict]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((BASE / name).read_text()) if d)
    return docs


def _by_kind(kind: str) -> list[dict]:
    return [d for d in _documents() if d["kind"] == kind]


def _pod_specs() -> list[dict]:
    specs = [d["spec"]["template"]["spec"] for d in _by_kind("Deployment")]
    specs += [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in _by_kind("CronJob")]
    return specs


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(version: str) -> None:
    docs = _documents() + [d for d in yaml.safe_load_all(
        (OVERLAY / "namespace.yaml").read_text()) if d]
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler",
                     "Namespace", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_selectors_and_references_meet() -> None:
    (deployment,) = _by_kind("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    (service,) = _by_kind("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (pdb,) = _by_kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    (hpa,) = _by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= deployment["spec"]["replicas"]

    claims = {d["metadata"]["name"] for d in _by_kind("PersistentVolumeClaim")}
    config_maps = {d["metadata"]["name"] for d in _by_kind("ConfigMap")}
    overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    secrets = {g["name"] for g in overlay["secretGenerator"]}
    for spec in _pod_specs():
        volumes = {v["name"]: v for v in spec["volumes"]}
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
        for container in spec.get("initContainers", []) + spec["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_containers_run_real_commands_and_settings() -> None:
    parser = build_parser()
    for spec in _pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            parser.parse_args(container["args"])  # exits (fails the test) if not a command
            for env in container.get("env", []):
                assert env["name"] in {s.env for s in SETTINGS.values()}
    declared = {s.env for s in SETTINGS.values()}
    for config_map in _by_kind("ConfigMap"):
        assert set(config_map["data"]) <= declared


def test_probes_ask_the_health_endpoint() -> None:
    (deployment,) = _by_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["ports"][0]["name"] == "http"
    assert "--read-only" in container["args"]
