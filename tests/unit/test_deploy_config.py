"""The deployment files (Dockerfile, docker-compose.yml, deploy/k8s) agree with the contract.

Nothing is built or started: the files are parsed and checked against the contract written in
docs/architecture.md ("Topics", "Processes, ports and commands", "Configuration", "Scaling"; every
variable in docs/operations.md), and the security model of deploy/README.md (one Kafka user per role
with least-privilege ACLs, SCRAM over TLS, default-deny network policies, a password on Redis).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scoreboard.domain.topics import (
    ACTIONS,
    LEADERBOARD_CHANGES,
    REJECTED,
    SCORE_CHANGES,
    TOPICS,
)
from scoreboard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_DIR = ROOT / "deploy" / "k8s"
SECRET_TEMPLATE = "secret.template.yaml"

ROLE_PORTS = {"api": 8000, "worker": 6066, "gateway": 8001}
PUBLIC_ROLES = ("api", "gateway")
BACKING_SERVICES = ("kafka", "postgres", "redis")
PROVISION = "scoreboard.runtime.provision import provision"

DOCUMENTED_ENV = frozenset(
    "SCOREBOARD_" + name
    for name in (
        "KAFKA_BOOTSTRAP", "DATABASE_URL", "REDIS_URL", "JWT_ALGORITHMS", "JWT_SECRET",
        "JWT_PUBLIC_KEY_FILE", "JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "TICKET_SECRET",
        "ACTIONS_FILE", "ALLOWED_ORIGINS", "API_HOST", "API_PORT", "GATEWAY_HOST",
        "GATEWAY_PORT", "WORKER_HOST", "WORKER_PORT", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
        "KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_CA_FILE", "EVENT_SIGNING_SECRET",
        "EVENT_SIGNING_OLD_SECRETS", "CHANGE_SIGNING_SECRET", "CHANGE_SIGNING_OLD_SECRETS",
    )
)
# The record signing keys each role holds (docs/security.md): whoever holds a key can sign
# records of that kind, so no role gets a key it does not use.
SIGNING_KEYS = {
    "api": {"SCOREBOARD_EVENT_SIGNING_SECRET", "SCOREBOARD_CHANGE_SIGNING_SECRET"},  # it verifies board changes
    "worker": {"SCOREBOARD_EVENT_SIGNING_SECRET", "SCOREBOARD_CHANGE_SIGNING_SECRET"},
    "gateway": {"SCOREBOARD_CHANGE_SIGNING_SECRET"},
    "provision": set(),
}
REQUIRED_ENV = frozenset(
    {"SCOREBOARD_KAFKA_BOOTSTRAP", "SCOREBOARD_DATABASE_URL", "SCOREBOARD_REDIS_URL",
     "SCOREBOARD_TICKET_SECRET"}
)
JWT_KEY_SOURCES = frozenset(
    {"SCOREBOARD_JWT_SECRET", "SCOREBOARD_JWT_PUBLIC_KEY_FILE", "SCOREBOARD_JWKS_URL"}
)

# The contract's topics (docs/architecture.md, "Topics"): topic -> (partitions, topic config).
CONTRACT_TOPICS: dict[str, tuple[int, dict[str, str]]] = {
    "scoreboard.actions.v1": (6, {"cleanup.policy": "delete", "retention.ms": "-1"}),
    "scoreboard.score-changes.v1": (6, {"cleanup.policy": "delete", "retention.ms": "-1"}),
    "scoreboard.leaderboard-changes.v1": (3, {"cleanup.policy": "compact"}),
    "scoreboard.rejected.v1": (6, {"cleanup.policy": "delete", "retention.ms": "-1"}),
}

# A compose variable that must be set: ${NAME:?message} (no default value).
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$")
ANY_VARIABLE = re.compile(r"\$\{[^}]*\}")

Compose = dict[str, Any]
Instructions = list[tuple[str, str]]
Manifests = dict[str, list[dict[str, Any]]]


def _is_secret_key(key: str) -> bool:
    return "SECRET" in key.upper() or "PASSWORD" in key.upper()


def _url_host(url: str) -> str | None:
    return urlsplit(ANY_VARIABLE.sub("x", url)).hostname


def _url_password(url: str) -> str:
    match = re.match(r"^[a-z+]+://[^:/@]+:(?P<password>.*)@[^@]+$", url)
    assert match, f"no password in {url!r}"
    return match.group("password")


# --- loaders ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Compose:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


@pytest.fixture(scope="module")
def dockerfile() -> Instructions:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs: Instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def _final_stage(dockerfile: Instructions) -> Instructions:
    last_from = max(i for i, (instruction, _) in enumerate(dockerfile) if instruction == "FROM")
    return dockerfile[last_from:]


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    """Every document of deploy/k8s/*.yaml, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S_DIR.glob("*.yaml"))
    }


def _objects(k8s: Manifests, kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for docs in k8s.values()
        for doc in docs
        if doc.get("kind") == kind
    }


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def _init_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"].get("initContainers", []))


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def _resolve_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    by_name = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    return int(by_name[port])


def _k8s_env(k8s: Manifests, container: dict[str, Any]) -> dict[str, str]:
    config_maps, secrets = _objects(k8s, "ConfigMap"), _objects(k8s, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]].get("data", {}))
        if "secretRef" in source:
            secret = secrets[source["secretRef"]["name"]]
            env.update(secret.get("stringData", {}))
            env.update(secret.get("data", {}))
    for item in container.get("env", []):
        env[item["name"]] = str(item.get("value", "<valueFrom>"))
    return env


def _app_deployments(k8s: Manifests) -> Iterator[tuple[str, dict[str, Any]]]:
    deployments = _objects(k8s, "Deployment")
    for role in ROLE_PORTS:
        yield role, deployments[role]


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_builds_every_stage_from_python_311_slim(dockerfile: Instructions) -> None:
    """Every stage of the image starts from python:3.11-slim."""
    bases = [arguments.split()[0] for instruction, arguments in dockerfile if instruction == "FROM"]
    assert bases and all(base.startswith("python:3.11-slim") for base in bases), bases


def test_dockerfile_installs_the_project_package(dockerfile: Instructions) -> None:
    """The image pip-installs the repo's own package, which provides the scoreboard script."""
    runs = [arguments for instruction, arguments in dockerfile if instruction == "RUN"]
    assert any(re.search(r"pip install (?:-\S+ )*\.(?:\s|$)", run) for run in runs), runs


def test_dockerfile_entrypoint_is_scoreboard_and_default_role_is_api(
    dockerfile: Instructions,
) -> None:
    """ENTRYPOINT is the scoreboard console script and CMD defaults to the api role."""
    final = dict(_final_stage(dockerfile))
    assert json.loads(final["ENTRYPOINT"]) == ["scoreboard"]
    assert json.loads(final["CMD"]) == ["api"]


def test_dockerfile_runs_as_a_non_root_user(dockerfile: Instructions) -> None:
    """The final stage switches to a non-root user (numeric, so Kubernetes can verify it)."""
    final = _final_stage(dockerfile)
    users = [arguments for instruction, arguments in final if instruction == "USER"]
    assert users, "the final stage never sets USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, users[-1]


def test_dockerfile_exposes_every_role_port(dockerfile: Instructions) -> None:
    """The image exposes the api, gateway and worker health ports."""
    exposed = {
        int(port.split("/")[0])
        for instruction, arguments in dockerfile if instruction == "EXPOSE"
        for port in arguments.split()
    }
    assert exposed >= set(ROLE_PORTS.values()), exposed


def test_image_binds_every_role_to_all_interfaces(dockerfile: Instructions) -> None:
    """The image overrides the 127.0.0.1 default of api, gateway and worker, so published ports,
    Kubernetes probes and Prometheus (which connect to the pod IP) reach them."""
    final = _final_stage(dockerfile)
    env = " ".join(arguments for instruction, arguments in final if instruction == "ENV")
    for role in ROLE_PORTS:
        assert re.search(rf"\bSCOREBOARD_{role.upper()}_HOST=0\.0\.0\.0(?:\s|$)", env), (role, env)


def test_dockerignore_keeps_env_files_and_venv_out_but_not_the_package_metadata() -> None:
    """The build context excludes .env, .venv and .git but keeps pyproject.toml and README.md."""
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".env", ".venv", ".git"} <= patterns, patterns
    assert not patterns & {"pyproject.toml", "README.md", "*.md", "*.toml", "*"}, patterns


# --- docker-compose.yml -------------------------------------------------------------------


def test_compose_defines_backing_services_and_every_role(compose: Compose) -> None:
    """Compose runs kafka, postgres, redis, api, worker and gateway."""
    assert set(compose["services"]) >= {*BACKING_SERVICES, *ROLE_PORTS}


def test_compose_pins_the_backing_service_images(compose: Compose) -> None:
    """Kafka is apache/kafka 4.1.1, Postgres 16 and Redis 7."""
    images = {name: compose["services"][name]["image"] for name in BACKING_SERVICES}
    assert images == {"kafka": "apache/kafka:4.1.1", "postgres": "postgres:16", "redis": "redis:7"}


def test_compose_kafka_is_a_single_kraft_node_without_auto_created_topics(compose: Compose) -> None:
    """Kafka runs as a combined KRaft broker+controller advertising kafka:9092, no auto-create."""
    env = _compose_env(compose["services"]["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CLIENT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_runs_every_role_from_one_image_by_command(compose: Compose) -> None:
    """api, worker and gateway share one locally built image; the command picks the role."""
    services = compose["services"]
    assert {role: services[role]["command"] for role in ROLE_PORTS} == {
        role: [role] for role in ROLE_PORTS
    }
    assert len({services[role]["image"] for role in ROLE_PORTS}) == 1
    assert all(services[role]["build"]["context"] == "." for role in ROLE_PORTS)


def test_compose_publishes_api_on_8000_and_gateway_on_8001(compose: Compose) -> None:
    """Container ports 8000 (api) and 8001 (gateway) are published as the same host ports."""
    for role in PUBLIC_ROLES:
        ports = [str(spec).rsplit(":", 2)[-2:] for spec in compose["services"][role]["ports"]]
        assert [str(ROLE_PORTS[role])] * 2 in ports, (role, ports)
    assert "ports" not in compose["services"]["worker"]


def test_compose_provisions_topics_and_schema_before_any_role_starts(compose: Compose) -> None:
    """A one-shot service runs scoreboard.runtime.provision; every role waits for it to succeed."""
    services = compose["services"]
    provision = services["provision"]
    assert PROVISION in " ".join(provision["entrypoint"])
    assert provision["image"] == services["api"]["image"]
    assert provision["restart"] == "no"
    assert {name: provision["depends_on"][name]["condition"] for name in BACKING_SERVICES} == {
        name: "service_healthy" for name in BACKING_SERVICES
    }
    for role in ROLE_PORTS:
        condition = services[role]["depends_on"]["provision"]["condition"]
        assert condition == "service_completed_successfully", role


def test_compose_runs_two_workers(compose: Compose) -> None:
    """The worker service runs two replicas of one consumer group."""
    assert compose["services"]["worker"]["deploy"]["replicas"] == 2


def test_compose_roles_start_only_after_backing_services_are_healthy(compose: Compose) -> None:
    """Every role waits for kafka, postgres and redis healthchecks, which all exist."""
    services = compose["services"]
    for name in BACKING_SERVICES:
        assert services[name]["healthcheck"]["test"], name
    for role in ROLE_PORTS:
        depends_on = services[role]["depends_on"]
        assert {name: depends_on[name]["condition"] for name in BACKING_SERVICES} == {
            name: "service_healthy" for name in BACKING_SERVICES
        }, role


def test_compose_role_healthchecks_probe_readyz_on_their_own_port(compose: Compose) -> None:
    """Each role's healthcheck requests /readyz on its own port."""
    for role, port in ROLE_PORTS.items():
        check = " ".join(compose["services"][role]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in check, (role, check)


def test_compose_role_env_points_at_the_compose_services(compose: Compose) -> None:
    """Kafka, Postgres and Redis URLs name the compose services (kafka:9092 internal listener)."""
    for role in ROLE_PORTS:
        env = _compose_env(compose["services"][role])
        assert env["SCOREBOARD_KAFKA_BOOTSTRAP"] == "kafka:9092", role
        assert _url_host(env["SCOREBOARD_DATABASE_URL"]) == "postgres", role
        assert _url_host(env["SCOREBOARD_REDIS_URL"]) == "redis", role


def test_compose_role_env_has_connections_and_keys(compose: Compose) -> None:
    """Each role and the provision step get Kafka, Postgres, Redis, ticket secret and a JWT key."""
    for role in (*ROLE_PORTS, "provision"):
        env = _compose_env(compose["services"][role])
        assert REQUIRED_ENV <= set(env), (role, REQUIRED_ENV - set(env))
        assert JWT_KEY_SOURCES & set(env), role


def test_compose_role_env_uses_only_documented_variables(compose: Compose) -> None:
    """Roles and the provision step get no variable outside the documented SCOREBOARD_ set."""
    for role in (*ROLE_PORTS, "provision"):
        unknown = set(_compose_env(compose["services"][role])) - DOCUMENTED_ENV
        assert not unknown, (role, unknown)


def test_compose_secrets_are_required_variables_never_literals(compose: Compose) -> None:
    """Every *SECRET*/*PASSWORD* value and the database password is a ${VAR:?...} reference."""
    for name, service in compose["services"].items():
        env = _compose_env(service)
        for key, value in env.items():
            if _is_secret_key(key):
                assert REQUIRED_VARIABLE.match(value), (name, key, value)
        for url in ("SCOREBOARD_DATABASE_URL", "SCOREBOARD_REDIS_URL"):
            if url in env:
                password = _url_password(env[url])
                assert REQUIRED_VARIABLE.match(password), (name, url, password)


def _signing_keys(env: dict[str, str]) -> set[str]:
    return {key for key in env if key.endswith("_SIGNING_SECRET")}


def test_compose_roles_get_only_their_signing_keys(compose: Compose) -> None:
    """api gets the event key, gateway the change key, workers both, provision none."""
    for role, keys in SIGNING_KEYS.items():
        assert _signing_keys(_compose_env(compose["services"][role])) == keys, role


def test_compose_redis_requires_the_password_the_roles_use(compose: Compose) -> None:
    """Redis runs with requirepass from .env, and the roles' Redis URL carries that same variable."""
    redis = compose["services"]["redis"]
    command = [str(part) for part in redis["command"]]
    password = command[command.index("--requirepass") + 1]
    assert REQUIRED_VARIABLE.match(password), password
    # The healthcheck's redis-cli must authenticate too, else it reports NOAUTH as healthy.
    assert _compose_env(redis)["REDISCLI_AUTH"] == password
    assert "PONG" in " ".join(redis["healthcheck"]["test"])
    variable = password.split(":")[0]
    for role in (*ROLE_PORTS, "provision"):
        url_password = _url_password(_compose_env(compose["services"][role])["SCOREBOARD_REDIS_URL"])
        assert url_password.split(":")[0] == variable, role


# --- deploy/k8s ---------------------------------------------------------------------------


def test_k8s_documents_declare_their_kind_and_live_in_the_app_namespace(k8s: Manifests) -> None:
    """Every manifest has apiVersion and kind, and namespaced ones sit in the app namespace."""
    (namespace,) = _objects(k8s, "Namespace")
    for file_name, docs in k8s.items():
        for doc in docs:
            assert doc.get("apiVersion") and doc.get("kind"), file_name
            if doc["kind"] in {"Namespace", "Kustomization"}:
                continue
            assert doc["metadata"].get("namespace") == namespace, (file_name, doc["metadata"])


def test_k8s_kustomization_applies_every_manifest_but_the_secret_template(k8s: Manifests) -> None:
    """kustomization.yaml lists every manifest except the placeholder Secret template."""
    (kustomization,) = k8s["kustomization.yaml"]
    expected = set(k8s) - {"kustomization.yaml", SECRET_TEMPLATE}
    assert set(kustomization["resources"]) == expected


def test_k8s_deploys_every_role_from_one_image_by_args(k8s: Manifests) -> None:
    """api, worker and gateway Deployments run the same image with their role as argument."""
    images = set()
    for role, deployment in _app_deployments(k8s):
        (container,) = _containers(deployment)
        assert container["args"] == [role], role
        images |= {c["image"] for c in _containers(deployment) + _init_containers(deployment)}
    assert len(images) == 1, images


def test_k8s_pods_provision_topics_and_schema_before_the_role_starts(k8s: Manifests) -> None:
    """Every role's pod first runs scoreboard.runtime.provision in an init container with the role's env."""
    for role, deployment in _app_deployments(k8s):
        (container,) = _containers(deployment)
        (init,) = _init_containers(deployment)
        assert PROVISION in " ".join(init["command"]), role
        assert init["envFrom"] == container["envFrom"], role


def test_k8s_containers_listen_on_the_contract_ports(k8s: Manifests) -> None:
    """Containers declare 8000 (api), 8001 (gateway) and 6066 (worker health)."""
    for role, deployment in _app_deployments(k8s):
        (container,) = _containers(deployment)
        assert [p["containerPort"] for p in container["ports"]] == [ROLE_PORTS[role]], role


def test_k8s_probes_use_healthz_for_liveness_and_readyz_for_readiness(k8s: Manifests) -> None:
    """Liveness (and startup) probes call /healthz, readiness probes /readyz, on the role port."""
    for role, deployment in _app_deployments(k8s):
        (container,) = _containers(deployment)
        expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        if "startupProbe" in container:
            expected["startupProbe"] = "/healthz"
        for probe, path in expected.items():
            http_get = container[probe]["httpGet"]
            assert http_get["path"] == path, (role, probe)
            assert _resolve_port(container, http_get["port"]) == ROLE_PORTS[role], (role, probe)


def test_k8s_services_route_each_role_port_to_its_pods(k8s: Manifests) -> None:
    """Services api (8000) and gateway (8001) route their contract port to their own pods; the
    worker's Service is headless (6066, for Prometheus to find the pods; it carries no traffic)."""
    services, deployments = _objects(k8s, "Service"), _objects(k8s, "Deployment")
    assert set(services) == set(ROLE_PORTS)
    for role in ROLE_PORTS:
        spec, deployment = services[role]["spec"], deployments[role]
        assert spec["selector"].items() <= _pod_labels(deployment).items(), role
        (port,) = spec["ports"]
        (container,) = _containers(deployment)
        assert port["port"] == ROLE_PORTS[role], role
        assert _resolve_port(container, port["targetPort"]) == ROLE_PORTS[role], role
        assert (spec.get("clusterIP") == "None") == (role not in PUBLIC_ROLES), role


def test_k8s_autoscales_api_and_gateway_but_not_workers(k8s: Manifests) -> None:
    """HPAs target exactly the api and gateway Deployments, each with at least two pods."""
    hpas, deployments = _objects(k8s, "HorizontalPodAutoscaler"), _objects(k8s, "Deployment")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert targets == set(PUBLIC_ROLES)
    for hpa in hpas.values():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"]


def test_k8s_workers_never_outnumber_the_action_partitions(k8s: Manifests) -> None:
    """The worker Deployment runs more than one and at most as many pods as actions partitions."""
    replicas = _objects(k8s, "Deployment")["worker"]["spec"]["replicas"]
    assert 2 <= replicas <= CONTRACT_TOPICS["scoreboard.actions.v1"][0]


def test_k8s_every_role_has_a_disruption_budget(k8s: Manifests) -> None:
    """Each role's pods are covered by a PodDisruptionBudget selector."""
    budgets = _objects(k8s, "PodDisruptionBudget").values()
    for role, deployment in _app_deployments(k8s):
        labels = _pod_labels(deployment).items()
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels for b in budgets), role


def test_k8s_pods_run_as_non_root_without_service_links(k8s: Manifests) -> None:
    """Pods run as non-root, cannot escalate, and get no service-link variables to clash."""
    for role, deployment in _app_deployments(k8s):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, role
        assert pod["enableServiceLinks"] is False, role
        for container in _containers(deployment) + _init_containers(deployment):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, role


def test_k8s_role_env_has_connections_and_keys(k8s: Manifests) -> None:
    """Every container gets Kafka, Postgres, Redis, the ticket secret and one JWT key source."""
    for role, deployment in _app_deployments(k8s):
        for container in _containers(deployment) + _init_containers(deployment):
            env = set(_k8s_env(k8s, container))
            assert REQUIRED_ENV <= env, (role, container["name"], REQUIRED_ENV - env)
            assert JWT_KEY_SOURCES & env, (role, container["name"])


def test_k8s_role_env_uses_only_documented_variables(k8s: Manifests) -> None:
    """No container gets an environment variable outside the documented SCOREBOARD_ set."""
    for role, deployment in _app_deployments(k8s):
        for container in _containers(deployment) + _init_containers(deployment):
            unknown = set(_k8s_env(k8s, container)) - DOCUMENTED_ENV
            assert not unknown, (role, container["name"], unknown)


def test_k8s_secrets_are_placeholders_and_stay_out_of_configmaps(k8s: Manifests) -> None:
    """The Secret template holds only REPLACE_ME; no secret sits in a ConfigMap or literal env."""
    secrets = _objects(k8s, "Secret")
    assert secrets, "no Secret template"
    for secret in secrets.values():
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert values and all("REPLACE_ME" in str(v) for v in values.values()), values
    for config_map in _objects(k8s, "ConfigMap").values():
        assert not [key for key in config_map.get("data", {}) if _is_secret_key(key)]
        assert "SCOREBOARD_DATABASE_URL" not in config_map.get("data", {})
    for role, deployment in _app_deployments(k8s):
        for container in _containers(deployment) + _init_containers(deployment):
            literal = [e["name"] for e in container.get("env", []) if "value" in e]
            assert not [name for name in literal if _is_secret_key(name)], role


def test_k8s_kafka_is_4_1_1_in_kraft_with_a_controller_and_broker_node_pool(k8s: Manifests) -> None:
    """Strimzi Kafka 4.1.1 runs from KafkaNodePools: an odd quorum of 3+ controllers, 3+ brokers."""
    (kafka,) = _objects(k8s, "Kafka").values()
    assert str(kafka["spec"]["kafka"]["version"]) == "4.1.1"
    # v1 is the only API of Strimzi 1.0.x, the last line that runs Kafka 4.1.1.
    for kind in ("Kafka", "KafkaNodePool", "KafkaTopic"):
        for obj in _objects(k8s, kind).values():
            assert obj["apiVersion"] == "kafka.strimzi.io/v1", (kind, obj["apiVersion"])
    assert "zookeeper" not in kafka["spec"]
    pools = [
        pool for pool in _objects(k8s, "KafkaNodePool").values()
        if pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    ]
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert controllers >= 3 and controllers % 2 == 1, controllers
    assert brokers >= 3, brokers
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False


def test_k8s_kafka_listeners_all_require_scram_over_tls_and_acls(k8s: Manifests) -> None:
    """Every client listener needs TLS and SCRAM-SHA-512, and the brokers enforce ACLs."""
    (kafka,) = _objects(k8s, "Kafka").values()
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener.get("authentication", {}).get("type") == "scram-sha-512", listener["name"]
    assert kafka["spec"]["kafka"].get("authorization", {}).get("type") == "simple"
    assert "userOperator" in kafka["spec"]["entityOperator"]


def test_k8s_kafka_bootstrap_points_at_the_strimzi_scram_listener(k8s: Manifests) -> None:
    """Every container connects to the bootstrap Service's SCRAM port with SASL_SSL and the CA."""
    (kafka,) = _objects(k8s, "Kafka").values()
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap"
    expected = {
        f"{bootstrap}:{listener['port']}" for listener in kafka["spec"]["kafka"]["listeners"]
        if listener["type"] == "internal" and listener["authentication"]["type"] == "scram-sha-512"
    }
    for role, deployment in _app_deployments(k8s):
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        for container in _containers(deployment) + _init_containers(deployment):
            env = _k8s_env(k8s, container)
            assert env["SCOREBOARD_KAFKA_BOOTSTRAP"] in expected, role
            assert env["SCOREBOARD_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", role
            assert env["SCOREBOARD_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", role
            ca_file = Path(env["SCOREBOARD_KAFKA_CA_FILE"])
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(ca_file.parent)]
            secret = volumes[mount["name"]]["secret"]
            assert secret["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert", role
            assert {"key": "ca.crt", "path": ca_file.name} in secret["items"], role


def test_k8s_topics_match_the_contract(k8s: Manifests) -> None:
    """KafkaTopics are exactly the contract's four topics with its partitions and retention."""
    (kafka,) = _objects(k8s, "Kafka").values()
    topics = _objects(k8s, "KafkaTopic").values()
    declared = {
        topic["spec"].get("topicName", topic["metadata"]["name"]): (
            topic["spec"]["partitions"],
            {key: str(value) for key, value in topic["spec"].get("config", {}).items()},
        )
        for topic in topics
    }
    assert declared == CONTRACT_TOPICS
    min_isr = int(kafka["spec"]["kafka"]["config"]["min.insync.replicas"])
    for topic in topics:
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["replicas"] > min_isr, topic["metadata"]["name"]


def test_k8s_topics_agree_with_the_topics_the_app_provisions(k8s: Manifests) -> None:
    """KafkaTopics have the partitions and retention scoreboard.domain.topics creates topics with."""
    declared = {
        topic["spec"].get("topicName", topic["metadata"]["name"]): topic["spec"]
        for topic in _objects(k8s, "KafkaTopic").values()
    }
    assert set(declared) == {spec.name for spec in TOPICS}
    for spec in TOPICS:
        config = {key: str(value) for key, value in declared[spec.name].get("config", {}).items()}
        assert declared[spec.name]["partitions"] == spec.partitions, spec.name
        for key, default in (("cleanup.policy", "delete"), ("retention.ms", None)):
            assert config.get(key, default) == spec.config.get(key, default), (spec.name, key)


# --- deploy/k8s: Kafka users and ACLs ---------------------------------------------------

ROLE_KAFKA_USERS = {role: f"scoreboard-{role}" for role in ROLE_PORTS}
PROVISION_KAFKA_USER = "scoreboard-provision"
# Who may change (Write/Delete/Alter) and who may Read each contract topic; nobody else.
TOPIC_WRITERS = {
    ACTIONS: {"scoreboard-api", "scoreboard-worker"},  # the worker's audit records (issue 14), see users.yaml
    SCORE_CHANGES: {"scoreboard-worker"},
    LEADERBOARD_CHANGES: {"scoreboard-worker"},
    REJECTED: {"scoreboard-worker"},
}
TOPIC_READERS = {
    ACTIONS: {"scoreboard-worker"},
    SCORE_CHANGES: set(),
    LEADERBOARD_CHANGES: {"scoreboard-gateway", "scoreboard-api"},  # the api's top-N read cache
    REJECTED: set(),
}
CHANGING_OPERATIONS = ("Write", "Delete", "Alter", "AlterConfigs")


def _acl_allows(user: dict[str, Any], resource_type: str, name: str, operation: str) -> bool:
    """Whether one of the user's allow ACLs grants ``operation`` on the named resource."""
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        if resource["type"] != resource_type or acl.get("type", "allow") != "allow":
            continue
        if resource.get("patternType", "literal") == "prefix":
            matches = name.startswith(resource["name"])
        else:
            matches = resource["name"] in (name, "*")
        operations = set(acl["operations"])
        if matches and (operation in operations or "All" in operations):
            return True
    return False


def _env_item(container: dict[str, Any], name: str) -> dict[str, Any]:
    (item,) = [item for item in container.get("env", []) if item["name"] == name]
    return dict(item)


def _kafka_user_of(container: dict[str, Any]) -> str:
    """The container's Kafka user, checked to take its password from that user's Strimzi Secret."""
    username = str(_env_item(container, "SCOREBOARD_KAFKA_USERNAME")["value"])
    password = _env_item(container, "SCOREBOARD_KAFKA_PASSWORD")
    assert "value" not in password, container["name"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": username, "key": "password"}, container["name"]
    return username


def test_k8s_every_role_connects_as_its_own_scram_kafka_user(k8s: Manifests) -> None:
    """Each role runs as its own KafkaUser, its provision step as the provision user; every user
    authenticates with SCRAM-SHA-512 and is held to ACLs."""
    users = _objects(k8s, "KafkaUser")
    (kafka,) = _objects(k8s, "Kafka").values()
    assert set(users) == {*ROLE_KAFKA_USERS.values(), PROVISION_KAFKA_USER}
    for user in users.values():
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}, "no password in the repo"
        assert user["spec"]["authorization"]["type"] == "simple"
        assert {acl["resource"]["type"] for acl in user["spec"]["authorization"]["acls"]} <= {"topic", "group"}
    for role, deployment in _app_deployments(k8s):
        (container,) = _containers(deployment)
        (init,) = _init_containers(deployment)
        assert _kafka_user_of(container) == ROLE_KAFKA_USERS[role], role
        assert _kafka_user_of(init) == PROVISION_KAFKA_USER, role


def test_k8s_acls_let_each_role_touch_only_its_own_topics(k8s: Manifests) -> None:
    """Only the api (commands) and workers (audit records) write actions, only workers write the change
    and rejected topics, only
    workers read actions, the gateway reads only leaderboard changes; only provision creates."""
    assert set(TOPIC_WRITERS) == {spec.name for spec in TOPICS}
    users = _objects(k8s, "KafkaUser")
    for topic, expected_writers in TOPIC_WRITERS.items():
        for operation in CHANGING_OPERATIONS:
            writers = {name for name, user in users.items() if _acl_allows(user, "topic", topic, operation)}
            assert writers <= expected_writers, (topic, operation, writers)
        writers = {name for name, user in users.items() if _acl_allows(user, "topic", topic, "Write")}
        readers = {name for name, user in users.items() if _acl_allows(user, "topic", topic, "Read")}
        creators = {name for name, user in users.items() if _acl_allows(user, "topic", topic, "Create")}
        assert writers == expected_writers, (topic, writers)
        assert readers == TOPIC_READERS[topic], (topic, readers)
        assert creators == {PROVISION_KAFKA_USER}, (topic, creators)


def test_k8s_acls_give_the_api_and_gateway_no_group_and_no_other_topic(k8s: Manifests) -> None:
    """api and gateway hold only literal topic ACLs (both read the board changes without a group)."""
    users = _objects(k8s, "KafkaUser")
    for name, topics in (("scoreboard-api", {ACTIONS, LEADERBOARD_CHANGES}),
                         ("scoreboard-gateway", {LEADERBOARD_CHANGES})):
        acls = users[name]["spec"]["authorization"]["acls"]
        assert {(a["resource"]["type"], a["resource"]["patternType"]) for a in acls} == {("topic", "literal")}, name
        assert {a["resource"]["name"] for a in acls} == topics, name


def test_k8s_acls_let_the_worker_run_its_faust_group_and_internal_topics(k8s: Manifests) -> None:
    """The worker joins its consumer group (the Faust app id) and may create and use Faust's own
    ``<app id>-...`` topics such as the leader-election topic; ``scoreboard rebuild`` has its group."""
    worker = _objects(k8s, "KafkaUser")["scoreboard-worker"]
    (deployment,) = [d for role, d in _app_deployments(k8s) if role == "worker"]
    (container,) = _containers(deployment)
    app_id = _k8s_env(k8s, container).get("SCOREBOARD_WORKER_ID", Settings().worker_id)
    assert _acl_allows(worker, "group", app_id, "Read")
    assert _acl_allows(worker, "group", "scoreboard-rebuild", "Read")
    for operation in ("Create", "Describe", "Read", "Write"):
        assert _acl_allows(worker, "topic", f"{app_id}-__assignor-__leader", operation), operation
    # The internal-topic prefix must not reach the contract topics.
    assert not any(spec.name.startswith(f"{app_id}-") for spec in TOPICS)


# --- deploy/k8s: network policies and Redis ---------------------------------------------

KAFKA_POD_LABELS = {"strimzi.io/cluster": "scoreboard", "strimzi.io/kind": "Kafka",
                    "strimzi.io/name": "scoreboard-kafka"}
DNS_PORT, KAFKA_PORT, POSTGRES_PORT, REDIS_PORT = 53, 9093, 5432, 6379
ROLE_EGRESS = {
    "api": {DNS_PORT, KAFKA_PORT, POSTGRES_PORT, REDIS_PORT},
    "worker": {DNS_PORT, KAFKA_PORT, POSTGRES_PORT, REDIS_PORT},
    # Postgres only for the provision init container's migrations; no Redis.
    "gateway": {DNS_PORT, KAFKA_PORT, POSTGRES_PORT},
}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {"Exists": key in labels, "DoesNotExist": key not in labels,
              "In": labels.get(key) in values, "NotIn": labels.get(key) not in values}[operator]
        if not ok:
            return False
    return True


def _rules(k8s: Manifests, labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    """The ingress or egress rules of every NetworkPolicy that selects pods with ``labels``."""
    return [
        rule
        for policy in _objects(k8s, "NetworkPolicy").values()
        if _selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get(direction, [])
    ]


def _ports(rule: dict[str, Any]) -> set[int]:
    return {int(port["port"]) for port in rule.get("ports", [])}


def test_k8s_namespace_denies_all_traffic_by_default(k8s: Manifests) -> None:
    """A policy selects every pod for both directions and allows nothing by itself."""
    assert any(
        policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress") and not policy["spec"].get("egress")
        for policy in _objects(k8s, "NetworkPolicy").values()
    )


def test_k8s_roles_accept_traffic_only_on_their_port(k8s: Manifests) -> None:
    """api and gateway take their port from anywhere; the worker's port answers only its own
    namespace and the monitoring namespace; nothing else gets in."""
    for role, deployment in _app_deployments(k8s):
        rules = _rules(k8s, _pod_labels(deployment), "ingress")
        assert rules, role
        assert all(_ports(rule) == {ROLE_PORTS[role]} for rule in rules), (role, rules)
        if role in PUBLIC_ROLES:
            assert any("from" not in rule for rule in rules), role
            continue
        for rule in rules:
            assert rule.get("from"), "worker ingress must name its peers"
            for peer in rule["from"]:
                assert "ipBlock" not in peer, peer
                if "namespaceSelector" in peer:
                    assert peer["namespaceSelector"] == {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, peer


def test_k8s_roles_reach_only_kafka_postgres_redis_and_dns(k8s: Manifests) -> None:
    """Every egress rule of a role names its ports; together they are exactly what the role needs,
    Kafka only on the brokers' SCRAM port and DNS only at kube-dns."""
    for role, deployment in _app_deployments(k8s):
        rules = _rules(k8s, _pod_labels(deployment), "egress")
        assert all(rule.get("ports") for rule in rules), (role, "an egress rule without ports")
        assert set().union(*(_ports(rule) for rule in rules)) == ROLE_EGRESS[role], role
        for rule in rules:
            if KAFKA_PORT in _ports(rule):
                assert _ports(rule) == {KAFKA_PORT}, role
                assert [peer["podSelector"]["matchLabels"] for peer in rule["to"]] == [
                    {"strimzi.io/cluster": "scoreboard", "strimzi.io/kind": "Kafka"}], role
            if DNS_PORT in _ports(rule):
                assert all(peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": "kube-system"} for peer in rule["to"]), role


def test_k8s_kafka_brokers_accept_the_app_on_the_scram_listener(k8s: Manifests) -> None:
    """The brokers' policies let the app pods in on the SCRAM port (default deny would not)."""
    app_labels = {"app.kubernetes.io/name": "live-scoreboard", "app.kubernetes.io/component": "api"}
    rules = _rules(k8s, KAFKA_POD_LABELS, "ingress")
    assert any(
        KAFKA_PORT in _ports(rule)
        and any(_selects(peer.get("podSelector", {}), app_labels) for peer in rule.get("from", []))
        for rule in rules
    )


def test_k8s_redis_url_carries_a_password(k8s: Manifests) -> None:
    """The Secret template's Redis URL has a (placeholder) password: Redis must require one."""
    secret = _objects(k8s, "Secret")["scoreboard-secrets"]
    assert "REPLACE_ME" in _url_password(secret["stringData"]["SCOREBOARD_REDIS_URL"])


def test_k8s_roles_get_only_their_signing_keys_from_their_own_secret(k8s: Manifests) -> None:
    """Signing keys come per container from the scoreboard-signing Secret, never through envFrom:
    api and workers both keys, gateway the change key, provision init containers none."""
    secrets = _objects(k8s, "Secret")
    signing = secrets["scoreboard-signing"]["stringData"]
    assert set(signing) == SIGNING_KEYS["worker"]
    for secret in secrets.values():
        if secret["metadata"]["name"] != "scoreboard-signing":
            assert not _signing_keys(secret["stringData"]), secret["metadata"]["name"]
    for role, deployment in _app_deployments(k8s):
        (container,) = _containers(deployment)
        (init,) = _init_containers(deployment)
        assert _signing_keys(_k8s_env(k8s, container)) == SIGNING_KEYS[role], role
        assert not _signing_keys(_k8s_env(k8s, init)), role
        for key in SIGNING_KEYS[role]:
            assert _env_item(container, key)["valueFrom"]["secretKeyRef"] == {
                "name": "scoreboard-signing", "key": key}, (role, key)


# --- docker-compose.yml: Kafka users, SASL and ACLs ---------------------------------------

COMPOSE_KAFKA_SETUP = "kafka-setup"
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# Strimzi's patternType -> kafka-acls.sh's --resource-pattern-type (literal is the default).
PATTERN_TYPES = {"literal": "literal", "prefix": "prefixed"}
Grants = dict[str, set[tuple[str, str, str, str]]]
"""role -> {(resource type, resource name, pattern type, operation)}."""


def _role_of_user(username: str) -> str:
    assert username.startswith("scoreboard-"), username
    return username.removeprefix("scoreboard-")


def _k8s_grants(k8s: Manifests) -> Grants:
    """What deploy/k8s/users.yaml allows each role, one operation per entry."""
    grants: Grants = {}
    for name, user in _objects(k8s, "KafkaUser").items():
        entries = grants.setdefault(_role_of_user(name), set())
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl.get("type", "allow") == "allow", (name, acl)
            resource = acl["resource"]
            pattern = PATTERN_TYPES[resource.get("patternType", "literal")]
            for operation in acl["operations"]:
                entries.add((resource["type"], resource["name"], pattern, operation))
    return grants


def _kafka_setup_script(compose: Compose) -> list[list[str]]:
    """The kafka-setup service's script as shell words per line (comments and blanks dropped);
    compose's ``$$`` escape is undone, as compose does before the shell sees it."""
    import shlex

    setup = compose["services"][COMPOSE_KAFKA_SETUP]
    (script,) = setup["command"]
    script = re.sub(r"\\\n\s*", " ", script.replace("$$", "$"))
    return [shlex.split(line, comments=True) for line in script.splitlines() if shlex.split(line, comments=True)]


def _compose_grants(compose: Compose) -> Grants:
    """What the kafka-setup service's ``acl`` lines (kafka-acls.sh --add) allow each role."""
    grants: Grants = {}
    for words in _kafka_setup_script(compose):
        if words[0] != "acl":
            continue
        principals, operations, resources, pattern = [], [], [], "literal"
        args = iter(words[1:])
        for flag in args:
            value = next(args)
            if flag == "--allow-principal":
                principals.append(value)
            elif flag == "--operation":
                operations.append(value)
            elif flag in ("--topic", "--group"):
                resources.append((flag.removeprefix("--"), value))
            elif flag == "--resource-pattern-type":
                pattern = value
            else:  # a deny, a host restriction, a cluster ACL, ...: not part of the model
                raise AssertionError(f"unexpected kafka-acls.sh option {flag} in {words}")
        assert principals and operations and resources, words
        for principal in principals:
            kind, _, username = principal.partition(":")
            assert kind == "User", principal
            entries = grants.setdefault(_role_of_user(username), set())
            for resource_type, name in resources:
                entries |= {(resource_type, name, pattern, operation) for operation in operations}
    return grants


def _compose_kafka_clients(compose: Compose) -> dict[str, dict[str, str]]:
    return {
        name: env
        for name, service in compose["services"].items()
        if "SCOREBOARD_KAFKA_BOOTSTRAP" in (env := _compose_env(service))
    }


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> {NAME: (host, port)} (an empty host means every interface)."""
    listeners = {}
    for item in value.split(","):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        listeners[name] = (host, int(port))
    return listeners


def _variable_name(reference: str) -> str:
    assert REQUIRED_VARIABLE.match(reference), reference
    return reference[2:].split(":")[0]


def test_compose_every_kafka_client_authenticates_as_its_own_scram_user(compose: Compose) -> None:
    """Every service with SCOREBOARD_KAFKA_BOOTSTRAP (the three roles and provision) connects with
    SASL and SCRAM-SHA-512 as its own user, scoreboard-<service>, which the settings accept."""
    from scoreboard.adapters.kafka_security import kafka_security

    clients = _compose_kafka_clients(compose)
    assert set(clients) == {*ROLE_PORTS, "provision"}, set(clients)
    usernames, password_variables = set(), set()
    for name, env in clients.items():
        assert env.get("SCOREBOARD_KAFKA_SECURITY_PROTOCOL") in SASL_PROTOCOLS, name
        assert env.get("SCOREBOARD_KAFKA_SASL_MECHANISM") == "SCRAM-SHA-512", name
        assert env.get("SCOREBOARD_KAFKA_USERNAME") == f"scoreboard-{name}", name
        usernames.add(env["SCOREBOARD_KAFKA_USERNAME"])
        password_variables.add(_variable_name(env["SCOREBOARD_KAFKA_PASSWORD"]))
        # The process itself would accept these settings (a stand-in for the password).
        literal = {key: ANY_VARIABLE.sub("x", value) for key, value in env.items()}
        security = kafka_security(Settings.from_env(literal))
        assert security.uses_sasl and security.mechanism == "SCRAM-SHA-512", name
    assert len(usernames) == len(clients) and len(password_variables) == len(clients)


def test_compose_kafka_passwords_are_required_variables_the_setup_assigns(compose: Compose) -> None:
    """Each service's Kafka password is a ${VAR:?...} of .env (no literal, no default), and
    kafka-setup gives that user exactly that variable's value."""
    setup = compose["services"][COMPOSE_KAFKA_SETUP]
    setup_env = _compose_env(setup)
    assigned = {}
    for words in _kafka_setup_script(compose):
        if words[0] == "user":
            (username, password) = words[1:]
            match = re.fullmatch(r"\$\{?([A-Z][A-Z0-9_]*)\}?", password)
            assert match, f"{username} gets a literal password"
            variable = match.group(1)
            assert variable in setup_env, (username, variable)
            assert _variable_name(setup_env[variable]) == variable, (username, setup_env[variable])
            assigned[username] = variable
    clients = _compose_kafka_clients(compose)
    assert assigned == {
        env["SCOREBOARD_KAFKA_USERNAME"]: _variable_name(env["SCOREBOARD_KAFKA_PASSWORD"])
        for env in clients.values()
    }
    assert all(_is_secret_key(key) for key in setup_env), setup_env


def test_compose_kafka_client_listener_requires_scram_and_plaintext_stays_on_loopback(
    compose: Compose,
) -> None:
    """The listener the services reach (kafka:9092) is SASL with SCRAM-SHA-512 only; the
    PLAINTEXT controller and inter-broker listeners bind the container's loopback and Kafka
    publishes no port, so no connection from outside the container skips authentication."""
    kafka = compose["services"]["kafka"]
    env = _compose_env(kafka)
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocols) == set(listeners), (protocols, listeners)
    (client,) = [name for name, address in advertised.items() if address == ("kafka", 9092)]
    assert protocols[client] in SASL_PROTOCOLS, protocols
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env.get(f"KAFKA_LISTENER_NAME_{client}_SASL_ENABLED_MECHANISMS", "SCRAM-SHA-512") == "SCRAM-SHA-512"
    jaas = env[f"KAFKA_LISTENER_NAME_{client}_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    assert jaas.startswith("org.apache.kafka.common.security.scram.ScramLoginModule required"), jaas
    assert "=" not in jaas, "the image drops environment values with '=' (no credentials here)"
    for name, protocol in protocols.items():
        if not protocol.startswith("SASL_"):
            assert listeners[name][0] == "127.0.0.1", (name, listeners[name])
            assert advertised.get(name, ("127.0.0.1", 0))[0] == "127.0.0.1", (name, advertised)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    assert protocols[env["KAFKA_CONTROLLER_LISTENER_NAMES"]] == "PLAINTEXT"
    assert protocols[env["KAFKA_INTER_BROKER_LISTENER_NAME"]] == "PLAINTEXT"
    assert "ports" not in kafka


def test_compose_kafka_enforces_acls(compose: Compose) -> None:
    """The broker runs KRaft's StandardAuthorizer, denies what no ACL allows, and its only
    super-user is ANONYMOUS, the principal of the loopback PLAINTEXT listeners alone."""
    env = _compose_env(compose["services"]["kafka"])
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == STANDARD_AUTHORIZER
    assert env.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false") == "false"
    assert set(env.get("KAFKA_SUPER_USERS", "").split(";")) - {""} <= {"User:ANONYMOUS"}


def test_compose_kafka_setup_runs_on_the_brokers_loopback_before_provision(compose: Compose) -> None:
    """kafka-setup uses the broker's image and network namespace (the loopback listener), waits for
    a healthy broker, runs once, and provision (so every role) waits for it to succeed."""
    services = compose["services"]
    setup = services[COMPOSE_KAFKA_SETUP]
    assert setup["image"] == services["kafka"]["image"]
    assert setup["network_mode"] == "service:kafka"
    assert setup["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert setup["restart"] == "no"
    assert services["provision"]["depends_on"][COMPOSE_KAFKA_SETUP]["condition"] == (
        "service_completed_successfully")
    words = [word for line in _kafka_setup_script(compose) for word in line]
    bootstraps = {words[i + 1] for i, word in enumerate(words) if word == "--bootstrap-server"}
    broker_listener = _listeners(_compose_env(services["kafka"])["KAFKA_LISTENERS"])[
        _compose_env(services["kafka"])["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert bootstraps == {"$bootstrap"}
    assert ["bootstrap=" + ":".join(map(str, broker_listener))] in _kafka_setup_script(compose)


def test_compose_kafka_acls_grant_exactly_what_the_k8s_kafka_users_grant(
    compose: Compose, k8s: Manifests,
) -> None:
    """kafka-setup's kafka-acls.sh lines and deploy/k8s/users.yaml give every role the same
    (resource, operation) pairs, no more, no less: only the api and workers write actions, only workers
    write the change topics, the gateway only reads leaderboard changes, provision only creates."""
    compose_grants, k8s_grants = _compose_grants(compose), _k8s_grants(k8s)
    assert set(compose_grants) == set(k8s_grants) == {*ROLE_PORTS, "provision"}
    for role in k8s_grants:
        assert compose_grants[role] == k8s_grants[role], (
            role, "only in compose:", compose_grants[role] - k8s_grants[role],
            "only in k8s:", k8s_grants[role] - compose_grants[role])
    writers = {role for role, grants in compose_grants.items() if ("topic", ACTIONS, "literal", "Write") in grants}
    assert writers == {"api", "worker"}
    for topic in (SCORE_CHANGES, LEADERBOARD_CHANGES, REJECTED):
        assert {role for role, grants in compose_grants.items()
                if ("topic", topic, "literal", "Write") in grants} == {"worker"}, topic
    assert {entry[1] for entry in compose_grants["gateway"]} == {LEADERBOARD_CHANGES}
    assert ("topic", LEADERBOARD_CHANGES, "literal", "Read") in compose_grants["api"]


def test_compose_env_example_lists_every_required_variable(compose: Compose) -> None:
    """deploy/compose.env.example (the template of .env) names every ${VAR:?...} the compose file
    requires, the Kafka passwords included, with an empty value (a placeholder, no real secret)."""
    example = (ROOT / "deploy" / "compose.env.example").read_text()
    listed = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", COMPOSE_FILE.read_text()))
    assert {f"SCOREBOARD_KAFKA_{role.upper()}_PASSWORD" for role in (*ROLE_PORTS, "provision")} <= required
    assert required == set(listed), (required ^ set(listed))
    assert not any(listed.values()), "compose.env.example must hold no values"
