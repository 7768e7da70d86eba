"""A small, bounded evaluator for LaTeX arithmetic (numbers, ``\\frac``, ``\\sqrt``, ``\\pi``, ``i``, ``+ - *
^``, brackets, implicit products). It lets the ``math_verify`` policy settle ordinary numeric answers
in-process; anything outside this grammar (letters, ``/``, functions, sets, units ...) is refused
(None) and goes to math-verify in a guarded worker.

It never runs unbounded work: inputs are short, nesting is shallow and exponents are small.
"""

from __future__ import annotations

import cmath
import math
import re

MAX_CHARS = 160
MAX_DEPTH = 30
MAX_EXPONENT = 64.0

_DROP = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\:|\\ |~|\\displaystyle")
_TOKEN = re.compile(
    r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(\\frac|\\dfrac|\\tfrac|\\sqrt|\\pi|\\cdot|\\times)|([-+*^(){}\[\]i])|([a-df-hj-z]))"
)
# Letters read as variables (never e or i, which math-verify reads as constants), and the values they take
# at the sample points of ``numeric_verdict``.
VARIABLES = "abcdfghjklmnopqrstuvwxyz"
_SAMPLES = tuple(
    {v: 0.5 + ((k + 1) * 0.7548776662 + (n + 1) * 0.5698402910) % 1.7 for n, v in enumerate(VARIABLES)}
    for k in range(3)
)


class _Refuse(Exception):
    pass


def _power(base: complex, exponent: complex) -> complex:
    """``base ** exponent`` where it is unambiguous: a finite real exponent of bounded size, no zero to
    a non-positive power, and for a non-integer exponent a positive real base (principal branches of
    complex powers are left to sympy); anything else refuses."""
    if exponent.imag != 0 or abs(exponent.real) > MAX_EXPONENT or (base == 0 and exponent.real <= 0):
        raise _Refuse
    e = exponent.real
    if e == int(e) and base.imag == 0:
        return complex(base.real ** int(e))
    if base.imag == 0 and base.real > 0:
        return complex(base.real**e)
    raise _Refuse


def _tokens(text: str) -> list[tuple[str, str]]:
    text = _DROP.sub(" ", text).strip()
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise _Refuse
        pos = m.end()
        if m.group(4) is not None:
            out.append(("var", m.group(4)))
        elif m.group(1) is not None:
            out.append(("num", m.group(1)))
        elif m.group(2) is not None:
            cmd = m.group(2)
            cmd = "\\frac" if cmd in ("\\dfrac", "\\tfrac") else cmd
            out.append(("op", "*") if cmd in ("\\cdot", "\\times") else ("cmd", cmd))
        else:
            out.append(("op", m.group(3)))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], env: dict[str, float] | None = None) -> None:
        self.t = tokens
        self.i = 0
        self.depth = 0
        self.imaginary = False
        self.env = env
        self.variables: set[str] = set()

    def variable(self, name: str) -> complex:
        if self.env is None:
            raise _Refuse
        self.variables.add(name)
        return complex(self.env[name])

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise _Refuse
        self.i += 1
        return tok[1]

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refuse

    def expr(self) -> complex:
        self.enter()
        value = self.term()
        while (tok := self.peek()) is not None and tok in (("op", "+"), ("op", "-")):
            self.i += 1
            rhs = self.term()
            value = value + rhs if tok[1] == "+" else value - rhs
        self.depth -= 1
        return value

    def _starts_primary(self, tok: tuple[str, str] | None) -> bool:
        return tok is not None and (
            tok[0] in ("num", "cmd", "var") or tok in (("op", "("), ("op", "{"), ("op", "i"))
        )

    def term(self) -> complex:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok == ("op", "*"):
                self.i += 1
                value *= self.unary()
            elif self._starts_primary(tok):
                if self.t[self.i - 1][0] == "num" and (tok[0] == "num" or tok == ("cmd", "\\frac")):
                    raise _Refuse  # "2 3" is no product, "2\\frac{1}{2}" may be a mixed number
                value *= self.power()
            else:
                return value

    def unary(self) -> complex:
        tok = self.peek()
        if tok in (("op", "-"), ("op", "+")):
            self.i += 1
            self.enter()
            value = self.unary()
            self.depth -= 1
            return -value if tok[1] == "-" else value
        return self.power()

    def power(self) -> complex:
        base = self.primary()
        if self.peek() == ("op", "^"):
            self.i += 1
            tok = self.peek()
            if tok == ("op", "{"):
                exponent = self.group()
            elif tok is not None and tok[0] == "num" and len(tok[1]) == 1:
                self.i += 1
                exponent = complex(int(tok[1]))
            else:
                raise _Refuse  # 2^10 without braces: readers disagree
            return _power(base, exponent)
        return base

    def group(self) -> complex:
        """A ``{...}`` group, or the single digit TeX takes as an undelimited argument."""
        tok = self.peek()
        if tok == ("op", "{"):
            self.i += 1
            value = self.expr()
            self.take("op", "}")
            return value
        if tok is not None and tok[0] == "num" and len(tok[1]) == 1:
            self.i += 1
            return complex(int(tok[1]))
        if tok is not None and tok[0] == "var":
            self.i += 1
            return self.variable(tok[1])
        raise _Refuse

    def primary(self) -> complex:
        tok = self.peek()
        if tok is None:
            raise _Refuse
        kind, value = tok
        if kind == "num":
            self.i += 1
            return complex(float(value))
        if kind == "var":
            self.i += 1
            return self.variable(value)
        if tok in (("op", "("), ("op", "{")):
            self.i += 1
            inner = self.expr()
            self.take("op", ")" if value == "(" else "}")
            return inner
        if tok == ("op", "i"):
            self.i += 1
            self.imaginary = True
            return 1j
        if kind == "cmd" and value == "\\pi":
            self.i += 1
            return complex(math.pi)
        if kind == "cmd" and value == "\\frac":
            self.i += 1
            nxt = self.peek()
            if nxt is not None and nxt[0] == "num" and len(nxt[1]) == 2 and nxt[1].isdigit():
                self.i += 1  # \frac12
                num, den = complex(int(nxt[1][0])), complex(int(nxt[1][1]))
            else:
                num = self.group()
                den = self.group()
            if den == 0:
                raise _Refuse
            return num / den
        if kind == "cmd" and value == "\\sqrt":
            self.i += 1
            index = 2.0
            if self.peek() == ("op", "["):
                self.i += 1
                idx = self.expr()
                self.take("op", "]")
                if idx.imag != 0 or idx.real != int(idx.real) or not 2 <= idx.real <= 12:
                    raise _Refuse
                index = idx.real
            radicand = self.group()
            if radicand.imag != 0 or radicand.real < 0:
                raise _Refuse  # branch choices: leave them to sympy
            return complex(radicand.real ** (1.0 / index))
        raise _Refuse


def evaluate_latex(text: str, env: dict[str, float] | None = None) -> tuple[complex, bool] | None:
    """(value, uses i) of a plain LaTeX arithmetic expression, or None when it is outside the grammar.

    Lower-case letters other than e and i are variables taking their value from ``env`` (refused without)."""
    text = text.strip().strip("$").strip()
    if not text or len(text) > MAX_CHARS:
        return None
    try:
        parser = _Parser(_tokens(text), env)
        value = parser.expr()
        if parser.peek() is not None:
            return None
    except (_Refuse, OverflowError, ZeroDivisionError, ValueError):
        return None
    if not (cmath.isfinite(value)):
        return None
    return value, parser.imaginary


def _split_top_level(text: str) -> tuple[str, list[str]] | None:
    """``("()", [items])`` for a bracketed tuple/interval, ``("", [text])`` otherwise; None if unbalanced."""
    body = _DROP.sub(" ", text).strip().strip("$").strip()
    if len(body) > 2 and body[0] in "([" and body[-1] in ")]" and "," in body:
        items, depth, start = [], 0, 1
        for k in range(1, len(body) - 1):
            ch = body[k]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth < 0:
                    return None
            elif ch == "," and depth == 0:
                items.append(body[start:k])
                start = k + 1
        items.append(body[start:-1])
        return body[0] + body[-1], items
    return "", [body]


def numeric_verdict(gold: str, pred: str) -> bool | None:
    """math-verify's verdict on two plain LaTeX arithmetic answers (or same-bracket tuples of them), or None.

    Unequal when the values differ by more than math-verify's six-decimal rounding could hide; equal when
    they agree to 1e-11 with moderate magnitudes, no decimals and no ``i`` (where sympy would settle the
    same way); anything in between is left to math-verify.
    """
    a, b = _split_top_level(gold), _split_top_level(pred)
    if a is None or b is None:
        return None
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        # a number against a tuple, or tuples of different lengths: never equal for math-verify, as long
        # as every item is plain arithmetic (so neither side can parse into something else)
        items = a[1] + b[1]
        if max(len(a[1]), len(b[1])) >= 2 and all(evaluate_latex(t) is not None for t in items):
            return False
        return None
    verdict = True
    for x_text, y_text in zip(a[1], b[1], strict=True):
        x, y = evaluate_latex(x_text), evaluate_latex(y_text)
        if x is None or y is None:
            item = _polynomial_verdict(x_text, y_text)
            if item is None:
                return None
            verdict = verdict and item
            continue
        (vx, ix), (vy, iy) = x, y
        diff, scale = abs(vx - vy), max(1.0, abs(vx), abs(vy))
        if diff > max(2e-6, 1e-9 * scale):
            verdict = False
        elif diff <= 1e-11 and scale <= 1e9 and not (ix or iy) and "." not in x_text + y_text:
            continue
        else:
            return None
    return verdict


def _polynomial_verdict(x_text: str, y_text: str) -> bool | None:
    """Two expressions in variables (``15x - 80``, ``(t-11)(t+11)``) compared at three sample points:
    unequal when they clearly differ at one, equal when they agree at all (no decimals, no ``i``)."""
    agree = True
    for env in _SAMPLES:
        x, y = evaluate_latex(x_text, env), evaluate_latex(y_text, env)
        if x is None or y is None:
            return None
        (vx, ix), (vy, iy) = x, y
        diff, scale = abs(vx - vy), max(1.0, abs(vx), abs(vy))
        if diff > max(1e-6, 1e-7 * scale):
            return False
        if not (diff <= 1e-10 * scale and scale <= 1e9 and not (ix or iy)):
            agree = False
    return True if agree and "." not in x_text + y_text else None


# ---- normalised-text arithmetic (the train grader's sympy input), for a sound "not equal" shortcut ----

_TEXT_TOKEN = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+|sqrt|pi|[-+*/^()]")


def _text_tokens(s: str) -> list[str] | None:
    out, pos = [], 0
    while pos < len(s):
        m = _TEXT_TOKEN.match(s, pos)
        if m is None or m.end() == pos:
            return None
        tok = m.group(0)
        if tok[0].isdigit() and pos + len(tok) < len(s) and s[pos + len(tok)].isdigit():
            return None  # a leading zero ("015"): sympy's tokenizer reads 0 15, leave it to sympy
        if tok == "." or (tok == "pi" and pos + 2 < len(s) and s[pos + 2].isalnum()):
            return None  # "pi2" is one Python name to sympy's tokenizer
        out.append(tok)
        pos = m.end()
    return out


class _TextParser(_Parser):
    """sympy ``parse_expr`` semantics (with implicit multiplication) for +-*/^, sqrt(), pi and numbers."""

    def peek(self):  # type: ignore[override]
        return self.t[self.i] if self.i < len(self.t) else None

    def take_text(self, tok: str) -> None:
        if self.peek() != tok:
            raise _Refuse
        self.i += 1

    def expr(self) -> complex:  # type: ignore[override]
        self.enter()
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.t[self.i]
            self.i += 1
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        self.depth -= 1
        return value

    def term(self) -> complex:  # type: ignore[override]
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "/"):
                self.i += 1
                rhs = self.unary()
                if tok == "/":
                    if rhs == 0:
                        raise _Refuse
                    value /= rhs
                else:
                    value *= rhs
            elif tok is not None and (tok in ("(", "sqrt", "pi") or tok[0].isdigit() or tok[0] == "."):
                value *= self.power()
            else:
                return value

    def unary(self) -> complex:  # type: ignore[override]
        if self.peek() in ("-", "+"):
            op = self.t[self.i]
            self.i += 1
            self.enter()
            value = self.unary()
            self.depth -= 1
            return -value if op == "-" else value
        return self.power()

    def power(self) -> complex:  # type: ignore[override]
        base = self.primary()
        if self.peek() == "^":
            self.i += 1
            exponent = self.unary()  # "2^-1"; towers are refused by the sympy guard before we get here
            return _power(base, exponent)
        return base

    def primary(self) -> complex:  # type: ignore[override]
        tok = self.peek()
        if tok is None:
            raise _Refuse
        if tok == "(":
            self.i += 1
            value = self.expr()
            self.take_text(")")
            return value
        if tok == "pi":
            self.i += 1
            return complex(math.pi)
        if tok == "sqrt":
            self.i += 1
            self.take_text("(")
            value = self.expr()
            self.take_text(")")
            if value.imag != 0 or value.real < 0:
                raise _Refuse
            return complex(math.sqrt(value.real))
        if tok[0].isdigit() or tok[0] == ".":
            self.i += 1
            return complex(float(tok))
        raise _Refuse


def text_value(s: str) -> complex | None:
    """Value of a normalised answer such as ``11sqrt(5)+11`` or ``1/2pi`` read as sympy reads it; else None."""
    if not s or len(s) > MAX_CHARS:
        return None
    tokens = _text_tokens(s)
    if not tokens:
        return None
    try:
        parser = _TextParser(tokens)  # type: ignore[arg-type]
        value = parser.expr()
        if parser.peek() is not None:
            return None
    except (_Refuse, OverflowError, ZeroDivisionError, ValueError):
        return None
    return value if cmath.isfinite(value) else None


def clearly_different(a: str, b: str) -> bool:
    """True when two normalised answers are numbers that differ beyond any rounding: then sympy's
    ``simplify((a)-(b))`` cannot be 0, so the train grader's verdict is "not equal" without sympy."""
    va, vb = text_value(a), text_value(b)
    if va is None or vb is None:
        return False
    return abs(va - vb) > 1e-9 * max(1.0, abs(va), abs(vb))
