"""docker-compose.yml agrees with the contract (docs/architecture.md; every variable in
docs/operations.md): the backing services and every role from one image, provisioning first, health
checks, the roles' environment, secrets only as required variables, and a password on Redis. Its Kafka
users, SASL and ACLs are in ``test_deploy_compose_kafka.py``. Nothing is started: the file is parsed."""

from __future__ import annotations

import pytest

from tests.support.deploy_files import (
    BACKING_SERVICES,
    DOCUMENTED_ENV,
    JWT_KEY_SOURCES,
    PROVISION,
    PUBLIC_ROLES,
    REQUIRED_ENV,
    REQUIRED_VARIABLE,
    ROLE_PORTS,
    SIGNING_KEYS,
    Compose,
    compose_env,
    host_in_url,
    is_secret_key,
    load_compose,
    password_in_url,
    signing_keys,
)


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


def test_compose_defines_backing_services_and_every_role(compose: Compose) -> None:
    """Compose runs kafka, postgres, redis, api, worker and gateway."""
    assert set(compose["services"]) >= {*BACKING_SERVICES, *ROLE_PORTS}


def test_compose_pins_the_backing_service_images(compose: Compose) -> None:
    """Kafka is apache/kafka 4.1.1, Postgres 16 and Redis 7."""
    images = {name: compose["services"][name]["image"] for name in BACKING_SERVICES}
    assert images == {"kafka": "apache/kafka:4.1.1", "postgres": "postgres:16", "redis": "redis:7"}


def test_compose_kafka_is_a_single_kraft_node_without_auto_created_topics(compose: Compose) -> None:
    """Kafka runs as a combined KRaft broker+controller advertising kafka:9092, no auto-create."""
    env = compose_env(compose["services"]["kafka"])
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
        env = compose_env(compose["services"][role])
        assert env["SCOREBOARD_KAFKA_BOOTSTRAP"] == "kafka:9092", role
        assert host_in_url(env["SCOREBOARD_DATABASE_URL"]) == "postgres", role
        assert host_in_url(env["SCOREBOARD_REDIS_URL"]) == "redis", role


def test_compose_role_env_has_connections_and_keys(compose: Compose) -> None:
    """Each role and the provision step get Kafka, Postgres, Redis, ticket secret and a JWT key."""
    for role in (*ROLE_PORTS, "provision"):
        env = compose_env(compose["services"][role])
        assert REQUIRED_ENV <= set(env), (role, REQUIRED_ENV - set(env))
        assert JWT_KEY_SOURCES & set(env), role


def test_compose_role_env_uses_only_documented_variables(compose: Compose) -> None:
    """Roles and the provision step get no variable outside the documented SCOREBOARD_ set."""
    for role in (*ROLE_PORTS, "provision"):
        unknown = set(compose_env(compose["services"][role])) - DOCUMENTED_ENV
        assert not unknown, (role, unknown)


def test_compose_secrets_are_required_variables_never_literals(compose: Compose) -> None:
    """Every *SECRET*/*PASSWORD* value and the database password is a ${VAR:?...} reference."""
    for name, service in compose["services"].items():
        env = compose_env(service)
        for key, value in env.items():
            if is_secret_key(key):
                assert REQUIRED_VARIABLE.match(value), (name, key, value)
        for url in ("SCOREBOARD_DATABASE_URL", "SCOREBOARD_REDIS_URL"):
            if url in env:
                password = password_in_url(env[url])
                assert REQUIRED_VARIABLE.match(password), (name, url, password)


def test_compose_roles_get_only_their_signing_keys(compose: Compose) -> None:
    """api gets the event key, gateway the change key, workers both, provision none."""
    for role, keys in SIGNING_KEYS.items():
        assert signing_keys(compose_env(compose["services"][role])) == keys, role


def test_compose_redis_requires_the_password_the_roles_use(compose: Compose) -> None:
    """Redis runs with requirepass from .env, and the roles' Redis URL carries that same variable."""
    redis = compose["services"]["redis"]
    command = [str(part) for part in redis["command"]]
    password = command[command.index("--requirepass") + 1]
    assert REQUIRED_VARIABLE.match(password), password
    # The healthcheck's redis-cli must authenticate too, else it reports NOAUTH as healthy.
    assert compose_env(redis)["REDISCLI_AUTH"] == password
    assert "PONG" in " ".join(redis["healthcheck"]["test"])
    variable = password.split(":")[0]
    for role in (*ROLE_PORTS, "provision"):
        url_password = password_in_url(compose_env(compose["services"][role])["SCOREBOARD_REDIS_URL"])
        assert url_password.split(":")[0] == variable, role
