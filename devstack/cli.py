"""``scoreboard stack up|down|status``.

Run: ``scoreboard stack up`` (or ``python -c "import devstack as s; s.main(['up'])"``).
"""

from __future__ import annotations

import argparse
import sys

from devstack.errors import StackError
from devstack.lifecycle import down, status, up


def main(argv: list[str]) -> int:
    """Run one stack command; returns the process exit code (errors go to stderr, code 1)."""
    parser = argparse.ArgumentParser(
        prog="scoreboard stack", description="Local Kafka, Postgres and Redis for development and tests."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start (or verify, or reuse) the services and write stack.env")
    commands.add_parser("down", help="stop the services this stack started; data is kept")
    commands.add_parser("status", help="show each service, whether it answers, pid, port and log")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "up":
            up()
        elif arguments.command == "down":
            down()
        else:
            print(status())
    except StackError as error:
        print(f"scoreboard stack {arguments.command}: {error}", file=sys.stderr)
        return 1
    return 0


# The `scoreboard stack` command (entry point `scoreboard.commands`, see scoreboard/cli.py).
HELP = "local Kafka, Postgres and Redis"
PARSER_OPTIONS: dict[str, object] = {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])


def run(args: argparse.Namespace) -> int:
    return main([args.action])
