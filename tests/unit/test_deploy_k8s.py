"""deploy/k8s agrees with the contract (docs/architecture.md "Processes, ports and commands",
"Configuration", "Scaling"; every variable in docs/operations.md): namespaced documents, one image for
every role, provisioning init containers, ports, probes, Services, autoscaling, disruption budgets,
non-root pods, the roles' environment and secrets. Its Kafka is in ``test_deploy_k8s_kafka.py``, its
network policies in ``test_deploy_k8s_network.py``. Nothing is applied: the manifests are parsed."""

from __future__ import annotations

import pytest

from tests.support.deploy_files import (
    CONTRACT_TOPICS,
    DOCUMENTED_ENV,
    JWT_KEY_SOURCES,
    PROVISION,
    PUBLIC_ROLES,
    REQUIRED_ENV,
    ROLE_PORTS,
    SECRET_TEMPLATE,
    SIGNING_KEYS,
    Manifests,
    app_deployments,
    containers_of,
    env_item,
    init_containers_of,
    is_secret_key,
    k8s_env,
    load_k8s,
    objects_of_kind,
    password_in_url,
    pod_labels,
    resolve_port,
    signing_keys,
)


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    return load_k8s()


def test_k8s_documents_declare_their_kind_and_live_in_the_app_namespace(k8s: Manifests) -> None:
    """Every manifest has apiVersion and kind, and namespaced ones sit in the app namespace."""
    (namespace,) = objects_of_kind(k8s, "Namespace")
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
    for role, deployment in app_deployments(k8s):
        (container,) = containers_of(deployment)
        assert container["args"] == [role], role
        images |= {c["image"] for c in containers_of(deployment) + init_containers_of(deployment)}
    assert len(images) == 1, images


def test_k8s_pods_provision_topics_and_schema_before_the_role_starts(k8s: Manifests) -> None:
    """Every role's pod first runs scoreboard.runtime.provision in an init container with the role's env."""
    for role, deployment in app_deployments(k8s):
        (container,) = containers_of(deployment)
        (init,) = init_containers_of(deployment)
        assert PROVISION in " ".join(init["command"]), role
        assert init["envFrom"] == container["envFrom"], role


def test_k8s_containers_listen_on_the_contract_ports(k8s: Manifests) -> None:
    """Containers declare 8000 (api), 8001 (gateway) and 6066 (worker health)."""
    for role, deployment in app_deployments(k8s):
        (container,) = containers_of(deployment)
        assert [p["containerPort"] for p in container["ports"]] == [ROLE_PORTS[role]], role


def test_k8s_probes_use_healthz_for_liveness_and_readyz_for_readiness(k8s: Manifests) -> None:
    """Liveness (and startup) probes call /healthz, readiness probes /readyz, on the role port."""
    for role, deployment in app_deployments(k8s):
        (container,) = containers_of(deployment)
        expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        if "startupProbe" in container:
            expected["startupProbe"] = "/healthz"
        for probe, path in expected.items():
            http_get = container[probe]["httpGet"]
            assert http_get["path"] == path, (role, probe)
            assert resolve_port(container, http_get["port"]) == ROLE_PORTS[role], (role, probe)


def test_k8s_services_route_each_role_port_to_its_pods(k8s: Manifests) -> None:
    """Services api (8000) and gateway (8001) route their contract port to their own pods; the
    worker's Service is headless (6066, for Prometheus to find the pods; it carries no traffic)."""
    services, deployments = objects_of_kind(k8s, "Service"), objects_of_kind(k8s, "Deployment")
    assert set(services) == set(ROLE_PORTS)
    for role in ROLE_PORTS:
        spec, deployment = services[role]["spec"], deployments[role]
        assert spec["selector"].items() <= pod_labels(deployment).items(), role
        (port,) = spec["ports"]
        (container,) = containers_of(deployment)
        assert port["port"] == ROLE_PORTS[role], role
        assert resolve_port(container, port["targetPort"]) == ROLE_PORTS[role], role
        assert (spec.get("clusterIP") == "None") == (role not in PUBLIC_ROLES), role


def test_k8s_autoscales_api_and_gateway_but_not_workers(k8s: Manifests) -> None:
    """HPAs target exactly the api and gateway Deployments, each with at least two pods."""
    hpas, deployments = objects_of_kind(k8s, "HorizontalPodAutoscaler"), objects_of_kind(k8s, "Deployment")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert targets == set(PUBLIC_ROLES)
    for hpa in hpas.values():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"]


def test_k8s_workers_never_outnumber_the_action_partitions(k8s: Manifests) -> None:
    """The worker Deployment runs more than one and at most as many pods as actions partitions."""
    replicas = objects_of_kind(k8s, "Deployment")["worker"]["spec"]["replicas"]
    assert 2 <= replicas <= CONTRACT_TOPICS["scoreboard.actions.v1"][0]


def test_k8s_every_role_has_a_disruption_budget(k8s: Manifests) -> None:
    """Each role's pods are covered by a PodDisruptionBudget selector."""
    budgets = objects_of_kind(k8s, "PodDisruptionBudget").values()
    for role, deployment in app_deployments(k8s):
        labels = pod_labels(deployment).items()
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels for b in budgets), role


def test_k8s_pods_run_as_non_root_without_service_links(k8s: Manifests) -> None:
    """Pods run as non-root, cannot escalate, and get no service-link variables to clash."""
    for role, deployment in app_deployments(k8s):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, role
        assert pod["enableServiceLinks"] is False, role
        for container in containers_of(deployment) + init_containers_of(deployment):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, role


def test_k8s_role_env_has_connections_and_keys(k8s: Manifests) -> None:
    """Every container gets Kafka, Postgres, Redis, the ticket secret and one JWT key source."""
    for role, deployment in app_deployments(k8s):
        for container in containers_of(deployment) + init_containers_of(deployment):
            env = set(k8s_env(k8s, container))
            assert REQUIRED_ENV <= env, (role, container["name"], REQUIRED_ENV - env)
            assert JWT_KEY_SOURCES & env, (role, container["name"])


def test_k8s_role_env_uses_only_documented_variables(k8s: Manifests) -> None:
    """No container gets an environment variable outside the documented SCOREBOARD_ set."""
    for role, deployment in app_deployments(k8s):
        for container in containers_of(deployment) + init_containers_of(deployment):
            unknown = set(k8s_env(k8s, container)) - DOCUMENTED_ENV
            assert not unknown, (role, container["name"], unknown)


def test_k8s_secrets_are_placeholders_and_stay_out_of_configmaps(k8s: Manifests) -> None:
    """The Secret template holds only REPLACE_ME; no secret sits in a ConfigMap or literal env."""
    secrets = objects_of_kind(k8s, "Secret")
    assert secrets, "no Secret template"
    for secret in secrets.values():
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert values and all("REPLACE_ME" in str(v) for v in values.values()), values
    for config_map in objects_of_kind(k8s, "ConfigMap").values():
        assert not [key for key in config_map.get("data", {}) if is_secret_key(key)]
        assert "SCOREBOARD_DATABASE_URL" not in config_map.get("data", {})
    for role, deployment in app_deployments(k8s):
        for container in containers_of(deployment) + init_containers_of(deployment):
            literal = [e["name"] for e in container.get("env", []) if "value" in e]
            assert not [name for name in literal if is_secret_key(name)], role


def test_k8s_redis_url_carries_a_password(k8s: Manifests) -> None:
    """The Secret template's Redis URL has a (placeholder) password: Redis must require one."""
    secret = objects_of_kind(k8s, "Secret")["scoreboard-secrets"]
    assert "REPLACE_ME" in password_in_url(secret["stringData"]["SCOREBOARD_REDIS_URL"])


def test_k8s_roles_get_only_their_signing_keys_from_their_own_secret(k8s: Manifests) -> None:
    """Signing keys come per container from the scoreboard-signing Secret, never through envFrom:
    api and workers both keys, gateway the change key, provision init containers none."""
    secrets = objects_of_kind(k8s, "Secret")
    signing = secrets["scoreboard-signing"]["stringData"]
    assert set(signing) == SIGNING_KEYS["worker"]
    for secret in secrets.values():
        if secret["metadata"]["name"] != "scoreboard-signing":
            assert not signing_keys(secret["stringData"]), secret["metadata"]["name"]
    for role, deployment in app_deployments(k8s):
        (container,) = containers_of(deployment)
        (init,) = init_containers_of(deployment)
        assert signing_keys(k8s_env(k8s, container)) == SIGNING_KEYS[role], role
        assert not signing_keys(k8s_env(k8s, init)), role
        for key in SIGNING_KEYS[role]:
            assert env_item(container, key)["valueFrom"]["secretKeyRef"] == {
                "name": "scoreboard-signing", "key": key}, (role, key)
