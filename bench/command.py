"""The ``scoreboard bench`` command (entry point ``scoreboard.commands``, see ``scoreboard/cli.py``)."""

from __future__ import annotations

import argparse

HELP = "run the benchmark suite (scoreboard bench --help)"
PARSER_OPTIONS: dict[str, object] = {"add_help": False, "prefix_chars": "+"}
"""Every option after ``bench`` is the suite's own."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench_args", nargs="*")


def run(args: argparse.Namespace) -> int:
    from bench import main

    return main(args.bench_args)
