"""The production image (Dockerfile, .dockerignore) agrees with the contract: one image from
python:3.11-slim with the project's package, ``scoreboard`` as entrypoint, a non-root user, every role's
port exposed and bound to all interfaces. Nothing is built: the files are parsed."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.deploy_files import DOCKERIGNORE, ROLE_PORTS, Instructions, final_stage, load_dockerfile


@pytest.fixture(scope="module")
def dockerfile() -> Instructions:
    return load_dockerfile()


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
    final = dict(final_stage(dockerfile))
    assert json.loads(final["ENTRYPOINT"]) == ["scoreboard"]
    assert json.loads(final["CMD"]) == ["api"]


def test_dockerfile_runs_as_a_non_root_user(dockerfile: Instructions) -> None:
    """The final stage switches to a non-root user (numeric, so Kubernetes can verify it)."""
    final = final_stage(dockerfile)
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
    final = final_stage(dockerfile)
    env = " ".join(arguments for instruction, arguments in final if instruction == "ENV")
    for role in ROLE_PORTS:
        assert re.search(rf"\bSCOREBOARD_{role.upper()}_HOST=0\.0\.0\.0(?:\s|$)", env), (role, env)


def test_dockerignore_keeps_env_files_and_venv_out_but_not_the_package_metadata() -> None:
    """The build context excludes .env, .venv and .git but keeps pyproject.toml and README.md."""
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".env", ".venv", ".git"} <= patterns, patterns
    assert not patterns & {"pyproject.toml", "README.md", "*.md", "*.toml", "*"}, patterns
