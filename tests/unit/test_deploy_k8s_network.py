"""deploy/k8s's network policies (deploy/README.md): the namespace denies all traffic by
default, each role accepts traffic only on its port and reaches only Kafka's SCRAM listener, Postgres,
Redis and DNS, and the brokers accept the app."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.deploy_files import (
    PUBLIC_ROLES,
    ROLE_PORTS,
    Manifests,
    app_deployments,
    load_k8s,
    objects_of_kind,
    pod_labels,
)


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    return load_k8s()


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
        for policy in objects_of_kind(k8s, "NetworkPolicy").values()
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
        for policy in objects_of_kind(k8s, "NetworkPolicy").values()
    )


def test_k8s_roles_accept_traffic_only_on_their_port(k8s: Manifests) -> None:
    """api and gateway take their port from anywhere; the worker's port answers only its own
    namespace and the monitoring namespace; nothing else gets in."""
    for role, deployment in app_deployments(k8s):
        rules = _rules(k8s, pod_labels(deployment), "ingress")
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
    for role, deployment in app_deployments(k8s):
        rules = _rules(k8s, pod_labels(deployment), "egress")
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
