"""deploy/k8s rendered as ``kubectl apply -k`` would (``tests/support/kustomize.py``): the
kustomization lists every manifest and only files that exist, the rendering makes unique objects in the
app's namespace, and, when ``kubectl`` is installed, its ``kubectl kustomize`` gives the same objects.
What the rendered objects are checked against: the code's settings in ``test_k8s_roles.py``, its metrics
in ``test_k8s_monitoring.py``."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.kustomize import CLUSTER_SCOPED, K8S_DIR, Doc, by_name, listed_files, render

SECRET_TEMPLATE = K8S_DIR / "secret.template.yaml"


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    return render()


def test_kustomization_lists_every_manifest_and_only_files_that_exist() -> None:
    """Every file listed exists; every manifest (and dashboard) under deploy/k8s is listed, except
    the Secret template, which holds placeholders and is created by hand."""
    listed = listed_files(K8S_DIR)
    assert all(path.is_file() for path in listed), sorted(p for p in listed if not p.is_file())
    on_disk = {
        path.resolve() for pattern in ("*.yaml", "*.yml", "*.json") for path in K8S_DIR.rglob(pattern)
        if path.name != "kustomization.yaml"
    }
    assert on_disk - listed == {SECRET_TEMPLATE.resolve()}, sorted(on_disk - listed)
    assert SECRET_TEMPLATE.resolve() not in listed


def test_render_agrees_with_kubectl_kustomize(rendered: list[Doc]) -> None:
    """When kubectl is installed, its kustomize makes exactly the objects render() makes."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; render() alone is checked")
    try:
        result = subprocess.run([kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True,
                                timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"kubectl kustomize did not run: {exc}")
    if result.returncode != 0 and "unknown command" in result.stderr:
        pytest.skip("this kubectl has no kustomize")
    assert result.returncode == 0, result.stderr

    def key(doc: Doc) -> tuple[str, str, str]:
        return doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]

    theirs = sorted((d for d in yaml.safe_load_all(result.stdout) if d), key=key)
    ours = sorted(copy.deepcopy(rendered), key=key)
    assert [key(d) for d in ours] == [key(d) for d in theirs]
    for mine, kubectls in zip(ours, theirs, strict=True):
        assert mine == kubectls, key(mine)


def test_rendered_objects_are_unique_and_in_the_app_namespace(rendered: list[Doc]) -> None:
    (namespace,) = by_name(rendered, "Namespace")
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in rendered]
    assert len(keys) == len(set(keys)), keys
    for doc in rendered:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]


def test_render_reads_generators_namespace_and_images(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text("{}")
    (tmp_path / "a.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n"
        "      containers: [{name: c, image: 'img:1'}]\n")
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "namespace": "ns", "resources": ["a.yaml"], "images": [{"name": "img", "newTag": "2"}],
        "configMapGenerator": [{"name": "g", "files": ["d.json"],
                                "options": {"disableNameSuffixHash": True, "labels": {"l": "1"}}}]}))
    deployment, config_map = render(tmp_path)
    assert deployment["metadata"]["namespace"] == "ns"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"
    assert config_map == {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "g", "namespace": "ns", "labels": {"l": "1"}},
                          "data": {"d.json": "{}"}}
