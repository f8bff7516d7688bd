"""Checks shared by the Kustomize base's tests and the Helm chart's: strict validation against
Kubernetes' own schemas (offline, kubernetes-validate), and the references between objects."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import kubernetes_validate
import yaml

from app.cli import build_parser
from app.settings import SETTINGS

# The oldest Kubernetes release still supported by the major providers, and the newest.
VERSIONS = ["1.30.0", "1.37.0"]
DECLARED_SETTINGS = {s.env for s in SETTINGS.values()}
BASE = Path(__file__).resolve().parent.parent / "deploy" / "k8s" / "base"


def base_documents() -> list[dict]:
    """The Kustomize base's manifests, in its kustomization's order."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((BASE / name).read_text()) if d)
    return docs


_VALID: set[tuple[str, str]] = set()  # (version, manifest) already validated in this run


def validate_strictly(docs: Iterable[dict], version: str) -> None:
    """Every manifest against that release's schemas; unknown fields are errors. (Each
    validation loads the schemas anew, so a manifest met before is not validated again.)"""
    for doc in docs:
        key = (version, json.dumps(doc, sort_keys=True))
        if key not in _VALID:
            kubernetes_validate.validate(doc, version, strict=True)
            _VALID.add(key)


def by_kind(docs: Iterable[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict]) -> list[dict]:
    specs = [d["spec"]["template"]["spec"] for d in by_kind(docs, "Deployment")]
    specs += [d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
              for d in by_kind(docs, "CronJob")]
    return specs


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def check_references(docs: list[dict], *, secrets: Iterable[str] = (),
                     claims: Iterable[str] = ()) -> None:
    """Selectors meet the pods, and every claim, ConfigMap and Secret a pod names exists
    among ``docs`` (or in ``secrets``/``claims``: made outside them); the budget leaves
    room to drain a node; containers run unprivileged on a read-only root."""
    (deployment,) = by_kind(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()

    replicas = deployment["spec"].get("replicas")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    for hpa in hpas:
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        if replicas is not None:
            assert hpa["spec"]["minReplicas"] >= replicas
    assert replicas is not None or hpas, "nothing sets the number of replicas"
    floor = replicas if replicas is not None else hpas[0]["spec"]["minReplicas"]
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        if isinstance(pdb["spec"].get("minAvailable"), int):
            assert pdb["spec"]["minAvailable"] < floor

    claims = {d["metadata"]["name"] for d in by_kind(docs, "PersistentVolumeClaim")} | set(claims)
    config_maps = {d["metadata"]["name"] for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"] for d in by_kind(docs, "Secret")} | set(secrets)
    for spec in pod_specs(docs):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
        for container in containers(spec):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True


def check_commands_and_settings(docs: list[dict]) -> None:
    """Containers run real ``hypercube`` commands, with only settings the app declares, set
    to values it accepts."""
    parser = build_parser()
    for spec in pod_specs(docs):
        for container in containers(spec):
            parser.parse_args(container["args"])  # exits (fails the test) if not a command
            for env in container.get("env", []):
                if env["name"].startswith("HYPERCUBE_"):
                    assert env["name"] in DECLARED_SETTINGS
    by_env = {s.env: s for s in SETTINGS.values()}
    for config_map in by_kind(docs, "ConfigMap"):
        assert set(config_map["data"]) <= DECLARED_SETTINGS
        for env, value in config_map["data"].items():
            by_env[env].parse(value)  # raises (fails the test) where the app would refuse it
