"""Reading deploy/ as data: the kustomization's resources, compose services, env files."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def k8s_resources() -> list[dict]:
    docs = []
    for name in kustomization()["resources"]:
        docs.extend(doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc)
    return docs


def k8s_named(kind: str, name: str) -> dict:
    [doc] = [d for d in k8s_resources() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod_spec(doc: dict) -> dict:
    """The pod template of a Deployment or a Job."""
    return doc["spec"]["template"]["spec"]


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def settings_sources() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "config").rglob("*.py"))
