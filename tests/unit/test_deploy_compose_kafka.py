"""docker-compose.yml's Kafka security (deploy/README.md): every client authenticates as its
own SCRAM user with a required password, PLAINTEXT stays on the broker's loopback, the broker enforces
ACLs, and the kafka-setup service grants each role exactly what deploy/k8s's KafkaUsers grant."""

from __future__ import annotations

import re

import pytest

from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES, REJECTED, SCORE_CHANGES
from scoreboard.settings import Settings
from tests.support.deploy_files import (
    ANY_VARIABLE,
    COMPOSE_FILE,
    REQUIRED_VARIABLE,
    ROLE_PORTS,
    ROOT,
    Compose,
    Manifests,
    compose_env,
    is_secret_key,
    load_compose,
    load_k8s,
    objects_of_kind,
)


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    return load_k8s()


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
    for name, user in objects_of_kind(k8s, "KafkaUser").items():
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
        if "SCOREBOARD_KAFKA_BOOTSTRAP" in (env := compose_env(service))
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
    setup_env = compose_env(setup)
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
    assert all(is_secret_key(key) for key in setup_env), setup_env


def test_compose_kafka_client_listener_requires_scram_and_plaintext_stays_on_loopback(
    compose: Compose,
) -> None:
    """The listener the services reach (kafka:9092) is SASL with SCRAM-SHA-512 only; the
    PLAINTEXT controller and inter-broker listeners bind the container's loopback and Kafka
    publishes no port, so no connection from outside the container skips authentication."""
    kafka = compose["services"]["kafka"]
    env = compose_env(kafka)
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
    env = compose_env(compose["services"]["kafka"])
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
    broker_listener = _listeners(compose_env(services["kafka"])["KAFKA_LISTENERS"])[
        compose_env(services["kafka"])["KAFKA_INTER_BROKER_LISTENER_NAME"]]
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
