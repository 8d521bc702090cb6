"""baseline_bare: the framework's ceiling. A Starlette endpoint on the api's route that answers 202 and
does nothing else, served by uvicorn with the api's settings.

Run: ``python -m bench.baselines.bare --port 8100``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bench.baselines.serve import baseline_app, serve


async def complete(request: Request) -> Response:
    return JSONResponse({"status": "accepted", "action_id": request.path_params["action_id"]}, status_code=202)


def create_app() -> Starlette:
    return baseline_app(complete)


if __name__ == "__main__":
    serve(create_app())
