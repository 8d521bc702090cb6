"""Find service executables and install missing Debian packages (as root only)."""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import sys
import threading

from devstack.errors import StackError
from devstack.progress import announce

logger = logging.getLogger(__name__)
# Services start in parallel threads; two concurrent apt-get runs would fight over the dpkg lock.
_install_lock = threading.Lock()


def find_executable(name: str, extra_globs: tuple[str, ...] = ()) -> str | None:
    """``name`` on PATH, else in the newest matching ``extra_globs`` directory."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        for directory in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in path.split(os.sep) if part.isdigit())


def is_root() -> bool:
    return os.geteuid() == 0


def install_debian_package(package: str, service: str) -> None:
    """``apt-get install -y <package>`` when running as root; otherwise tell the user what to do."""
    if not is_root():
        raise StackError(
            f"{service}: not installed and not running as root; install it with "
            f"`sudo apt-get install -y {package}` (Debian/Ubuntu) and run again"
        )
    if shutil.which("apt-get") is None:
        raise StackError(f"{service}: not installed and apt-get is unavailable; install {package!r} by hand")
    with _install_lock:
        announce(f"installing {package} with apt-get (one time)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
            result = subprocess.run(command, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
            if result.returncode != 0:
                raise StackError(
                    f"{service}: `{' '.join(command)}` failed with exit code {result.returncode}"
                )
