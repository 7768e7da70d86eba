"""Logging set-up shared by the CLI, scripts and long jobs (messages go to stderr)."""

from __future__ import annotations

import logging
import os

from rich.console import Console
from rich.logging import RichHandler

_CONFIGURED = False
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(value: str) -> str:
    """An argparse ``type``: a log level name in any case (``debug``, ``Info``), returned upper-case."""
    import argparse

    name = str(value).strip().upper()
    if name == "WARN":
        name = "WARNING"
    if name not in LEVELS:
        raise argparse.ArgumentTypeError(
            f"unknown log level {value!r}; use one of {', '.join(LEVELS).lower()}"
        )
    return name


def setup_logging(level: str | int | None = None) -> None:
    """Configure the root logger once; ``SPARKLE_LOG_LEVEL`` overrides the default INFO."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    level = level or os.environ.get("SPARKLE_LOG_LEVEL", "INFO")
    if isinstance(level, str):
        level = level.strip().upper()
        if level not in LEVELS:
            level = "INFO"
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]", handlers=[handler])
    _CONFIGURED = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
