"""The Helm chart (deploy/helm/hypercube), linted and rendered by Helm's own engine offline
(helm-python-sdk binds Helm v4's Go SDK; no helm binary, cluster or network): every rendered
manifest is valid against Kubernetes' schemas, the values schema refuses bad values, and the
chart renders exactly the Kustomize base's deployment, so the two cannot drift apart."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import SETTINGS
from tests.k8s_helpers import (
    DECLARED_SETTINGS,
    VERSIONS,
    base_documents,
    by_kind,
    check_commands_and_settings,
    check_references,
    pod_specs,
    validate_strictly,
)

# Helm's engine ships as a Linux x86-64 wheel only (pyproject's dev extra says so).
helm = pytest.importorskip("helm_python")

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "deploy" / "helm" / "hypercube"
RELEASE = NAMESPACE = "hypercube"

# Settings the chart sets itself, and those that mean nothing to a read-only replica (or
# would put a key in a ConfigMap): neither may appear in `settings`. Every other declared
# setting must be allowed there, so a new setting forces a decision here.
SET_BY_THE_CHART = {"HYPERCUBE_HOST", "HYPERCUBE_PORT", "HYPERCUBE_DATA_DIR",
                    "HYPERCUBE_API_KEY_FILE", "HYPERCUBE_DB", "HYPERCUBE_READ_ONLY"}
# Replicas serve a snapshot read-only: they never ingest (nor build model segments).
NOT_FOR_REPLICAS = {"HYPERCUBE_API_KEY", "HYPERCUBE_ADMIN_KEY", "HYPERCUBE_ADMIN_KEY_FILE",
                    "HYPERCUBE_INGEST_ROOT", "HYPERCUBE_SEGMENT_TOKENS"}

KEYS = ["k" * 16 + "-first-key", "k" * 16 + "-second-key"]
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "five replicas, autoscaling off": {"replicaCount": 5, "autoscaling": {"enabled": False}},
    "existing secret": {"apiKeys": {"existingSecret": "team-keys",
                                    "existingSecretKey": "keys.txt"}},
    "keys given": {"apiKeys": {"keys": KEYS}},
    "ingest off": {"ingest": {"enabled": False}},
    "existing claims": {"persistence": {
        name: {"existingClaim": f"shared-{name}"} for name in ("snapshots", "work", "sources")}},
    "large numbers": {"settings": {"HYPERCUBE_MAX_BODY_BYTES": 100_000_000,
                                   "HYPERCUBE_MAX_REQUEST_TOKENS": 1_000_000},
                      "autoscaling": {"maxReplicas": 1_000_000},
                      "terminationGracePeriodSeconds": 1_000_000,
                      "ingest": {"activeDeadlineSeconds": 1_000_000},
                      "persistence": {"sources": {"size": 500_000_000_000}}},
    "everything else on": {
        "fullnameOverride": "cube",
        "image": {"repository": "registry.example.internal/hypercube",
                  "digest": "sha256:" + "a" * 64},
        "imagePullSecrets": [{"name": "regcred"}],
        "settings": {"HYPERCUBE_OTLP_ENDPOINT": "http://otel-collector:4318",
                     "HYPERCUBE_RATE_LIMIT": 2.5},
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
        "serviceAccount": {"create": False},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway"}],
        "service": {"type": "LoadBalancer", "nodePort": 30080,
                    "annotations": {"example.com/lb": "internal"}},
        "ingress": {"enabled": True, "className": "nginx",
                    "annotations": {"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
                    "tls": [{"secretName": "cube-tls", "hosts": ["cube.example.internal"]}],
                    "hosts": [{"host": "cube.example.internal",
                               "paths": [{"path": "/v1", "pathType": "Prefix"}]}]},
        "autoscaling": {"targetMemoryUtilizationPercentage": 80},
        "podDisruptionBudget": {"minAvailable": None, "maxUnavailable": 1},
        "persistence": {"snapshots": {"storageClass": "-"}, "work": {"storageClass": "fast"}},
        "ingest": {"timeZone": "Europe/Berlin", "suspend": True, "prune": False,
                   "podAnnotations": {"example.com/owner": "search"}},
    },
}


@pytest.fixture(scope="module")
def chart() -> Iterator[Any]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: Any, values: dict[str, Any] | None = None) -> tuple[list[dict], str]:
    """(the manifests, NOTES.txt) of an install of ``values``, as `helm template` makes them."""
    rendered = chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE,
                            is_install=True)
    notes = rendered.pop(f"{chart.name}/templates/NOTES.txt")
    docs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    return docs, notes


def kinds(docs: list[dict]) -> list[str]:
    return sorted(d["kind"] for d in docs)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_lint_is_clean_strictly(name: str, version: str) -> None:
    report = helm.lint(CHART, copy.deepcopy(VALUE_SETS[name]), strict=True,
                       namespace=NAMESPACE, kube_version=f"v{version}")
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert problems == []


def test_the_packaged_chart_renders_the_same(chart: Any, tmp_path: Path) -> None:
    """`helm package` keeps every template (.helmignore leaves none out)."""
    archive = helm.package(CHART, destination=tmp_path)
    assert Path(archive).name == f"hypercube-{chart.version}.tgz"
    with helm.Chart.load(archive) as packaged:
        assert packaged.schema == chart.schema
        assert sorted(t["name"] for t in packaged.templates) == sorted(
            t["name"] for t in chart.templates)
        ours, _ = render(packaged, VALUE_SETS["keys given"])
    theirs, _ = render(chart, VALUE_SETS["keys given"])
    assert ours == theirs


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_every_rendered_manifest_validates_strictly(chart: Any, name: str, version: str) -> None:
    values = VALUE_SETS[name]
    docs, notes = render(chart, values)
    validate_strictly(docs, version)
    existing_secret = values.get("apiKeys", {}).get("existingSecret")
    check_references(docs, secrets=[existing_secret] if existing_secret else [],
                     claims=[c["existingClaim"] for c in values.get("persistence", {}).values()
                             if c.get("existingClaim")])
    check_commands_and_settings(docs)
    assert notes.strip()
    for doc in docs:
        assert doc["metadata"]["namespace"] == NAMESPACE
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/name"] == "hypercube"


def test_defaults_make_the_whole_deployment(chart: Any) -> None:
    docs, notes = render(chart)
    assert kinds(docs) == ["ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler",
                           "PersistentVolumeClaim", "PersistentVolumeClaim",
                           "PersistentVolumeClaim", "PodDisruptionBudget", "Secret", "Service",
                           "ServiceAccount"]
    (deployment,) = by_kind(docs, "Deployment")
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    (secret,) = by_kind(docs, "Secret")
    generated = base64.b64decode(secret["data"]["api-keys"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{48}\n", generated)
    assert "kubectl get secret hypercube-api-keys" in notes
    assert "kubectl create job --from=cronjob/hypercube-ingest" in notes


def test_a_generated_key_does_not_roll_the_pods(chart: Any) -> None:
    """Each offline render draws a new key, but the pods' checksum is over the values, so
    only a change of settings or keys rolls them."""
    first, _ = render(chart)
    second, _ = render(chart)
    assert by_kind(first, "Secret") != by_kind(second, "Secret")
    assert by_kind(first, "Deployment") == by_kind(second, "Deployment")
    annotations = by_kind(render(chart, {"settings": {"HYPERCUBE_THREADS": 8}})[0],
                          "Deployment")[0]["spec"]["template"]["metadata"]["annotations"]
    before = by_kind(first, "Deployment")[0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/settings"] != before["checksum/settings"]
    assert annotations["checksum/api-keys"] == before["checksum/api-keys"]


def test_replicas_without_autoscaling(chart: Any) -> None:
    docs, _ = render(chart, VALUE_SETS["five replicas, autoscaling off"])
    assert by_kind(docs, "HorizontalPodAutoscaler") == []
    (deployment,) = by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 5


def test_an_existing_secret_is_mounted_not_made(chart: Any) -> None:
    docs, notes = render(chart, VALUE_SETS["existing secret"])
    assert by_kind(docs, "Secret") == []
    (deployment,) = by_kind(docs, "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["api-keys"]["secret"]["secretName"] == "team-keys"
    assert volumes["api-keys"]["secret"]["items"] == [{"key": "keys.txt", "path": "api-keys"}]
    assert "team-keys" in notes


def test_given_keys_make_the_secret(chart: Any) -> None:
    docs, _ = render(chart, VALUE_SETS["keys given"])
    (secret,) = by_kind(docs, "Secret")
    assert base64.b64decode(secret["data"]["api-keys"]).decode() == "\n".join(KEYS) + "\n"


def test_ingest_off_leaves_only_the_snapshots_claim(chart: Any) -> None:
    docs, notes = render(chart, VALUE_SETS["ingest off"])
    assert by_kind(docs, "CronJob") == []
    assert [d["metadata"]["name"] for d in by_kind(docs, "PersistentVolumeClaim")] == [
        "hypercube-snapshots"]
    assert "ingest.enabled=false" in notes


def test_existing_claims_are_used_not_made(chart: Any) -> None:
    docs, _ = render(chart, VALUE_SETS["existing claims"])
    assert by_kind(docs, "PersistentVolumeClaim") == []
    claims = {v["persistentVolumeClaim"]["claimName"] for spec in pod_specs(docs)
              for v in spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"shared-snapshots", "shared-work", "shared-sources"}


def test_the_optional_objects(chart: Any) -> None:
    docs, notes = render(chart, VALUE_SETS["everything else on"])
    (ingress,) = by_kind(docs, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "cube",
                                                             "port": {"name": "http"}}
    assert "https://cube.example.internal/v1" in notes
    (deployment,) = by_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == ("registry.example.internal/hypercube@sha256:"
                                             + "a" * 64)
    assert pod["serviceAccountName"] == "default"
    assert by_kind(docs, "ServiceAccount") == []
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"][
        "matchLabels"]
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu", "memory"]
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    claims = {d["metadata"]["name"]: d["spec"] for d in by_kind(docs, "PersistentVolumeClaim")}
    assert claims["cube-snapshots"]["storageClassName"] == ""
    assert claims["cube-work"]["storageClassName"] == "fast"
    assert "storageClassName" not in claims["cube-sources"]
    (cronjob,) = by_kind(docs, "CronJob")
    assert cronjob["spec"]["suspend"] is True
    assert "--prune" not in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "initContainers"][0]["args"]
    (config_map,) = by_kind(docs, "ConfigMap")
    assert config_map["data"]["HYPERCUBE_RATE_LIMIT"] == "2.5"
    assert config_map["data"]["HYPERCUBE_OTLP_ENDPOINT"] == "http://otel-collector:4318"


def test_large_numbers_stay_integers(chart: Any) -> None:
    """Helm reads numbers as floats; printed as they are, 1000000 would become 1e+06."""
    docs, _ = render(chart, VALUE_SETS["large numbers"])
    (config_map,) = by_kind(docs, "ConfigMap")
    assert config_map["data"]["HYPERCUBE_MAX_BODY_BYTES"] == "100000000"
    assert config_map["data"]["HYPERCUBE_MAX_REQUEST_TOKENS"] == "1000000"
    (cronjob,) = by_kind(docs, "CronJob")
    assert cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1_000_000
    assert by_kind(docs, "HorizontalPodAutoscaler")[0]["spec"]["maxReplicas"] == 1_000_000
    sources = next(d for d in by_kind(docs, "PersistentVolumeClaim")
                   if d["metadata"]["name"] == "hypercube-sources")
    assert sources["spec"]["resources"]["requests"]["storage"] == 500_000_000_000


BAD_VALUES = {
    "negative replicas": ({"replicaCount": -1}, "/replicaCount"),
    "no replicas": ({"replicaCount": 0}, "/replicaCount"),
    "replicas as text": ({"replicaCount": "three"}, "/replicaCount"),
    "unknown key": ({"replicas": 3}, "'replicas' not allowed"),
    "misspelt nested key": ({"image": {"tags": "0.1.0"}}, "'tags' not allowed"),
    "unknown setting": ({"settings": {"HYPERCUBE_THREAD": 4}}, "'HYPERCUBE_THREAD' not allowed"),
    "a setting the chart sets": ({"settings": {"HYPERCUBE_HOST": "::"}},
                                 "'HYPERCUBE_HOST' not allowed"),
    "a key in the ConfigMap": ({"settings": {"HYPERCUBE_API_KEY": "k" * 20}},
                               "'HYPERCUBE_API_KEY' not allowed"),
    "a setting in extraEnv": ({"extraEnv": [{"name": "HYPERCUBE_THREADS", "value": "4"}]},
                              "/extraEnv/0/name"),
    "pull policy": ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    "access mode": ({"persistence": {"snapshots": {"accessModes": ["ReadWriteSometimes"]}}},
                    "/persistence/snapshots/accessModes/0"),
    "size": ({"persistence": {"work": {"size": "lots"}}}, "/persistence/work/size"),
    "schedule": ({"ingest": {"schedule": "nightly"}}, "/ingest/schedule"),
    "short key": ({"apiKeys": {"keys": ["short"]}}, "/apiKeys/keys/0"),
    "snapshot path": ({"snapshot": {"file": "../etc/passwd"}}, "/snapshot/file"),
    "probe command": ({"probes": {"liveness": {"exec": {"command": ["true"]}}}},
                      "'exec' not allowed"),
    "port": ({"service": {"port": 70000}}, "/service/port"),
    "cpu target": ({"autoscaling": {"targetCPUUtilizationPercentage": 0}},
                   "/autoscaling/targetCPUUtilizationPercentage"),
}


@pytest.mark.parametrize("name", list(BAD_VALUES))
def test_the_schema_refuses_bad_values(chart: Any, name: str) -> None:
    values, where = BAD_VALUES[name]
    with pytest.raises(helm.HelmValuesError, match=re.escape(where)):
        render(chart, values)
    with pytest.raises(helm.HelmValuesError, match=re.escape(where)):
        chart.validate_schema(chart.merge_values(copy.deepcopy(values)))
    report = helm.lint(CHART, copy.deepcopy(values), namespace=NAMESPACE)
    assert any(where in error for error in report["errors"]), report


@pytest.mark.parametrize(("values", "message"), [
    ({"autoscaling": {"enabled": False}, "replicaCount": 2},
     "podDisruptionBudget.minAvailable (2) must be below the replica count (2)"),
    ({"autoscaling": {"minReplicas": 2}}, "must be below the replica count (2)"),
    ({"autoscaling": {"minReplicas": 6, "maxReplicas": 4}},
     "autoscaling.minReplicas (6) is above autoscaling.maxReplicas (4)"),
    ({"podDisruptionBudget": {"minAvailable": None}}, "set minAvailable or maxUnavailable"),
])
def test_templates_refuse_values_that_contradict_each_other(
        chart: Any, values: dict, message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(chart, values)


def test_a_budget_below_the_replicas_renders(chart: Any) -> None:
    docs, _ = render(chart, {"autoscaling": {"enabled": False}, "replicaCount": 1,
                             "podDisruptionBudget": {"enabled": False}})
    assert by_kind(docs, "PodDisruptionBudget") == []
    docs, _ = render(chart, {"podDisruptionBudget": {"minAvailable": "50%"}})
    assert by_kind(docs, "PodDisruptionBudget")[0]["spec"]["minAvailable"] == "50%"


def test_the_schema_allows_exactly_the_settings_a_replica_reads() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = set(schema["properties"]["settings"]["properties"])
    assert allowed <= DECLARED_SETTINGS
    assert not allowed & (SET_BY_THE_CHART | NOT_FOR_REPLICAS)
    assert allowed | SET_BY_THE_CHART | NOT_FOR_REPLICAS == DECLARED_SETTINGS
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["settings"]
    for env, value in defaults.items():  # the defaults parse as the app parses them
        (setting,) = (s for s in SETTINGS.values() if s.env == env)
        setting.parse(str(value))


def _documented_paths(schema: dict, node: dict, path: tuple[str, ...]) -> Iterator[tuple]:
    """The chart's own value paths (Kubernetes shapes such as resources count as one)."""
    for key, child in node.get("properties", {}).items():
        yield (*path, key)
        ref = child.get("$ref", "")
        if ref in ("#/definitions/resources", "#/definitions/probe"):
            continue
        if ref:
            child = schema["definitions"][ref.rsplit("/", 1)[1]]
        yield from _documented_paths(schema, child, (*path, key))


def test_every_value_has_a_comment() -> None:
    text = (CHART / "values.yaml").read_text()
    lines = text.splitlines()
    root = yaml.compose(text)
    schema = json.loads((CHART / "values.schema.json").read_text())

    def line_of(path: tuple[str, ...]) -> int | None:
        node = root
        line = None
        for key in path:
            found = [(k, v) for k, v in node.value if k.value == key] if isinstance(
                node, yaml.MappingNode) else []
            if not found:
                return None
            line, node = found[0][0].start_mark.line, found[0][1]
        return line

    undocumented = []
    for path in _documented_paths(schema, schema, ()):
        line = line_of(path)
        if line is not None and not lines[line - 1].strip().startswith("#"):
            undocumented.append(".".join(path))
    assert not undocumented, "no comment above: " + ", ".join(undocumented)


# What the chart adds to the base, on purpose: its own labels, the release in selectors, a
# ServiceAccount without an API token, checksums that roll the pods when settings change,
# the namespace, and no replica count beside the HPA.
def _comparable(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["metadata"] = {"name": doc["metadata"]["name"]}
    spec = doc.get("spec", {})
    spec.pop("selector", None)
    pod = None
    if doc["kind"] == "Deployment":
        spec.pop("replicas", None)
        pod = spec["template"]
    if doc["kind"] == "CronJob":
        pod = spec["jobTemplate"]["spec"]["template"]
    if pod is not None:
        pod.pop("metadata")
        pod["spec"].pop("serviceAccountName", None)
        pod["spec"].pop("automountServiceAccountToken", None)
    return doc


def test_the_chart_renders_the_kustomize_base(chart: Any) -> None:
    """With its defaults the chart makes the base's objects with the base's specs: the same
    args, probes, ports, read-only mounts, resources and security contexts."""
    base = base_documents()
    docs, _ = render(chart)
    chart_only = {"Secret", "ServiceAccount"}  # the base's Secret comes from its overlay
    assert sorted((d["kind"], d["metadata"]["name"]) for d in base) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] not in chart_only)
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for doc in base:
        mine = rendered[doc["kind"], doc["metadata"]["name"]]
        assert _comparable(mine) == _comparable(doc), doc["kind"]
        if "selector" in doc.get("spec", {}):  # the chart selects the same pods, and its own
            theirs = doc["spec"]["selector"].get("matchLabels", doc["spec"]["selector"])
            ours = mine["spec"]["selector"].get("matchLabels", mine["spec"]["selector"])
            assert theirs.items() <= ours.items()
            assert set(ours) - set(theirs) == {"app.kubernetes.io/instance"}

    (base_deployment,) = by_kind(base, "Deployment")
    (base_hpa,) = by_kind(base, "HorizontalPodAutoscaler")
    defaults = chart.values
    assert defaults["replicaCount"] == base_deployment["spec"]["replicas"]
    assert defaults["autoscaling"]["minReplicas"] == base_hpa["spec"]["minReplicas"]
    (base_cronjob,) = by_kind(base, "CronJob")
    (deployment,) = by_kind(docs, "Deployment")
    (cronjob,) = by_kind(docs, "CronJob")
    for theirs, ours in [(base_deployment["spec"]["template"], deployment["spec"]["template"]),
                         (base_cronjob["spec"]["jobTemplate"]["spec"]["template"],
                          cronjob["spec"]["jobTemplate"]["spec"]["template"])]:
        assert theirs["metadata"]["labels"].items() <= ours["metadata"]["labels"].items()


def test_the_readme_install_command_renders(chart: Any) -> None:
    readme = (REPO / "deploy" / "README.md").read_text()
    (command,) = re.findall(r"^helm install hypercube deploy/helm/hypercube .*?(?<!\\)$",
                            readme, flags=re.MULTILINE | re.DOTALL)
    assert "-n hypercube --create-namespace" in command
    values: dict[str, Any] = {}
    for expression in re.findall(r"--set (\S+)", command):
        _merge(values, helm.parse_set_string(expression))
    assert values, command
    docs, _ = render(chart, values)
    validate_strictly(docs, VERSIONS[-1])


def test_the_readme_describes_every_value_group() -> None:
    readme = (REPO / "deploy" / "README.md").read_text()
    section = readme[readme.index("## Helm"):]
    section = section[:section.index("\n## ", 1)]
    named = set(re.findall(r"`([^`\s]+)`", "\n".join(
        line for line in section.splitlines() if line.startswith("| `"))))

    def described(key: str) -> bool:
        return any(name == key or name.startswith((f"{key}.", f"{key}*"))
                   or (name.endswith("*") and key.startswith(name[:-1])) for name in named)

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert [key for key in values if not described(key)] == []


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
