"""Each role's pods in deploy/k8s as rendered (``tests/support/kustomize.py``), checked against
the code it runs rather than against copied constants:

- every ``SCOREBOARD_*`` variable a manifest, the Dockerfile or compose sets is one that
  ``scoreboard.settings.Settings.from_env`` reads;
- each role's container port is the port its settings resolve to (defaults, image ENV, envFrom, env),
  and the role binds 0.0.0.0, so the kubelet's probes and Prometheus, which connect to the pod IP,
  reach it;
- probes ask /healthz (liveness, startup) and /readyz (readiness) on the container's named port;
- every container has requests and a memory limit, every role a disruption budget that allows a drain,
  and every Service's targetPort exists on the pods it selects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scoreboard import settings as settings_module
from scoreboard.settings import PREFIX, Settings
from tests.support.kustomize import (
    K8S_DIR,
    ROLES,
    ROOT,
    Doc,
    by_name,
    load_yaml,
    matches_labels,
    of_kind,
    pod_containers,
    render,
    role_deployments,
)

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRET_TEMPLATE = K8S_DIR / "secret.template.yaml"
ALL_INTERFACES = "0.0.0.0"


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


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    return render()


def test_the_settings_variables_are_read_from_settings_from_env() -> None:
    """The variable list below comes from the model, so it must hold the Kafka security ones."""
    assert len(SETTINGS_VARIABLES) >= len(Settings.model_fields) // 2, SETTINGS_VARIABLES
    assert {PREFIX + name for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                                       "KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_CA_FILE",
                                       "WORKER_HOST", "WORKER_PORT")} <= SETTINGS_VARIABLES
    assert settings_module.PREFIX == "SCOREBOARD_"


# --- the roles: settings, ports, binding, probes, resources ---------------------------------


def _env_sources(rendered: list[Doc]) -> tuple[dict[str, Doc], dict[str, Doc]]:
    """ConfigMaps as rendered; Secrets from the template the operator fills in by hand."""
    secrets = {doc["metadata"]["name"]: doc for doc in load_yaml(SECRET_TEMPLATE) if doc["kind"] == "Secret"}
    return by_name(rendered, "ConfigMap"), secrets


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
        for container in pod_containers(doc):
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
    container_names = {item["name"] for doc in rendered for c in pod_containers(doc) for item in c.get("env", [])}
    assert all(name.startswith(PREFIX) for name in container_names), container_names
    unknown = {key: where for key, where in used.items() if key.startswith(PREFIX) and key not in SETTINGS_VARIABLES}
    assert not unknown, f"not read by Settings.from_env: {unknown}"


def test_each_role_listens_on_its_container_port_on_all_interfaces(rendered: list[Doc], tmp_path: Path) -> None:
    """The container's one named port is the port the role's settings resolve to, and the role
    binds 0.0.0.0: the probes, the Service and Prometheus connect to the pod IP."""
    for role, _, container in role_deployments(rendered):
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
    for role, _, container in role_deployments(rendered):
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
        for container in pod_containers(doc):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), (doc["metadata"]["name"], container["name"])
            assert "memory" in resources.get("limits", {}), (doc["metadata"]["name"], container["name"])


def test_every_role_has_a_disruption_budget_that_allows_a_drain(rendered: list[Doc]) -> None:
    """Exactly one PodDisruptionBudget covers each role's pods, and it lets one pod go at a time."""
    budgets = of_kind(rendered, "PodDisruptionBudget")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(rendered, "HorizontalPodAutoscaler")}
    for role, deployment, _ in role_deployments(rendered):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if matches_labels(b["spec"]["selector"]["matchLabels"], labels)]
        name = deployment["metadata"]["name"]
        fewest = hpas[name]["spec"]["minReplicas"] if name in hpas else deployment["spec"]["replicas"]
        spec = budget["spec"]
        if "minAvailable" in spec:
            assert 1 <= int(spec["minAvailable"]) < fewest, role
        else:
            assert int(spec["maxUnavailable"]) >= 1, role


# --- Services ------------------------------------------------------------------------------------


def test_every_service_targets_a_port_of_the_pods_it_selects(rendered: list[Doc]) -> None:
    deployments = of_kind(rendered, "Deployment")
    for service in of_kind(rendered, "Service"):
        pods = [d for d in deployments
                if matches_labels(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert pods, f"Service {service['metadata']['name']} selects no pods"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for deployment in pods:
                containers = deployment["spec"]["template"]["spec"]["containers"]
                ports = [p for c in containers for p in c.get("ports", [])]
                key = "name" if isinstance(target, str) else "containerPort"
                known = {p.get(key) for p in ports}
                assert target in known, (service["metadata"]["name"], target, deployment["metadata"]["name"])
