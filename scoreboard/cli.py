"""The ``scoreboard`` command: run a process, manage the local stack, mint a dev token, rebuild."""

from __future__ import annotations

import argparse
import sys

from scoreboard.errors import ConfigurationError, ScoreboardError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scoreboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="run the command/query HTTP API")
    sub.add_parser("worker", help="run a stream worker (Faust)")
    sub.add_parser("gateway", help="run the WebSocket/SSE push gateway and dashboard")
    stack = sub.add_parser("stack", help="local Kafka, Postgres and Redis")
    stack.add_argument("action", choices=["up", "down", "status"])
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
    bench = sub.add_parser("bench", help="run the benchmark suite (scoreboard bench --help)", add_help=False,
                           prefix_chars="+")  # every option after `bench` is the suite's own
    bench.add_argument("bench_args", nargs="*")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from scoreboard import logs

    logs.configure(process=args.command if args.command in ("api", "worker", "gateway") else "")
    try:
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
        from scoreboard.supervisor import run_local

        return run_local(args.apis, args.workers, args.gateways)
    elif args.command == "rebuild":
        from stream_app.rebuild import main as rebuild_main

        return rebuild_main(force=args.force)
    elif args.command == "provision":
        from scoreboard.provision import provision
        from scoreboard.settings import merged_environment

        provision(merged_environment())
    elif args.command == "stack":
        from scoreboard import stack

        return stack.main([args.action])
    elif args.command == "token":
        from scoreboard.auth import mint_token
        from scoreboard.settings import Settings

        settings = Settings.from_env()
        if not settings.jwt_secret:
            raise ConfigurationError("no SCOREBOARD_JWT_SECRET: run `scoreboard stack up` or export one")
        print(mint_token(settings.jwt_secret, args.sub, roles=tuple(args.role), ttl_seconds=args.ttl,
                         issuer=settings.jwt_issuer, audience=settings.jwt_audience))
    elif args.command == "bench":
        from bench import main as bench_main

        return bench_main(args.bench_args)
    else:
        print(f"scoreboard {args.command}: not available yet", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
