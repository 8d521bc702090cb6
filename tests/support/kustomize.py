"""deploy/k8s rendered in Python as ``kubectl kustomize`` (``kubectl apply -k``) would, for the features this
repo uses (resources, configMapGenerator, namespace, images), and small readers of the rendered objects.
``tests/unit/test_k8s_render.py`` compares the rendering with ``kubectl kustomize`` where it is installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
ROLES = ("api", "worker", "gateway")
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                  "PersistentVolume", "StorageClass", "PriorityClass"}

Doc = dict[str, Any]


def load_yaml(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization_of(directory: Path) -> Doc:
    return dict(yaml.safe_load((directory / "kustomization.yaml").read_text()))


def listed_files(directory: Path) -> set[Path]:
    """Every file the kustomization (and those of listed directories) reads."""
    kustomization = kustomization_of(directory)
    files: set[Path] = set()
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        files |= listed_files(path) if path.is_dir() else {path}
    for generator in kustomization.get("configMapGenerator", []):
        files |= {(directory / entry.rpartition("=")[2]).resolve() for entry in generator.get("files", [])}
    return files


def render(directory: Path = K8S_DIR) -> list[Doc]:
    """The objects ``kubectl kustomize`` makes of the directory (the features this repo uses)."""
    kustomization = kustomization_of(directory)
    known = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images",
             "generatorOptions"}
    assert set(kustomization) <= known, f"render() does not know {set(kustomization) - known}"
    docs: list[Doc] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        assert path.exists(), f"kustomization lists {resource}, which does not exist"
        docs += render(path) if path.is_dir() else load_yaml(path)
    for generator in kustomization.get("configMapGenerator", []):
        options = {**kustomization.get("generatorOptions", {}), **generator.get("options", {})}
        # A hashed name would differ from the one Grafana or a Deployment refers to by hand.
        assert options.get("disableNameSuffixHash") is True, generator["name"]
        data: dict[str, str] = {}
        for entry in generator.get("files", []):
            key, _, file_name = entry.rpartition("=")
            path = directory / file_name
            assert path.is_file(), f"configMapGenerator lists {file_name}, which does not exist"
            data[key or path.name] = path.read_text()
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        metadata: Doc = {"name": generator["name"]}
        if options.get("labels"):
            metadata["labels"] = dict(options["labels"])
        if options.get("annotations"):
            metadata["annotations"] = dict(options["annotations"])
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in (c for doc in docs for c in pod_containers(doc)):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                name = image.get("newName", name)
                tag = str(image.get("newTag", tag))
                container["image"] = f"{name}:{tag}" if tag else name
    return docs


def pod_containers(doc: Doc) -> list[Doc]:
    if doc.get("kind") not in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return []
    pod = doc["spec"]["template"]["spec"]
    return list(pod.get("initContainers", [])) + list(pod["containers"])


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def by_name(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, kind)}


def role_deployments(docs: list[Doc]) -> Iterator[tuple[str, Doc, Doc]]:
    """(role, Deployment, the role's container) for api, worker and gateway."""
    found = {}
    for deployment in of_kind(docs, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            if container.get("args", [None])[0] in ROLES:
                found[container["args"][0]] = (deployment, container)
    assert set(found) == set(ROLES), set(found)
    for role in ROLES:
        yield role, *found[role]


def matches_labels(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()
