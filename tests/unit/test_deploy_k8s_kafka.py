"""deploy/k8s's Kafka (Strimzi) agrees with the contract and the security model of
deploy/README.md: Kafka 4.1.1 in KRaft, SCRAM over TLS on every listener, the contract's topics as the
app provisions them, one KafkaUser per role, and least-privilege ACLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES, REJECTED, SCORE_CHANGES, TOPICS
from scoreboard.settings import Settings
from tests.support.deploy_files import (
    CONTRACT_TOPICS,
    ROLE_PORTS,
    Manifests,
    app_deployments,
    containers_of,
    env_item,
    init_containers_of,
    k8s_env,
    load_k8s,
    objects_of_kind,
)


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    return load_k8s()


def test_k8s_kafka_is_4_1_1_in_kraft_with_a_controller_and_broker_node_pool(k8s: Manifests) -> None:
    """Strimzi Kafka 4.1.1 runs from KafkaNodePools: an odd quorum of 3+ controllers, 3+ brokers."""
    (kafka,) = objects_of_kind(k8s, "Kafka").values()
    assert str(kafka["spec"]["kafka"]["version"]) == "4.1.1"
    # v1 is the only API of Strimzi 1.0.x, the last line that runs Kafka 4.1.1.
    for kind in ("Kafka", "KafkaNodePool", "KafkaTopic"):
        for obj in objects_of_kind(k8s, kind).values():
            assert obj["apiVersion"] == "kafka.strimzi.io/v1", (kind, obj["apiVersion"])
    assert "zookeeper" not in kafka["spec"]
    pools = [
        pool for pool in objects_of_kind(k8s, "KafkaNodePool").values()
        if pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    ]
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert controllers >= 3 and controllers % 2 == 1, controllers
    assert brokers >= 3, brokers
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False


def test_k8s_kafka_listeners_all_require_scram_over_tls_and_acls(k8s: Manifests) -> None:
    """Every client listener needs TLS and SCRAM-SHA-512, and the brokers enforce ACLs."""
    (kafka,) = objects_of_kind(k8s, "Kafka").values()
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener.get("authentication", {}).get("type") == "scram-sha-512", listener["name"]
    assert kafka["spec"]["kafka"].get("authorization", {}).get("type") == "simple"
    assert "userOperator" in kafka["spec"]["entityOperator"]


def test_k8s_kafka_bootstrap_points_at_the_strimzi_scram_listener(k8s: Manifests) -> None:
    """Every container connects to the bootstrap Service's SCRAM port with SASL_SSL and the CA."""
    (kafka,) = objects_of_kind(k8s, "Kafka").values()
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap"
    expected = {
        f"{bootstrap}:{listener['port']}" for listener in kafka["spec"]["kafka"]["listeners"]
        if listener["type"] == "internal" and listener["authentication"]["type"] == "scram-sha-512"
    }
    for role, deployment in app_deployments(k8s):
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        for container in containers_of(deployment) + init_containers_of(deployment):
            env = k8s_env(k8s, container)
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
    (kafka,) = objects_of_kind(k8s, "Kafka").values()
    topics = objects_of_kind(k8s, "KafkaTopic").values()
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
        for topic in objects_of_kind(k8s, "KafkaTopic").values()
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


def _kafka_user_of(container: dict[str, Any]) -> str:
    """The container's Kafka user, checked to take its password from that user's Strimzi Secret."""
    username = str(env_item(container, "SCOREBOARD_KAFKA_USERNAME")["value"])
    password = env_item(container, "SCOREBOARD_KAFKA_PASSWORD")
    assert "value" not in password, container["name"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": username, "key": "password"}, container["name"]
    return username


def test_k8s_every_role_connects_as_its_own_scram_kafka_user(k8s: Manifests) -> None:
    """Each role runs as its own KafkaUser, its provision step as the provision user; every user
    authenticates with SCRAM-SHA-512 and is held to ACLs."""
    users = objects_of_kind(k8s, "KafkaUser")
    (kafka,) = objects_of_kind(k8s, "Kafka").values()
    assert set(users) == {*ROLE_KAFKA_USERS.values(), PROVISION_KAFKA_USER}
    for user in users.values():
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}, "no password in the repo"
        assert user["spec"]["authorization"]["type"] == "simple"
        assert {acl["resource"]["type"] for acl in user["spec"]["authorization"]["acls"]} <= {"topic", "group"}
    for role, deployment in app_deployments(k8s):
        (container,) = containers_of(deployment)
        (init,) = init_containers_of(deployment)
        assert _kafka_user_of(container) == ROLE_KAFKA_USERS[role], role
        assert _kafka_user_of(init) == PROVISION_KAFKA_USER, role


def test_k8s_acls_let_each_role_touch_only_its_own_topics(k8s: Manifests) -> None:
    """Only the api (commands) and workers (audit records) write actions, only workers write the change
    and rejected topics, only
    workers read actions, the gateway reads only leaderboard changes; only provision creates."""
    assert set(TOPIC_WRITERS) == {spec.name for spec in TOPICS}
    users = objects_of_kind(k8s, "KafkaUser")
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
    users = objects_of_kind(k8s, "KafkaUser")
    for name, topics in (("scoreboard-api", {ACTIONS, LEADERBOARD_CHANGES}),
                         ("scoreboard-gateway", {LEADERBOARD_CHANGES})):
        acls = users[name]["spec"]["authorization"]["acls"]
        assert {(a["resource"]["type"], a["resource"]["patternType"]) for a in acls} == {("topic", "literal")}, name
        assert {a["resource"]["name"] for a in acls} == topics, name


def test_k8s_acls_let_the_worker_run_its_faust_group_and_internal_topics(k8s: Manifests) -> None:
    """The worker joins its consumer group (the Faust app id) and may create and use Faust's own
    ``<app id>-...`` topics such as the leader-election topic; ``scoreboard rebuild`` has its group."""
    worker = objects_of_kind(k8s, "KafkaUser")["scoreboard-worker"]
    (deployment,) = [d for role, d in app_deployments(k8s) if role == "worker"]
    (container,) = containers_of(deployment)
    app_id = k8s_env(k8s, container).get("SCOREBOARD_WORKER_ID", Settings().worker_id)
    assert _acl_allows(worker, "group", app_id, "Read")
    assert _acl_allows(worker, "group", "scoreboard-rebuild", "Read")
    for operation in ("Create", "Describe", "Read", "Write"):
        assert _acl_allows(worker, "topic", f"{app_id}-__assignor-__leader", operation), operation
    # The internal-topic prefix must not reach the contract topics.
    assert not any(spec.name.startswith(f"{app_id}-") for spec in TOPICS)
