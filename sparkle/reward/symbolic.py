"""Symbolic equivalence: the cheap in-process guards and fast paths, and the sympy / math-verify work
that only ever runs inside a guarded worker process (see ``guard.py``).
"""

from __future__ import annotations

import re
from fractions import Fraction

_BAD_SUBSTRINGS = ("^{", "^(")
_BAD_REGEXES = (re.compile(r"\^[0-9]+\^"), re.compile(r"\^[0-9][0-9]+"))
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,40})")
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,14})?\.[0-9]{1,14}")
_PLAIN_FRACTION = re.compile(r"-?(?:0|[1-9][0-9]{0,14})/[1-9][0-9]{0,14}")

# Longest difference expression handed to sympy at all; longer ones count as "not equal".
MAX_SYMPY_CHARS = 4000


def _count_unknown_letters(expr: str) -> int:
    expr = expr.replace("sqrt", "").replace("frac", "")
    return len({ch for ch in expr if ch.isalpha()})


def guard_allows(expr: str) -> bool:
    """The original's guard: at most two distinct letters, no ``^{``/``^(``, no towers of numeric powers."""
    if _count_unknown_letters(expr) > 2:
        return False
    if any(bad in expr for bad in _BAD_SUBSTRINGS):
        return False
    return not any(r.search(expr) for r in _BAD_REGEXES)


def sympy_allowed(expr: str) -> bool:
    """The original's guard, and not longer than ``MAX_SYMPY_CHARS`` (longer ones count as "not equal")."""
    return len(expr) <= MAX_SYMPY_CHARS and guard_allows(expr)


def parse_surely_raises(expr: str) -> bool:
    """True when sympy's parser is certain to raise on ``expr`` without running it: a backslash that is
    not a line continuation is a tokenizer error (no quotes or line breaks, which could make it legal)."""
    return "\\" in expr and not any(ch in expr for ch in "\n\r'\"")


def plain_number(s: str) -> Fraction | None:
    """Exact value of a plain integer, short decimal or integer fraction; None for anything else.

    Used to decide ``(gt)-(pred) == 0`` in-process exactly as sympy would: numbers with leading zeros
    (which sympy's tokenizer splits, ``025`` → ``0*25``) and long decimals go to the worker instead.
    """
    if _PLAIN_INT.fullmatch(s):
        return Fraction(int(s))
    if _PLAIN_DECIMAL.fullmatch(s):
        return Fraction(s)
    if _PLAIN_FRACTION.fullmatch(s):
        num, den = s.split("/")
        return Fraction(int(num), int(den))
    return None


# ---- worker side: everything below imports sympy / math_verify lazily -------------------------------


def _parse(expr: str):
    from sympy.parsing import sympy_parser

    transformations = sympy_parser.standard_transformations + (
        sympy_parser.implicit_multiplication_application,
    )
    return sympy_parser.parse_expr(expr.replace("^", "**"), transformations=transformations)


def _numerically_nonzero(diff) -> bool:
    """Cheap proof that ``diff`` is not identically zero: a clearly nonzero value at sample points."""
    import sympy

    symbols = sorted(diff.free_symbols, key=str)
    for values in ((0.7321, 1.2913), (1.6180, 0.5772)):
        subs = {s: sympy.Float(v) for s, v in zip(symbols, values * 2, strict=False)}
        value = diff.evalf(30, subs=subs)
        if not value.is_number:
            return False
        try:
            c = complex(value)
        except (TypeError, ValueError):
            return False
        if c != c or abs(c) == float("inf"):
            return False
        if abs(c) > 1e-9:
            continue
        return False
    return True


def sympy_equal_worker(gt: str, given: str, if_raised: bool = False) -> bool:
    """``simplify((gt)-(given)) == 0``; ``if_raised`` when parsing or simplifying raises (runs in the
    worker; may be killed on overrun)."""
    import sympy

    try:
        diff = _parse(f"({gt})-({given})")
    except BaseException:  # noqa: BLE001 - sympy's parser raises anything, even SystemError
        return if_raised
    if not if_raised:
        try:
            if _numerically_nonzero(diff):
                return False
        except Exception:
            pass
    try:
        return bool(sympy.simplify(diff) == 0)
    except Exception:
        return if_raised


def warm_worker() -> bool:
    """Import sympy and run one parse + simplify, so a worker's first real comparison is not the slow one
    (math-verify loads on its first use)."""
    return sympy_equal_worker("2*sqrt(3)+x", "sqrt(12)+x")


def sleep_worker(seconds: float) -> float:
    """Sleep (used by tests to exercise the time limit and worker replacement)."""
    import time

    time.sleep(seconds)
    return seconds


def echo_worker(value: object) -> object:
    """Return the argument (used by tests and to measure the round trip)."""
    return value
