"""`sparkle <command>`: one entry point over the library.

Each command lives with its library code and exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed arguments; returns an exit status). Heavy engines (verl,
lm-eval, torch) are imported inside the handlers so `sparkle --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sparkle import __version__
from sparkle.errors import SparkleError
from sparkle.log import setup_logging

# Modules that define commands, in the order `sparkle --help` lists them. Only working commands are listed.
COMMAND_MODULES: tuple[str, ...] = (
    "sparkle.data.cli",
    "sparkle.reward.cli",
    "sparkle.train.cli",
    "sparkle.probes.cli",
    "sparkle.evaluate.cli",
    "sparkle.checkpoints.cli",
    "sparkle.pipeline",
    "sparkle.doctor",
    "sparkle.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparkle",
        description="SPARKLE: data, reward, GRPO configs, evaluation and probes for SparkleRL.",
    )
    parser.add_argument("--version", action="version", version=f"sparkle {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING or ERROR")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SparkleError as e:
        print(f"sparkle {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sparkle {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
