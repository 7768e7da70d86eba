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
from sparkle.errors import run_command
from sparkle.io import check_outputs
from sparkle.log import log_level, setup_logging

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


class _PlainHelp:
    """Help as plain text: reStructuredText quoting (double backquotes) dropped, and every option with a
    default shows it (argparse's ArgumentDefaultsHelpFormatter, minus the options whose help already does)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = (action.help or "").replace("``", "")
        if _has_default(action) and "default" not in text.lower() and "%(default)" not in text:
            text = f"{text} (default: %(default)s)" if text else "default: %(default)s"
        return text

    def _format_text(self, text: str) -> str:
        return super()._format_text(text.replace("``", ""))  # type: ignore[misc]


def _has_default(action: argparse.Action) -> bool:
    default = action.default
    if (
        not action.option_strings
        or default is None
        or default is argparse.SUPPRESS
        or isinstance(default, bool)
    ):
        return False
    return not (isinstance(default, (str, list, tuple)) and len(default) == 0)


class PlainHelpFormatter(_PlainHelp, argparse.HelpFormatter):
    pass


class PlainRawDescriptionHelpFormatter(_PlainHelp, argparse.RawDescriptionHelpFormatter):
    pass


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Give every parser of the tree the plain-text help formatter (keeping raw descriptions raw)."""
    raw = issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter)
    parser.formatter_class = PlainRawDescriptionHelpFormatter if raw else PlainHelpFormatter
    for action in parser._actions:
        if action.help is None and _has_default(action):
            action.help = "default: %(default)s"  # still lacks a description: at least show the default
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                _plain_help(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparkle",
        description="SPARKLE: data, reward, GRPO configs, evaluation and probes for SparkleRL.",
    )
    parser.add_argument("--version", action="version", version=f"sparkle {__version__}")
    parser.add_argument(
        "--log-level", default=None, type=log_level, help="debug, info (default), warning or error (any case)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    _plain_help(parser)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """``sparkle GROUP SUBCOMMAND`` for error prefixes (``sparkle data stage-one``)."""
    parts = ["sparkle", args.command]
    for key, value in vars(args).items():
        if key.endswith("_command") and isinstance(value, str):
            parts.append(value)
    return " ".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prog = command_name(args)

    def body() -> int | None:
        check_outputs(args)  # a bad output path fails before any work starts
        return args.func(args)

    return run_command(prog, body)


if __name__ == "__main__":
    sys.exit(main())
