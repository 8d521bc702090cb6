"""The deployment files parsed for the unit tests that hold them to the contract (``tests/unit/test_deploy_*.py``):
the Dockerfile's instructions, docker-compose.yml's services, the documents of deploy/k8s/*.yaml, the
contract's values they are checked against (ports, topics, documented variables, signing keys), and the
small readers of those structures the tests share. Nothing is built or started."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

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


def is_secret_key(key: str) -> bool:
    return "SECRET" in key.upper() or "PASSWORD" in key.upper()


def host_in_url(url: str) -> str | None:
    return urlsplit(ANY_VARIABLE.sub("x", url)).hostname


def password_in_url(url: str) -> str:
    match = re.match(r"^[a-z+]+://[^:/@]+:(?P<password>.*)@[^@]+$", url)
    assert match, f"no password in {url!r}"
    return match.group("password")


# --- loaders ------------------------------------------------------------------------------


def load_compose() -> Compose:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def load_dockerfile() -> Instructions:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs: Instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def final_stage(dockerfile: Instructions) -> Instructions:
    last_from = max(i for i, (instruction, _) in enumerate(dockerfile) if instruction == "FROM")
    return dockerfile[last_from:]


def load_k8s() -> Manifests:
    """Every document of deploy/k8s/*.yaml, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S_DIR.glob("*.yaml"))
    }


def objects_of_kind(k8s: Manifests, kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for docs in k8s.values()
        for doc in docs
        if doc.get("kind") == kind
    }


def containers_of(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def init_containers_of(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"].get("initContainers", []))


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def resolve_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    by_name = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    return int(by_name[port])


def k8s_env(k8s: Manifests, container: dict[str, Any]) -> dict[str, str]:
    config_maps, secrets = objects_of_kind(k8s, "ConfigMap"), objects_of_kind(k8s, "Secret")
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


def app_deployments(k8s: Manifests) -> Iterator[tuple[str, dict[str, Any]]]:
    deployments = objects_of_kind(k8s, "Deployment")
    for role in ROLE_PORTS:
        yield role, deployments[role]


def signing_keys(env: dict[str, str]) -> set[str]:
    return {key for key in env if key.endswith("_SIGNING_SECRET")}


def env_item(container: dict[str, Any], name: str) -> dict[str, Any]:
    (item,) = [item for item in container.get("env", []) if item["name"] == name]
    return dict(item)
