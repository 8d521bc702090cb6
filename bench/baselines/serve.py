"""The one way every ingest target is served: uvicorn exactly as ``producer_api.bootstrap.main`` runs it."""

from __future__ import annotations

import argparse

from starlette.applications import Starlette

from producer_api.bootstrap import SERVER_OPTIONS


def serve(app: Starlette, argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(app, host="127.0.0.1", port=args.port, **SERVER_OPTIONS)
