"""argparse ``type=`` converters that refuse impossible numbers before any work starts.

Each returns the parsed value or raises ``argparse.ArgumentTypeError`` (argparse then prints the option
name and the reason and exits with status 2).
"""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except (TypeError, ValueError) as e:
        noun = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from e
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _bounded(name: str, kind: type, accept, requirement: str):
    """A converter to ``kind`` that refuses a value ``accept`` rejects, saying it "must be <requirement>"."""

    def convert(text: str):
        value = _number(text, kind)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{text!r} must be {requirement}")
        return kind(value)

    convert.__name__ = convert.__qualname__ = name
    return convert


positive_float = _bounded("positive_float", float, lambda v: v > 0, "greater than 0")
nonnegative_float = _bounded("nonnegative_float", float, lambda v: v >= 0, "0 or more")
positive_int = _bounded("positive_int", int, lambda v: v >= 1, "1 or more")
nonnegative_int = _bounded("nonnegative_int", int, lambda v: v >= 0, "0 or more")


def spellings(flag: str) -> tuple[str, str]:
    """``flag`` and its other spelling (``--repo_id`` and ``--repo-id``), for options that accept both; the
    first names the option in the help (argparse derives the same ``dest`` from either)."""
    other = flag[:2] + (flag[2:].replace("_", "-") if "_" in flag[2:] else flag[2:].replace("-", "_"))
    return flag, other
