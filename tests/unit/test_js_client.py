"""The TypeScript push client (clients/js): the module the gateway serves is the committed build.

The gateway image has no Node, so `gateway/static/scoreboard-push.js` is a committed copy of
`clients/js/dist/index.js` (`cd clients/js && npm run build && npm run sync-static`). This checks the
copy is byte-equal to dist/, and, when Node and the installed devDependency (typescript) are present,
that a fresh compile of src/ gives exactly the committed dist/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "js"
SERVED = ROOT / "gateway" / "static" / "scoreboard-push.js"


def test_the_served_module_is_the_committed_build() -> None:
    assert SERVED.read_bytes() == (PACKAGE / "dist" / "index.js").read_bytes(), (
        "gateway/static/scoreboard-push.js is stale: cd clients/js && npm run build && npm run sync-static")


def test_the_package_is_an_es_module_without_runtime_dependencies() -> None:
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["type"] == "module"
    assert manifest["exports"]["."]["import"] == "./dist/index.js"
    assert manifest["types"] == "./dist/index.d.ts"
    assert "dependencies" not in manifest
    assert set(manifest["devDependencies"]) == {"typescript"}
    assert (PACKAGE / "package-lock.json").exists()
    assert (PACKAGE / "dist" / "index.d.ts").exists()


def test_a_fresh_build_equals_the_committed_dist(tmp_path: Path) -> None:
    node = shutil.which("node")
    tsc = PACKAGE / "node_modules" / "typescript" / "bin" / "tsc"
    if node is None or not tsc.exists():
        pytest.skip("node or clients/js/node_modules missing (cd clients/js && npm ci)")
    subprocess.run([node, str(tsc), "-p", str(PACKAGE / "tsconfig.json"), "--outDir", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    for name in ("index.js", "index.d.ts"):
        assert (tmp_path / name).read_bytes() == (PACKAGE / "dist" / name).read_bytes(), (
            f"clients/js/dist/{name} is stale: cd clients/js && npm run build && npm run sync-static")


def test_the_client_logic_with_scripted_sockets() -> None:
    """clients/js/test/*.test.mjs (node:test): versions, resume, backoff, close codes, heartbeat, SSE."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node missing")
    result = subprocess.run([node, "--test", "test/"], cwd=PACKAGE, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
