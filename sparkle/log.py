"""Logging set-up shared by the CLI, scripts and long jobs (messages go to stderr)."""

from __future__ import annotations

import logging
import os

from rich.console import Console
from rich.logging import RichHandler

_CONFIGURED = False


def setup_logging(level: str | int | None = None) -> None:
    """Configure the root logger once; ``SPARKLE_LOG_LEVEL`` overrides the default INFO."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    level = level or os.environ.get("SPARKLE_LOG_LEVEL", "INFO")
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]", handlers=[handler])
    _CONFIGURED = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
