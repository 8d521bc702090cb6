"""The one way every ingest target is served: uvicorn exactly as ``producer_api.bootstrap.main`` runs it."""

from __future__ import annotations

import argparse

from starlette.applications import Starlette

from producer_api import bootstrap


def serve(app: Starlette, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    bootstrap.serve(app, "127.0.0.1", args.port)
