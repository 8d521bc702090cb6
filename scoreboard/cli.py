"""The ``scoreboard`` command: run a process, mint a dev token, rebuild, provision.

The development tools add their own commands (``stack`` from ``devstack``, ``bench`` from
``bench``) through the ``scoreboard.commands`` entry points, so production code never imports them
and the production image, which does not ship them, simply has no such commands. A tool command is
a module with ``HELP``, ``PARSER_OPTIONS``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, entry_points, version
from types import ModuleType

from scoreboard.domain.errors import ConfigurationError, ScoreboardError
from scoreboard.domain.topics import TOPICS

TOOL_COMMANDS = "scoreboard.commands"
PACKAGE = "live-scoreboard"


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="run the command/query HTTP API")
    sub.add_parser("worker", help="run a stream worker (Faust)")
    gateway = sub.add_parser("gateway", help="run the WebSocket/SSE push gateway and dashboard")
    gateway.add_argument("--processes", type=int, default=1, help="gateway processes sharing the port "
                         "(SO_REUSEPORT), each tailing the feed itself with its own caps (default 1)")
    token = sub.add_parser("token", help="mint a development JWT with the stack's secret")
    token.add_argument("--sub", required=True, help="the user id")
    token.add_argument("--role", action="append", default=[], help="a role, e.g. admin (repeatable)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    run = sub.add_parser("run", help="run api, worker(s) and gateway in the foreground")
    run.add_argument("--apis", type=int, default=1, help="how many api processes (ports step by 10)")
    run.add_argument("--workers", type=int, default=1, help="how many worker processes")
    run.add_argument("--gateways", type=int, default=1, help="how many gateway processes")
    rebuild = sub.add_parser("rebuild", help="drop and rebuild the projections from the log")
    rebuild.add_argument("--force", action="store_true", help="even while workers run (unsafe)")
    rebuild.add_argument("--workers", type=int, default=None, metavar="N",
                         help="replay processes, each a share of the partitions (default: cores + 1)")
    sub.add_parser("provision", help="create the topics and apply the SQL migrations")
    _admin_arguments(sub.add_parser("admin", help="ban, unban, adjust, flag or review a user through the api"))
    _events_arguments(sub.add_parser("events", help="read the topics' records, decoded"))
    for name, tool in sorted(tools.items()):
        tool.add_arguments(sub.add_parser(name, help=tool.HELP, **tool.PARSER_OPTIONS))
    return parser


def package_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _admin_arguments(admin: argparse.ArgumentParser) -> None:
    verbs = admin.add_subparsers(dest="admin_command", required=True,
                                 metavar="{ban,unban,adjust,flag,approve,reject}")
    for verb, text in (("ban", "take a user off the boards"), ("unban", "put a banned user back on the boards"),
                       ("adjust", "add DELTA points to a user's score (negative to remove)"),
                       ("flag", "put a user under review: hidden, new points held"),
                       ("approve", "approve a user's pending review: release the held points"),
                       ("reject", "reject a user's pending review: void the held points")):
        command = verbs.add_parser(verb, help=text, description=text)
        command.add_argument("user", metavar="USER", help="the user id")
        if verb == "adjust":
            command.add_argument("--delta", type=int, required=True, help="points to add, e.g. 50 or -40 (not 0)")
        command.add_argument("--reason", required=True, help="why, recorded in the event (1 to 500 characters)")
        command.add_argument("--key", default="", help="the Idempotency-Key (8 to 128 of [A-Za-z0-9._:-]); a new "
                             "uuid4 when not given, printed on stderr: pass it again to retry the same command")
        command.add_argument("--api", default="", metavar="URL",
                             help="the api's base URL (default: SCOREBOARD_API_URL, else http://127.0.0.1:8000)")
        command.add_argument("--token", default="", help="an admin bearer token (default: SCOREBOARD_ADMIN_TOKEN, "
                             "else one minted with SCOREBOARD_JWT_SECRET)")
        command.add_argument("--as", dest="as_admin", default="scoreboard-admin", metavar="ADMIN",
                             help="the admin's own user id in a minted token (default: scoreboard-admin)")


def _events_arguments(events: argparse.ArgumentParser) -> None:
    verbs = events.add_subparsers(dest="events_command", required=True, metavar="{tail}")
    tail = verbs.add_parser("tail", help="print a topic's records as JSON lines",
                            description="print a topic's records, decoded, one JSON object per line")
    tail.add_argument("topic", metavar="TOPIC", help=f"a topic, e.g. {', '.join(t.name for t in TOPICS)}")
    tail.add_argument("--from-beginning", action="store_true",
                      help="start at the first record (default: only records written from now on)")
    tail.add_argument("--max", type=int, default=0, metavar="N", help="stop after N records (default: no limit)")
    tail.add_argument("--idle-timeout", type=float, default=0.0, metavar="S",
                      help="stop after S seconds without a record (default: wait forever; Ctrl-C stops)")


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

        gateway_main(processes=args.processes)
    elif args.command == "run":
        from scoreboard.runtime.supervisor import run_local

        return run_local(args.apis, args.workers, args.gateways)
    elif args.command == "rebuild":
        from stream_app.rebuild import main as rebuild_main

        return rebuild_main(force=args.force, workers=args.workers)
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
    elif args.command == "admin":
        return _admin(args)
    elif args.command == "events":
        from scoreboard.runtime.events_tail import tail
        from scoreboard.settings import Settings

        tail(Settings.from_env(), args.topic, from_beginning=args.from_beginning, max_records=args.max,
             idle_timeout_s=args.idle_timeout, emit=lambda line: print(line, flush=True))
    else:
        print(f"scoreboard {args.command}: not available yet", file=sys.stderr)
        return 3
    return 0


def _admin(args: argparse.Namespace) -> int:
    import json

    from scoreboard.runtime.admin_client import AdminClient, AdminError, admin_token, new_idempotency_key
    from scoreboard.settings import Settings, merged_environment

    environ = merged_environment()
    settings = Settings.from_env(environ)
    client = AdminClient(args.api or settings.api_url, admin_token(args.token, environ, settings, args.as_admin))
    key = args.key or new_idempotency_key()
    if not args.key:
        print(f"Idempotency-Key: {key} (retry with --key {key})", file=sys.stderr)
    try:
        if args.admin_command == "adjust":
            answer = client.adjust(args.user, args.delta, args.reason, key)
        elif args.admin_command == "flag":
            answer = client.flag(args.user, args.reason)
        elif args.admin_command in ("approve", "reject"):
            answer = client.decide(args.user, args.admin_command, args.reason)
        elif args.admin_command == "ban":
            answer = client.ban(args.user, args.reason, key)
        else:
            answer = client.unban(args.user, args.reason, key)
    except AdminError as exc:
        if exc.body:
            print(json.dumps(exc.body))
        print(f"scoreboard admin {args.admin_command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer.body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
