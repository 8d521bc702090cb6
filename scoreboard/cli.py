"""The ``scoreboard`` command: run a process, mint a dev token, rebuild, provision.

The development tools add their own commands (``stack`` from ``devstack``, ``bench`` from
``bench``) through the ``scoreboard.commands`` entry points, so production code never imports them
and the production image, which does not ship them, simply has no such commands. A tool command is
a module with ``HELP``, ``PARSER_OPTIONS``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from types import ModuleType

from scoreboard.domain.errors import ConfigurationError, ScoreboardError

TOOL_COMMANDS = "scoreboard.commands"


def tool_commands() -> dict[str, ModuleType]:
    """The installed tools' commands; a tool that is not installed is simply absent."""
    found: dict[str, ModuleType] = {}
    for point in entry_points(group=TOOL_COMMANDS):
        try:
            found[point.name] = point.load()
        except ImportError:
            continue
    return found


def _parser(tools: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scoreboard", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="run the command/query HTTP API")
    sub.add_parser("worker", help="run a stream worker (Faust)")
    sub.add_parser("gateway", help="run the WebSocket/SSE push gateway and dashboard")
    token = sub.add_parser("token", help="mint a development JWT with the stack's secret")
    token.add_argument("--sub", required=True, help="the user id")
    token.add_argument("--role", action="append", default=[], help="a role, e.g. admin (repeatable)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    run = sub.add_parser("run", help="run api, worker(s) and gateway in the foreground")
    run.add_argument("--apis", type=int, default=1)
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--gateways", type=int, default=1)
    rebuild = sub.add_parser("rebuild", help="drop and rebuild the projections from the log")
    rebuild.add_argument("--force", action="store_true", help="even while workers run (unsafe)")
    sub.add_parser("provision", help="create the topics and apply the SQL migrations")
    for name, tool in sorted(tools.items()):
        tool.add_arguments(sub.add_parser(name, help=tool.HELP, **tool.PARSER_OPTIONS))
    return parser


def main(argv: list[str] | None = None) -> int:
    tools = tool_commands()
    args = _parser(tools).parse_args(argv)
    from scoreboard.runtime import logs

    logs.configure(process=args.command if args.command in ("api", "worker", "gateway") else "")
    try:
        if args.command in tools:
            code: int = tools[args.command].run(args)
            return code
        return _run(args)
    except ScoreboardError as exc:
        print(f"scoreboard: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "api":
        from producer_api.bootstrap import main as api_main

        api_main()
    elif args.command == "worker":
        from stream_app.bootstrap import main as worker_main

        worker_main()
    elif args.command == "gateway":
        from gateway.bootstrap import main as gateway_main

        gateway_main()
    elif args.command == "run":
        from scoreboard.runtime.supervisor import run_local

        return run_local(args.apis, args.workers, args.gateways)
    elif args.command == "rebuild":
        from stream_app.rebuild import main as rebuild_main

        return rebuild_main(force=args.force)
    elif args.command == "provision":
        from scoreboard.runtime.provision import provision
        from scoreboard.settings import merged_environment

        provision(merged_environment())
    elif args.command == "token":
        from scoreboard.adapters.auth import mint_token
        from scoreboard.settings import Settings

        settings = Settings.from_env()
        if not settings.jwt_secret:
            raise ConfigurationError("no SCOREBOARD_JWT_SECRET: run `scoreboard stack up` or export one")
        print(mint_token(settings.jwt_secret, args.sub, roles=tuple(args.role), ttl_seconds=args.ttl,
                         issuer=settings.jwt_issuer, audience=settings.jwt_audience))
    else:
        print(f"scoreboard {args.command}: not available yet", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
