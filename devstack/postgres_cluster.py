"""A private PostgreSQL cluster driven by ``initdb``/``pg_ctl`` from the Debian packages.

PostgreSQL refuses to run as root, so under root every server command runs as the ``postgres``
user, and the cluster lives where that user can reach it: ``<state>/postgres`` when every parent
directory is traversable, else ``/var/tmp/scoreboard-<hash>/postgres`` (the choice is recorded).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.errors import StackError
from devstack.packages import find_executable, install_debian_package, is_root
from devstack.paths import StackPaths
from devstack.state import StackState

logger = logging.getLogger(__name__)

SERVER_USER = "postgres"
_BIN_GLOBS = ("/usr/lib/postgresql/*/bin",)
_SOCKET_PATH_LIMIT = 100  # sun_path holds 107 bytes; leave room for "/.s.PGSQL.NNNNN"


@dataclass(frozen=True)
class ClusterLayout:
    """Where one cluster keeps data, log and socket."""

    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        if len(str(self.data_dir)) + 16 <= _SOCKET_PATH_LIMIT:
            return self.data_dir
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        return Path("/tmp") / f"scoreboard-pg-{digest}"

    def postmaster_pid(self) -> int | None:
        """The postmaster pid recorded in ``postmaster.pid`` (None when the cluster is stopped)."""
        return self._postmaster_field(0)

    def postmaster_port(self) -> int | None:
        """The port the running postmaster listens on, from ``postmaster.pid``."""
        return self._postmaster_field(3)

    def _postmaster_field(self, index: int) -> int | None:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="ascii").splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        value = lines[index].strip() if len(lines) > index else ""
        return int(value) if value.isdigit() else None


def server_binaries() -> tuple[str, str]:
    """``(initdb, pg_ctl)``, installing the ``postgresql`` package when missing and root."""
    found = _find_binaries()
    if found is None:
        install_debian_package("postgresql", "postgres")
        found = _find_binaries()
    if found is None:
        raise StackError("postgres: initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
    return found


def _find_binaries() -> tuple[str, str] | None:
    initdb = find_executable("initdb", _BIN_GLOBS)
    pg_ctl = find_executable("pg_ctl", _BIN_GLOBS)
    return (initdb, pg_ctl) if initdb and pg_ctl else None


def as_server_user(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when we are root, unchanged otherwise."""
    if not is_root():
        return command
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as missing:
        raise StackError(
            "postgres: running as root but there is no `postgres` user to run the server "
            "(the Debian `postgresql` package creates it)"
        ) from missing
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--", *command]
    return ["su", SERVER_USER, "-s", "/bin/sh", "-c", shlex.join(command)]


def run_as_server_user(command: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(as_server_user(command), cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(
            f"postgres: {what} failed (exit {result.returncode}):\n{(result.stdout + result.stderr).strip()}"
        )
    return result


def cluster_layout(paths: StackPaths, state: StackState) -> ClusterLayout:
    """The cluster's recorded home (default ``<state>/postgres``); reads only, decides nothing."""
    remembered = state.get("postgres.home")
    return ClusterLayout(Path(remembered) if remembered else paths.postgres_dir)


def place_cluster(paths: StackPaths, state: StackState) -> ClusterLayout:
    """The cluster's home: remembered, else the state dir when reachable, else under /var/tmp."""
    remembered = state.get("postgres.home")
    if remembered:
        return ClusterLayout(Path(remembered))
    home = paths.postgres_dir
    if is_root() and not _server_user_can_enter(paths.state_dir):
        digest = hashlib.sha256(str(paths.state_dir).encode()).hexdigest()[:10]
        home = Path("/var/tmp") / f"scoreboard-{digest}" / "postgres"
        logger.info("state dir not reachable by %s; cluster goes to %s", SERVER_USER, home)
    state.put("postgres.home", str(home))
    return ClusterLayout(home)


def _server_user_can_enter(directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    probe = as_server_user(["test", "-x", str(directory)])
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def prepare_directories(layout: ClusterLayout) -> None:
    """Create the home (and socket dir) owned by the user that runs the server."""
    layout.home.mkdir(parents=True, exist_ok=True)
    socket_dir = layout.socket_dir
    if socket_dir != layout.data_dir:
        socket_dir.mkdir(mode=0o700, exist_ok=True)
    if is_root():
        server = pwd.getpwnam(SERVER_USER)
        for directory in (layout.home, socket_dir):
            if directory.exists():
                os.chown(directory, server.pw_uid, server.pw_gid)


def initialise(layout: ClusterLayout, initdb: str) -> bool:
    """``initdb`` once (True when it ran). Local socket: trust; TCP: password (scram) only."""
    if (layout.data_dir / "PG_VERSION").exists():
        return False
    run_as_server_user(
        [
            initdb,
            "-D",
            str(layout.data_dir),
            "-U",
            SERVER_USER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-instructions",
        ],
        cwd=layout.home,
        what="initdb",
    )
    return True


def start(layout: ClusterLayout, pg_ctl: str, port: int) -> None:
    options = shlex.join(
        [
            "-p",
            str(port),
            "-k",
            str(layout.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ]
    )
    run_as_server_user(
        [
            pg_ctl,
            "start",
            "-D",
            str(layout.data_dir),
            "-l",
            str(layout.log_file),
            "-w",
            "-t",
            "60",
            "-o",
            options,
        ],
        cwd=layout.home,
        what=f"pg_ctl start (see {layout.log_file})",
    )


def stop(layout: ClusterLayout, pg_ctl: str) -> None:
    run_as_server_user(
        [pg_ctl, "stop", "-D", str(layout.data_dir), "-m", "fast", "-w", "-t", "60"],
        cwd=layout.home,
        what="pg_ctl stop",
    )
