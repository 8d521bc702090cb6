"""deploy/k8s rendered as ``kubectl apply -k`` would, and checked against the code it runs.

The kustomization is rendered here in Python (resources, configMapGenerator, namespace, images);
when ``kubectl`` is installed, its ``kubectl kustomize`` must give the same objects. The rendered
objects are then checked against the code rather than against copied constants:

- every ``SCOREBOARD_*`` variable a manifest, the Dockerfile or compose sets is one that
  ``scoreboard.settings.Settings.from_env`` reads;
- each role's container port is the port its settings resolve to (defaults, image ENV, envFrom, env),
  and the role binds 0.0.0.0, so the kubelet's probes and Prometheus, which connect to the pod IP,
  reach it;
- probes ask /healthz (liveness, startup) and /readyz (readiness) on the container's named port;
- every Service's targetPort exists on the pods it selects, every ServiceMonitor endpoint names a
  port of the Services it selects;
- the PrometheusRule and the Grafana dashboard use only metric names the code registers with
  prometheus_client (plus a short list from Prometheus and kube-state-metrics), and every alert
  links a runbook section of docs/operations.md that exists.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scoreboard import settings as settings_module
from scoreboard.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
SECRET_TEMPLATE = K8S_DIR / "secret.template.yaml"

ROLES = ("api", "worker", "gateway")
ALL_INTERFACES = "0.0.0.0"
RUNBOOK_SECTION = "Alerts and runbooks"
# Metrics the rules and the dashboard may use that the app does not define: Prometheus' own
# scrape health, and kube-state-metrics (part of kube-prometheus-stack).
EXTERNAL_METRICS = {
    "up": "Prometheus (scrape health of each target)",
    "kube_pod_status_ready": "kube-state-metrics",
    "kube_deployment_status_replicas_available": "kube-state-metrics",
}
# Top-level packages that are not shipped in the image (the Dockerfile deletes them).
NOT_SHIPPED = {"tests", "bench", "testkit", "devstack"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                  "PersistentVolume", "StorageClass", "PriorityClass"}

Doc = dict[str, Any]


# --- rendering the kustomization ----------------------------------------------------------


def _load_yaml(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kustomization(directory: Path) -> Doc:
    return dict(yaml.safe_load((directory / "kustomization.yaml").read_text()))


def _listed_files(directory: Path) -> set[Path]:
    """Every file the kustomization (and those of listed directories) reads."""
    kustomization = _kustomization(directory)
    files: set[Path] = set()
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        files |= _listed_files(path) if path.is_dir() else {path}
    for generator in kustomization.get("configMapGenerator", []):
        files |= {(directory / entry.rpartition("=")[2]).resolve() for entry in generator.get("files", [])}
    return files


def render(directory: Path = K8S_DIR) -> list[Doc]:
    """The objects ``kubectl kustomize`` makes of the directory (the features this repo uses)."""
    kustomization = _kustomization(directory)
    known = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images",
             "generatorOptions"}
    assert set(kustomization) <= known, f"render() does not know {set(kustomization) - known}"
    docs: list[Doc] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        assert path.exists(), f"kustomization lists {resource}, which does not exist"
        docs += render(path) if path.is_dir() else _load_yaml(path)
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
        for container in (c for doc in docs for c in _pod_containers(doc)):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                name = image.get("newName", name)
                tag = str(image.get("newTag", tag))
                container["image"] = f"{name}:{tag}" if tag else name
    return docs


def _pod_containers(doc: Doc) -> list[Doc]:
    if doc.get("kind") not in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return []
    pod = doc["spec"]["template"]["spec"]
    return list(pod.get("initContainers", [])) + list(pod["containers"])


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    return render()


def _of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def _by_name(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in _of_kind(docs, kind)}


def _role_deployments(docs: list[Doc]) -> Iterator[tuple[str, Doc, Doc]]:
    """(role, Deployment, the role's container) for api, worker and gateway."""
    found = {}
    for deployment in _of_kind(docs, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            if container.get("args", [None])[0] in ROLES:
                found[container["args"][0]] = (deployment, container)
    assert set(found) == set(ROLES), set(found)
    for role in ROLES:
        yield role, *found[role]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


# --- what the code defines ------------------------------------------------------------------


def _settings_variables() -> frozenset[str]:
    """The variables Settings.from_env reads: one per field, and the secrets directory."""
    return frozenset(PREFIX + name.upper() for name in Settings.model_fields) | {settings_module.SECRETS_DIR}


SETTINGS_VARIABLES = _settings_variables()


def _image_env() -> dict[str, str]:
    """ENV of the Dockerfile's final stage (KEY=value pairs, continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[dict[str, str]] = []
    for line in text.splitlines():
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append({})
        elif instruction.upper() == "ENV" and stages:
            stages[-1].update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", arguments)))
    return stages[-1]


class _Names(ast.NodeVisitor):
    """Metric names passed to prometheus_client's constructors, with the series they expose."""

    KINDS = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}

    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.local: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.series: set[str] = set()
        self.unreadable: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client":
                for alias in node.names:
                    if alias.name in self.KINDS:
                        self.local[alias.asname or alias.name] = alias.name
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.constants[target.id] = node.value.value

    def text(self, node: ast.expr | None) -> str | None:
        if node is None:
            return ""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.text(node.left), self.text(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.JoinedStr):
            parts = [self.text(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
            return None if None in parts else "".join(p for p in parts if p is not None)
        return None

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        kind = self.local.get(name) if isinstance(func, ast.Name) else (
            name if isinstance(func, ast.Attribute) and name in self.KINDS
            and isinstance(func.value, ast.Name) and func.value.id == "prometheus_client" else None)
        if kind is None:
            return
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        parts = [self.text(keywords.get("namespace")), self.text(keywords.get("subsystem")),
                 self.text(node.args[0] if node.args else keywords.get("name"))]
        if None in parts:
            self.unreadable.append(f"{self.path.relative_to(ROOT)}:{node.lineno}")
            return
        full = "_".join(p for p in parts if p)
        if kind == "Counter":
            base = full.removesuffix("_total")
            self.series |= {f"{base}_total", f"{base}_created"}
        elif kind == "Histogram":
            self.series |= {f"{full}_bucket", f"{full}_count", f"{full}_sum", f"{full}_created"}
        elif kind == "Summary":
            self.series |= {full, f"{full}_count", f"{full}_sum", f"{full}_created"}
        elif kind == "Info":
            self.series.add(f"{full}_info")
        else:
            self.series.add(full)


def _shipped_python_files() -> Iterator[Path]:
    for package in sorted(ROOT.iterdir()):
        if package.is_dir() and (package / "__init__.py").exists() and package.name not in NOT_SHIPPED:
            yield from sorted(package.rglob("*.py"))


@pytest.fixture(scope="module")
def code_metrics() -> tuple[frozenset[str], list[str]]:
    """(series names the shipped code exposes, constructor calls whose name is not a literal)."""
    series: set[str] = set()
    unreadable: list[str] = []
    for path in _shipped_python_files():
        tree = ast.parse(path.read_text(), str(path))
        visitor = _Names(path, tree)
        visitor.visit(tree)
        series |= visitor.series
        unreadable += visitor.unreadable
    return frozenset(series), unreadable


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                "unless", "offset", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels, keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\b(?!\s*\()", text):
        if match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def promql_label_values(expr: str, label: str) -> set[str]:
    """Values a matcher of ``label`` names: label="a" or label=~"a|b" (plain alternatives only)."""
    values: set[str] = set()
    for operator, value in re.findall(rf'\b{label}\s*(=~|=)\s*"([^"]*)"', expr):
        values |= set(value.split("|")) if operator == "=~" else {value}
    return values


def _github_anchor(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    """Anchors of the headings inside docs/operations.md's "Alerts and runbooks" section."""
    anchors: set[str] = set()
    inside = False
    for line in OPERATIONS.read_text().splitlines():
        match = re.match(r"^(#+)\s+(.*?)\s*$", line)
        if not match:
            continue
        level, title = len(match.group(1)), match.group(2)
        if level == 2:
            inside = title == RUNBOOK_SECTION
        elif inside:
            anchors.add(_github_anchor(title))
    return anchors


# --- the kustomization ----------------------------------------------------------------------


def test_the_settings_variables_are_read_from_settings_from_env() -> None:
    """The variable list below comes from the model, so it must hold the Kafka security ones."""
    assert len(SETTINGS_VARIABLES) >= len(Settings.model_fields) // 2, SETTINGS_VARIABLES
    assert {PREFIX + name for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                                       "KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_CA_FILE",
                                       "WORKER_HOST", "WORKER_PORT")} <= SETTINGS_VARIABLES
    assert settings_module.PREFIX == "SCOREBOARD_"


def test_kustomization_lists_every_manifest_and_only_files_that_exist() -> None:
    """Every file listed exists; every manifest (and dashboard) under deploy/k8s is listed, except
    the Secret template, which holds placeholders and is created by hand."""
    listed = _listed_files(K8S_DIR)
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
    (namespace,) = _by_name(rendered, "Namespace")
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in rendered]
    assert len(keys) == len(set(keys)), keys
    for doc in rendered:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]


# --- the roles: settings, ports, binding, probes, resources ---------------------------------


def _env_sources(rendered: list[Doc]) -> tuple[dict[str, Doc], dict[str, Doc]]:
    """ConfigMaps as rendered; Secrets from the template the operator fills in by hand."""
    secrets = {doc["metadata"]["name"]: doc for doc in _load_yaml(SECRET_TEMPLATE) if doc["kind"] == "Secret"}
    return _by_name(rendered, "ConfigMap"), secrets


def _container_env(rendered: list[Doc], container: Doc) -> dict[str, str]:
    """The process environment of a container: image ENV, then envFrom, then env (later wins).
    Values from a secretKeyRef are "<secret>"."""
    config_maps, secrets = _env_sources(rendered)
    env = dict(_image_env())
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]].get("data", {}))
        if "secretRef" in source:
            secret = secrets[source["secretRef"]["name"]]
            env.update({k: "<secret>" for k in {**secret.get("stringData", {}), **secret.get("data", {})}})
    for item in container.get("env", []):
        env[item["name"]] = str(item["value"]) if "value" in item else "<secret>"
    return env


def _role_settings(env: dict[str, str], tmp_path: Path) -> Settings:
    literal = {k: v for k, v in env.items() if k.startswith(PREFIX) and v != "<secret>"}
    # An empty stack dir: values a local `scoreboard stack up` left in .stack/ must not leak in.
    return Settings.from_env({**literal, PREFIX + "STACK_DIR": str(tmp_path)})


def test_every_scoreboard_variable_set_anywhere_is_a_real_setting(rendered: list[Doc]) -> None:
    """Container env, envFrom ConfigMaps and Secrets, secretKeyRef keys that become variables,
    the image's ENV and compose's role env only use variables Settings.from_env reads."""
    config_maps, secrets = _env_sources(rendered)
    used: dict[str, str] = {}
    for doc in rendered:
        for container in _pod_containers(doc):
            for item in container.get("env", []):
                used[item["name"]] = f"{doc['metadata']['name']}/{container['name']} env"
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                store = config_maps if "configMapRef" in source else secrets
                data = store[ref["name"]]
                for key in {**data.get("data", {}), **data.get("stringData", {})}:
                    used[key] = f"{ref['name']} (envFrom of {doc['metadata']['name']})"
    for secret in secrets.values():
        for key in secret.get("stringData", {}):
            used[key] = f"Secret {secret['metadata']['name']}"
    for key in _image_env():
        if key.startswith(PREFIX):
            used[key] = "Dockerfile ENV"
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    for name in (*ROLES, "provision"):
        for key in compose["services"][name].get("environment", {}):
            used[key] = f"compose {name}"
    container_names = {item["name"] for doc in rendered for c in _pod_containers(doc) for item in c.get("env", [])}
    assert all(name.startswith(PREFIX) for name in container_names), container_names
    unknown = {key: where for key, where in used.items() if key.startswith(PREFIX) and key not in SETTINGS_VARIABLES}
    assert not unknown, f"not read by Settings.from_env: {unknown}"


def test_each_role_listens_on_its_container_port_on_all_interfaces(rendered: list[Doc], tmp_path: Path) -> None:
    """The container's one named port is the port the role's settings resolve to, and the role
    binds 0.0.0.0: the probes, the Service and Prometheus connect to the pod IP."""
    for role, _, container in _role_deployments(rendered):
        env = _container_env(rendered, container)
        settings = _role_settings(env, tmp_path)
        (port,) = container["ports"]
        assert port.get("name"), (role, "the port needs a name for the probes and Services")
        assert port["containerPort"] == getattr(settings, f"{role}_port"), role
        assert getattr(settings, f"{role}_host") == ALL_INTERFACES, (role, getattr(settings, f"{role}_host"))
        # Set by the manifest itself, not only by the image: another image must not break it.
        literal = {item["name"]: item.get("value") for item in container.get("env", [])}
        assert literal.get(f"{PREFIX}{role.upper()}_HOST") == ALL_INTERFACES, role


def test_the_image_and_compose_bind_every_role_to_all_interfaces(tmp_path: Path) -> None:
    """The image sets every role's host to 0.0.0.0; in compose the worker's env says so too."""
    image = _image_env()
    for role in ROLES:
        assert image.get(f"{PREFIX}{role.upper()}_HOST") == ALL_INTERFACES, role
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    for role in ROLES:
        env = {**image, **{k: str(v) for k, v in compose["services"][role]["environment"].items()}}
        assert getattr(_role_settings(env, tmp_path), f"{role}_host") == ALL_INTERFACES, role
    assert compose["services"]["worker"]["environment"][f"{PREFIX}WORKER_HOST"] == ALL_INTERFACES


def test_probes_ask_healthz_and_readyz_on_the_named_port(rendered: list[Doc]) -> None:
    """Startup and liveness probes GET /healthz, readiness /readyz, each on the container port by
    its name; startup gives a slow start time before liveness counts."""
    for role, _, container in _role_deployments(rendered):
        (port,) = container["ports"]
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):
            assert probe in container, (role, probe)
            http_get = container[probe]["httpGet"]
            assert http_get["path"] == path, (role, probe)
            assert http_get["port"] == port["name"], (role, probe, http_get["port"])
            assert "host" not in http_get, (role, probe)
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, role


def test_every_container_has_requests_and_a_memory_limit(rendered: list[Doc]) -> None:
    for doc in rendered:
        for container in _pod_containers(doc):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), (doc["metadata"]["name"], container["name"])
            assert "memory" in resources.get("limits", {}), (doc["metadata"]["name"], container["name"])


def test_every_role_has_a_disruption_budget_that_allows_a_drain(rendered: list[Doc]) -> None:
    """Exactly one PodDisruptionBudget covers each role's pods, and it lets one pod go at a time."""
    budgets = _of_kind(rendered, "PodDisruptionBudget")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in _of_kind(rendered, "HorizontalPodAutoscaler")}
    for role, deployment, _ in _role_deployments(rendered):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"]["matchLabels"], labels)]
        name = deployment["metadata"]["name"]
        fewest = hpas[name]["spec"]["minReplicas"] if name in hpas else deployment["spec"]["replicas"]
        spec = budget["spec"]
        if "minAvailable" in spec:
            assert 1 <= int(spec["minAvailable"]) < fewest, role
        else:
            assert int(spec["maxUnavailable"]) >= 1, role


# --- Services and ServiceMonitors -----------------------------------------------------------


def test_every_service_targets_a_port_of_the_pods_it_selects(rendered: list[Doc]) -> None:
    deployments = _of_kind(rendered, "Deployment")
    for service in _of_kind(rendered, "Service"):
        pods = [d for d in deployments
                if _selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert pods, f"Service {service['metadata']['name']} selects no pods"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for deployment in pods:
                containers = deployment["spec"]["template"]["spec"]["containers"]
                ports = [p for c in containers for p in c.get("ports", [])]
                key = "name" if isinstance(target, str) else "containerPort"
                known = {p.get(key) for p in ports}
                assert target in known, (service["metadata"]["name"], target, deployment["metadata"]["name"])


def _monitored_services(rendered: list[Doc], monitor: Doc) -> list[Doc]:
    spec = monitor["spec"]
    namespaces = spec.get("namespaceSelector", {}).get("matchNames", [monitor["metadata"]["namespace"]])
    return [s for s in _of_kind(rendered, "Service")
            if s["metadata"]["namespace"] in namespaces
            and _selects(spec["selector"]["matchLabels"], s["metadata"].get("labels", {}))]


def test_every_servicemonitor_scrapes_a_named_port_of_existing_services(rendered: list[Doc]) -> None:
    """Each endpoint names a port every selected Service has, and asks /metrics; together the
    ServiceMonitors cover the pods of api, worker and gateway."""
    monitors = _of_kind(rendered, "ServiceMonitor")
    assert monitors
    scraped: set[str] = set()
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        services = _monitored_services(rendered, monitor)
        assert services, f"ServiceMonitor {monitor['metadata']['name']} selects no Service"
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint.get("path", "/metrics") == "/metrics"
            for service in services:
                names = {p.get("name") for p in service["spec"]["ports"]}
                assert endpoint["port"] in names, (monitor["metadata"]["name"], endpoint["port"], names)
        scraped |= {s["metadata"]["name"] for s in services}
    for role, deployment, _ in _role_deployments(rendered):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(s["spec"]["selector"], labels) for s in _of_kind(rendered, "Service")
                   if s["metadata"]["name"] in scraped), f"no ServiceMonitor scrapes {role}"


def _jobs(rendered: list[Doc]) -> set[str]:
    """Prometheus' job label of the scraped targets: the Service name (no jobLabel is set)."""
    jobs = set()
    for monitor in _of_kind(rendered, "ServiceMonitor"):
        assert "jobLabel" not in monitor["spec"], "the rules expect job = the Service's name"
        jobs |= {s["metadata"]["name"] for s in _monitored_services(rendered, monitor)}
    return jobs


# --- alerts and dashboard ---------------------------------------------------------------------


def _alerts(rendered: list[Doc]) -> list[Doc]:
    return [rule for doc in _of_kind(rendered, "PrometheusRule")
            for group in doc["spec"]["groups"] for rule in group["rules"] if "alert" in rule]


def _dashboards(rendered: list[Doc]) -> list[Doc]:
    return [json.loads(text) for cm in _of_kind(rendered, "ConfigMap")
            if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
            for text in cm["data"].values()]


def _dashboard_exprs(dashboard: Doc) -> list[str]:
    def panels(items: list[Doc]) -> Iterator[Doc]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))
    return [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", []) if t.get("expr")]


def test_metric_names_in_the_code_are_literal(code_metrics: tuple[frozenset[str], list[str]]) -> None:
    """Every prometheus_client metric of the shipped code has a name this test can read."""
    series, unreadable = code_metrics
    assert series, "no prometheus_client metric found in the shipped packages"
    assert not unreadable, f"metric names that are not string constants: {unreadable}"


def test_alerts_and_dashboard_use_only_metrics_the_code_defines(
    rendered: list[Doc], code_metrics: tuple[frozenset[str], list[str]],
) -> None:
    """Every metric name in a rule or dashboard query is exposed by the code, or is one of the few
    Prometheus and kube-state-metrics series listed in EXTERNAL_METRICS."""
    series, _ = code_metrics
    known = series | set(EXTERNAL_METRICS)
    queries = [(rule["alert"], rule["expr"]) for rule in _alerts(rendered)]
    queries += [("dashboard", expr) for dashboard in _dashboards(rendered) for expr in _dashboard_exprs(dashboard)]
    assert queries
    unknown: dict[str, list[str]] = {}
    for where, expr in queries:
        names = promql_metrics(expr)
        assert names, (where, expr)
        for name in names - known:
            unknown.setdefault(name, []).append(where)
    assert not unknown, f"metrics no code defines: {unknown}; defined: {sorted(series)}"


def test_alerts_select_real_jobs_namespaces_and_deployments(rendered: list[Doc]) -> None:
    jobs = _jobs(rendered)
    (namespace,) = _by_name(rendered, "Namespace")
    deployments = set(_by_name(rendered, "Deployment"))
    for rule in _alerts(rendered):
        expr = rule["expr"]
        assert promql_label_values(expr, "job") <= jobs, (rule["alert"], promql_label_values(expr, "job"))
        assert promql_label_values(expr, "namespace") == {namespace}, rule["alert"]
        assert promql_label_values(expr, "deployment") <= deployments, rule["alert"]


def test_alerts_cover_lag_poison_5xx_push_latency_and_readiness(
    rendered: list[Doc], code_metrics: tuple[frozenset[str], list[str]],
) -> None:
    """The alerts watch the series the issue asks for; each is the code's own name."""
    series, _ = code_metrics
    used = set().union(*(promql_metrics(rule["expr"]) for rule in _alerts(rendered)))
    wanted = {
        "consumer lag": {n for n in series if n.endswith("worker_consumer_lag")},
        "poison records": {n for n in series if n.endswith("worker_poison_records_total")},
        "5xx rate": {n for n in series if n.endswith("http_requests_total")},
        "push latency": {n for n in series if n.endswith("gateway_push_seconds_bucket")},
        "readiness": {"up", "kube_pod_status_ready"},
    }
    for what, names in wanted.items():
        assert names & used, (what, names)
    assert any(re.search(r'status=~"5', rule["expr"]) for rule in _alerts(rendered))


def test_every_alert_has_severity_summary_and_an_existing_runbook(rendered: list[Doc]) -> None:
    """severity (critical or warning), summary, description, and a runbook_url whose anchor is a
    heading of docs/operations.md's "Alerts and runbooks"; names are unique; each has a section."""
    alerts = _alerts(rendered)
    assert alerts
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names)), names
    anchors = _runbook_anchors()
    for rule in alerts:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]
        url, _, anchor = annotations["runbook_url"].partition("#")
        assert url.endswith("docs/operations.md"), (rule["alert"], url)
        assert anchor in anchors, (rule["alert"], anchor, sorted(anchors))
        assert anchor == _github_anchor(rule["alert"]), (rule["alert"], anchor)
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_grafana_dashboard_is_labelled_and_has_the_panels(
    rendered: list[Doc], code_metrics: tuple[frozenset[str], list[str]],
) -> None:
    """One dashboard ConfigMap (label grafana_dashboard) with a stable uid and panels for ingest
    and 5xx, push latency, consumer lag, poison records and rejections by reason."""
    (dashboard,) = _dashboards(rendered)
    assert dashboard["uid"] and dashboard["title"]
    exprs = _dashboard_exprs(dashboard)
    used = set().union(*(promql_metrics(expr) for expr in exprs))
    series, _ = code_metrics
    for suffix in ("http_requests_total", "gateway_push_seconds_bucket", "worker_consumer_lag",
                   "worker_poison_records_total", "worker_rejected_total"):
        assert {n for n in used if n.endswith(suffix)} & series, suffix
    assert any('status=~"5' in expr for expr in exprs)
    assert any("reason" in expr for expr in exprs)


# --- the helpers themselves -----------------------------------------------------------------


def test_promql_metrics_finds_only_metric_names() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, job) (rate(a_bucket{job=~"api|x", route="/v1/{id}"}'
            '[5m] offset 1h))) / on (job) group_left sum without (pod) (b_total) > bool 0.5 and up == 1')
    assert promql_metrics(expr) == {"a_bucket", "b_total", "up"}
    assert promql_metrics('max by (partition) (lag{namespace="$namespace"}[$__rate_interval])') == {"lag"}
    assert promql_label_values('x{job=~"api|gateway"} or y{job="worker"}', "job") == {"api", "gateway", "worker"}


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
