"""deploy/k8s, checked offline: schemas of a real Kubernetes version, and the wiring between
the manifests (names, probes, secrets, commands) that a schema cannot see."""

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy_support import (
    K8S,
    ROOT,
    env_file,
    k8s_named,
    k8s_resources,
    kustomization,
    pod_spec,
    settings_sources,
)

KUBERNETES_VERSION = "1.30"
WORKLOADS = [("Deployment", "mge-web"), ("Deployment", "mge-worker"), ("Job", "mge-migrate")]


@pytest.mark.parametrize(
    "doc", k8s_resources(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_each_manifest_is_valid_for_the_kubernetes_version(doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_is_caught_by_the_validation():
    service = k8s_named("Service", "mge-web")
    broken = {**service, "spec": {**service["spec"], "selectr": service["spec"]["selector"]}}

    with pytest.raises(kubernetes_validate.ValidationError, match="selectr"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_web_probes_ask_healthz_for_liveness_and_readyz_for_readiness():
    [web] = pod_spec(k8s_named("Deployment", "mge-web"))["containers"]

    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_autoscaler_and_the_service_point_at_the_web_deployment():
    web = k8s_named("Deployment", "mge-web")
    hpa = k8s_named("HorizontalPodAutoscaler", "mge-web")
    service = k8s_named("Service", "mge-web")

    assert hpa["spec"]["scaleTargetRef"]["name"] == "mge-web"
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    assert hpa["spec"]["minReplicas"] >= 2


def test_the_ingress_reaches_the_web_service_with_long_socket_timeouts():
    ingress = k8s_named("Ingress", "mge")
    [path] = ingress["spec"]["rules"][0]["http"]["paths"]

    assert path["backend"]["service"]["name"] == "mge-web"
    assert (
        int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"])
        >= 3600
    )


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_workloads_use_only_config_secrets_and_claims_that_exist(kind, name):
    spec = pod_spec(k8s_named(kind, name))
    generated = {g["name"] for g in kustomization()["configMapGenerator"]}
    secrets = {g["name"] for g in kustomization()["secretGenerator"]}
    claims = {
        d["metadata"]["name"] for d in k8s_resources() if d["kind"] == "PersistentVolumeClaim"
    }

    for container in spec["containers"]:
        assert {ref["configMapRef"]["name"] for ref in container["envFrom"]} <= generated
    for volume in spec["volumes"]:
        assert volume.get("secret", {}).get("secretName", "mge-secrets") in secrets
        assert volume.get("persistentVolumeClaim", {}).get("claimName", "mge-exports") in claims


def test_every_file_secret_in_the_config_is_mounted_and_in_the_example():
    config = env_file(K8S / "config.env")
    example = env_file(K8S / "secrets.env.example")
    [web] = pod_spec(k8s_named("Deployment", "mge-web"))["containers"]
    [mount] = [m for m in web["volumeMounts"] if m["name"] == "secrets"]

    for name, path in config.items():
        if name.endswith("_FILE"):
            assert Path(path).parent == Path(mount["mountPath"]), name
            assert Path(path).name in example, name


def test_every_configured_variable_is_one_the_settings_read():
    sources = settings_sources()
    for name in env_file(K8S / "config.env"):
        if name in ("DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"):
            continue
        assert f'"{name.removesuffix("_FILE")}"' in sources, name


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_each_container_command_is_installed(kind, name):
    for container in pod_spec(k8s_named(kind, name))["containers"]:
        program = container["command"][0]
        assert shutil.which(program) or (ROOT / ".venv" / "bin" / program).exists(), program


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_whole_set(tmp_path):
    shutil.copytree(K8S, tmp_path / "k8s")
    shutil.copy(K8S / "secrets.env.example", tmp_path / "k8s" / "secrets.env")

    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "k8s")], capture_output=True, text=True, check=True
    )

    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(built.stdout))
    assert kinds.count("Deployment") == 2
    assert {"ConfigMap", "Secret", "Job", "Ingress", "HorizontalPodAutoscaler"} <= set(kinds)
