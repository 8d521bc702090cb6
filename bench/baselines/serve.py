"""The one way every ingest target is served: the api's route and a readiness route on Starlette, under
uvicorn exactly as ``producer_api.bootstrap.main`` runs it."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Lifespan

from producer_api import bootstrap

COMPLETE_ROUTE = "/v1/actions/{action_id}/complete"


async def ready(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def baseline_app(complete: Callable[[Request], Awaitable[Response]],
                 lifespan: Lifespan[Starlette] | None = None) -> Starlette:
    """A baseline: ``complete`` on the api's completion route (POST), and ``GET /readyz``."""
    return Starlette(routes=[
        Route(COMPLETE_ROUTE, complete, methods=["POST"]),
        Route("/readyz", ready, methods=["GET"]),
    ], lifespan=lifespan)


def serve(app: Starlette, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    bootstrap.serve(app, "127.0.0.1", args.port)
