"""The ``math_verify`` policy: an accurate grader for new work (not the paper's), built on the math-verify
library with in-process shortcuts that are decisive for math-verify too.

What it adds in front of (and after) ``math_verify.parse``/``verify``:

* its own answer reading: the last run of ``\\boxed{}`` answers joined by commas / "and" / "or" (the set
  ``\\boxed{1}, \\boxed{2}, \\boxed{3}``) instead of the last box alone; a sentence inside the box
  (``\\boxed{The solution is $x \\neq 5$}``) is cut down to its mathematics; ``\\cfrac`` reads as ``\\frac``;
* a decimal comma (``1000,99``) read as a decimal point when the other side is a decimal, and the reverse;
* percentages: ``60\\%`` equals ``60`` and ``0.6``;
* numbers given to a stated precision: a decimal (or ``m \\times 10^{e}``) equals any value that rounds to
  it, when it has at least three significant digits as the gold or four as the response
  (``0.6054`` and ``\\cos^{10}(\\pi/10)``); two numbers in scientific notation are equal when they agree
  to the coarser one's last digit (``7.1 \\cdot 10^{35}`` and ``7 \\times 10^{35}``);
* matrices compared cell by cell with the same rules (``0.3333`` against ``\\frac{1}{3}``).

Everything that needs sympy or math-verify runs in a guarded worker (``math_verify_any_worker``).
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

from sparkle.reward.extract import match_brace
from sparkle.reward.guard import GuardedPool, default_pool
from sparkle.reward.lru import LRU
from sparkle.reward.normalize import normalize_train
from sparkle.reward.numeric import evaluate_latex, numeric_verdict
from sparkle.reward.symbolic import plain_number

# ---- the policy's own answer reading ---------------------------------------------------------------

MAX_BOXES = 6  # math-verify joins at most six adjacent boxes
_BOX_SEPARATOR = re.compile(
    r"(?:\s|,|;|\.|\$|&|\\\(|\\\)|\\\[|\\\]|\\quad|\\qquad|\\,|\\;|\\text\{\s*(?:,|and|or)?\s*\}|\band\b|\bor\b)*"
)
_MAX_SEPARATOR = 40


def _box_before(text: str, end: int) -> tuple[int, int] | None:
    """``(start, close)`` of a ``\\boxed{...}`` whose closing brace is the last non-separator before ``end``."""
    lo = max(0, end - _MAX_SEPARATOR)
    gap = text[lo:end]
    m = _BOX_SEPARATOR.fullmatch(gap)
    k = lo
    while m is None and k < end:  # the longest separator-only suffix of the gap
        k += 1
        m = _BOX_SEPARATOR.fullmatch(text, k, end)
    if m is None:
        return None
    close = m.start() - 1
    if close < 0 or text[close] != "}":
        return None
    i = match_brace(text, close, -1)
    if i < 6 or text[i - 6 : i] != "\\boxed":
        return None
    return i - 6, close


def boxed_run(text: str) -> list[str] | None:
    """The contents of the last run of adjacent ``\\boxed{}`` answers, in order; None without two of them."""
    if not isinstance(text, str) or text.count("\\boxed{") < 2:
        return None
    last = text.rfind("\\boxed{")
    depth, close = 0, -1
    for i in range(last + 6, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                close = i
                break
    if close < 0:
        return None
    boxes = [text[last + 7 : close].strip()]
    start = last
    while len(boxes) < MAX_BOXES:
        found = _box_before(text, start)
        if found is None:
            break
        start, end = found
        boxes.append(text[start + 7 : end].strip())
    return boxes[::-1] if len(boxes) > 1 else None


_SENTENCE = re.compile(
    r"^\s*(?:\\text\{\s*)?(?:[A-Za-z][A-Za-z']*[\s,]+){1,12}?(?:is|are|equals|be|gives)\s*:?\s*(?:\}\s*)?",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^\s*(?:\\text\{\s*)?(?:final\s+)?answer\s*:\s*(?:\}\s*)?", re.IGNORECASE)
_INLINE_MATH = re.compile(r"\$([^$]+)\$")


def clean_answer(answer: str) -> str:
    """An answer as the policy reads it: a sentence cut to its mathematics, ``\\cfrac`` as ``\\frac``."""
    s = answer.replace("\\cfrac", "\\frac")
    if len(s) > MAX_RULE_CHARS:
        return s.strip()
    if "$" in s and re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", s.replace("\\", " \\")):
        maths = [m.strip() for m in _INLINE_MATH.findall(s) if m.strip()]
        if maths:
            return ", ".join(maths)  # "The roots are $1$ and $2$" → "1, 2"
    m = _ANSWER_LABEL.match(s) or _SENTENCE.match(s)
    if m and m.end() < len(s):
        rest = s[m.end() :].strip().rstrip(".").strip()
        if rest:
            return rest
    return s.strip()


def policy_answer(extracted: str | None, response: str | None) -> str | None:
    """The answer the policy grades: a run of adjacent boxes joined with commas, else the extraction."""
    boxes = boxed_run(response) if response else None
    if boxes is not None and extracted is not None and clean_answer(boxes[-1]) == clean_answer(extracted):
        return ", ".join(clean_answer(b) for b in boxes)
    return None if extracted is None else clean_answer(extracted)


# ---- in-process readings of numbers ------------------------------------------------------------------

_MV_INT = re.compile(r"-?[0-9]{1,40}")
_MV_THOUSANDS = re.compile(r"-?[1-9][0-9]{0,2}(?:,[0-9]{3}){1,12}")


def _mv_number(s: str, allow_commas: bool) -> tuple[Fraction, bool] | None:
    """(value, written as a decimal) of a number math-verify reads unambiguously, else None."""
    if allow_commas and _MV_THOUSANDS.fullmatch(s):
        return Fraction(int(s.replace(",", ""))), False
    if _MV_INT.fullmatch(s):
        return Fraction(int(s)), False  # leading zeros ("025") read as the integer
    value = plain_number(s)
    if value is None:
        return None
    return value, "." in s


def _mv_numbers(s: str) -> tuple[str, list[tuple[Fraction, bool]]] | None:
    """A plain number, or a bracketed tuple/interval of plain numbers, as exact values."""
    if not s:
        return None
    if len(s) > 2 and s[0] in "([" and s[-1] in ")]":
        parts, shape, commas = s[1:-1].split(","), s[0] + s[-1], False
    else:
        parts, shape, commas = [s], "", True
    values = []
    for part in parts:
        v = _mv_number(part, commas)
        if v is None:
            return None
        values.append(v)
    return shape, values


def _mv_decide(gt_n: str, given_n: str) -> bool | None:
    """math-verify's verdict on plain numbers (or tuples of them) decided exactly, or None.

    Rationals compare exactly; when a decimal is involved math-verify compares values rounded to six
    decimals, so an exact tie is equal, a gap above 2e-6 is unequal, and anything in between is left
    to math-verify itself.
    """
    a, b = _mv_numbers(gt_n), _mv_numbers(given_n)
    if a is None or b is None or a[0] != b[0] or len(a[1]) != len(b[1]):
        return None
    verdict = True
    for (x, x_dec), (y, y_dec) in zip(a[1], b[1], strict=True):
        if x == y:
            continue
        if not (x_dec or y_dec) or abs(x - y) > Fraction(2, 10**6):
            verdict = False
            continue
        return None
    return verdict


_LIGHT = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\:|\\ |\s|\$|~")
_COMMAND_SPACE = re.compile(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])")
_DECIMAL = re.compile(r"(-?)([0-9]*)\.([0-9]+)")
_SCIENTIFIC = re.compile(
    r"(-?)([0-9]+)(?:\.([0-9]+))?(?:\\times|\\cdot|\*|×) ?10\^(?:\{([-+]?[0-9]{1,3})\}|([0-9]))"
)
_E_NOTATION = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?[eE]([-+]?[0-9]{1,3})")
GOLD_STATED_DIGITS = 3  # significant digits that make a gold decimal a stated precision
PRED_STATED_DIGITS = 4  # ... and a response decimal, against an exact gold


def _light(s: str) -> str:
    """``s`` without spacing commands, ``\\left``/``\\right``, ``$`` and spaces (one space kept after a
    command such as ``\\sqrt x``, where it separates the argument)."""
    return _LIGHT.sub("", _COMMAND_SPACE.sub("\\1\x01", s)).replace("\x01", " ")


def stated_number(s: str) -> tuple[Fraction, Fraction, int, bool] | None:
    """``(value, half a unit in the last place, significant digits, scientific)`` of an answer written as a
    decimal (``0.6054``) or in scientific notation (``7.1 \\times 10^{35}``, ``7e35``); else None."""
    t = _light(s)
    if len(t) > 60:
        return None
    m = _DECIMAL.fullmatch(t)
    if m:
        sign, whole, frac = m.groups()
        exp, sci = 0, False
    else:
        m = _SCIENTIFIC.fullmatch(t) or _E_NOTATION.fullmatch(t)
        if not m:
            return None
        sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
        exp, sci = int(next(g for g in m.groups()[3:] if g is not None)), True
    digits = (whole + frac).lstrip("0")
    if not digits:
        return None
    value = Fraction(int(whole + frac), 10 ** len(frac)) * Fraction(10) ** exp
    half_ulp = Fraction(1, 2) * Fraction(10) ** (exp - len(frac))
    return (-value if sign else value), half_ulp, len(digits), sci


def tolerance(gold: str, pred: str) -> tuple[str, Fraction] | None:
    """The rounding the two answers allow, as ``(side, half_ulp)``: ``side`` is "gold" / "pred" (that
    side states its precision; the other may be any expression) or "both"; None for exact comparison.

    A gold decimal states the precision the problem asked for when it has at least three significant
    digits; a response decimal against an exact gold needs four (``4.67`` is not ``\\frac{14}{3}``,
    ``1.414`` is ``\\sqrt{2}``); two numbers in scientific notation always compare to the coarser one.
    """
    a, b = stated_number(gold), stated_number(pred)
    if a is not None and b is not None:
        if a[3] and b[3]:
            return "both", max(a[1], b[1])
        if a[1] >= b[1]:
            return ("both", a[1]) if a[2] >= GOLD_STATED_DIGITS else None
        return ("both", b[1]) if b[2] >= PRED_STATED_DIGITS else None
    if a is not None and a[2] >= GOLD_STATED_DIGITS:
        return "gold", a[1]
    if b is not None and b[2] >= PRED_STATED_DIGITS:
        return "pred", b[1]
    return None


def _within(x: complex | Fraction, st: tuple[Fraction, Fraction, int, bool]) -> bool:
    if isinstance(x, complex):
        if abs(x.imag) > 1e-12:
            return False
        x = x.real
    return abs(float(x) - float(st[0])) <= float(st[1]) * (1 + 1e-9) + 1e-15 * abs(float(st[0]))


def _tolerance_verdict(gold: str, pred: str) -> bool | None:
    """In-process verdict of the stated-precision rule, or None when it does not apply / needs sympy."""
    if len(gold) > MAX_RULE_CHARS or len(pred) > MAX_RULE_CHARS:
        return None
    tol = tolerance(gold, pred)
    if tol is None:
        return None
    a, b = stated_number(gold), stated_number(pred)
    if tol[0] == "both":
        assert a is not None and b is not None
        return abs(a[0] - b[0]) <= tol[1]
    stated, other = (a, pred) if tol[0] == "gold" else (b, gold)
    assert stated is not None
    value = evaluate_latex(other)
    if value is None:
        return None
    return _within(value[0], stated)


# ---- decimal commas and percentages ------------------------------------------------------------------

_DECIMAL_COMMA = re.compile(r"(-?[0-9]+)(?:,|\{,\})([0-9]+)")
_PERCENT = re.compile(r"^(.*?)\s*\\?%\s*$", re.DOTALL)


def _comma_as_point(s: str) -> str | None:
    """``1000,99`` → ``1000.99`` (a decimal comma: not a group of three digits, or ``{,}``); else None."""
    t = _light(s)
    m = _DECIMAL_COMMA.fullmatch(t)
    if m is None:
        return None
    if len(m.group(2)) == 3 and "{,}" not in t and len(m.group(1).lstrip("-")) <= 3:
        return None  # 1,000: a thousands separator
    if "{,}" in t and len(m.group(2)) == 3:
        return None  # 10{,}000: MATH's thousands separator
    return f"{m.group(1)}.{m.group(2)}"


def _is_decimal(s: str) -> bool:
    return _DECIMAL.fullmatch(_light(s)) is not None


def _strip_percent(s: str) -> str | None:
    m = _PERCENT.match(s)
    if m is None or not m.group(1).strip():
        return None
    return m.group(1).rstrip("\\").strip()


def variants(gold: str, pred: str) -> list[tuple[str, str]]:
    """The readings of (gold, pred) to compare; equal when any of them is."""
    out = [(gold, pred)]
    if len(gold) > MAX_RULE_CHARS or len(pred) > MAX_RULE_CHARS:
        return out
    g_pct, p_pct = _strip_percent(gold), _strip_percent(pred)
    if g_pct is not None and p_pct is not None:
        out.append((g_pct, p_pct))
    elif p_pct is not None:
        out += [(gold, p_pct), (gold, f"\\frac{{{p_pct}}}{{100}}")]
    elif g_pct is not None:
        out += [(g_pct, pred), (f"\\frac{{{g_pct}}}{{100}}", pred)]
    more = []
    for g, p in out:
        if _is_decimal(g) and (c := _comma_as_point(p)) is not None:
            more.append((g, c))
        elif _is_decimal(p) and (c := _comma_as_point(g)) is not None:
            more.append((c, p))
    return out + more


# ---- matrices -----------------------------------------------------------------------------------------

_MATRIX = re.compile(r"\\begin\{([pbBvV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)


def matrix_cells(s: str) -> list[list[str]] | None:
    """The cells of a single ``\\begin{pmatrix}...\\end{pmatrix}`` answer, row by row; else None."""
    m = _MATRIX.fullmatch(s.strip())
    if m is None or "\\begin" in m.group(2):
        return None
    rows = [r for r in m.group(2).split("\\\\") if r.strip()]
    return [[c.strip() for c in r.split("&")] for r in rows]


# ---- the policy -----------------------------------------------------------------------------------------

Check = tuple[tuple[str, str, str], ...]  # alternatives (gold, pred, tolerance side or "")


MAX_RULE_CHARS = 1000  # longer answers skip the in-process rules (math-verify decides, under the limit)


def _fast(gold: str, pred: str, depth: int = 0) -> bool | None:
    """In-process verdict on one reading (decisive for math-verify), or None."""
    if gold.strip() == pred.strip():
        return True
    if len(gold) > MAX_RULE_CHARS or len(pred) > MAX_RULE_CHARS:
        return None
    gt_n, given_n = normalize_train(gold), normalize_train(pred)
    if gt_n and gt_n == given_n:
        return True
    if "%" in gold or "%" in pred:
        return None
    decided = _mv_decide(gt_n or "", given_n or "")
    if decided is None:
        decided = numeric_verdict(gold, pred)
    if decided is None:
        for rule in RULES:
            decided = rule(gold, pred)
            if decided is not None:
                return decided
        if depth == 0:
            g, p = _strip_common_unit(gold, pred)
            if (g, p) != (_light(gold), _light(pred)) and g and p:
                return _fast(g, p, depth + 1)
            return _one_sided_unit(gold, pred)
    return decided


def _plain_items(s: str) -> set[Fraction] | None:
    t = _light(s)
    if "," not in t or any(ch in t for ch in "()[]{}") or _MV_THOUSANDS.fullmatch(t):
        return None
    items = set()
    for part in t.split(","):
        v = _mv_number(part, False)
        if v is None or v[1]:  # decimals: math-verify rounds them, leave those lists to it
            return None
        items.add(v[0])
    return items


def _same_reading(read, gold: str, pred: str) -> bool | None:
    """Whether ``read`` gives gold and pred the same value; None when it cannot read either."""
    a, b = read(gold), read(pred)
    if a is None or b is None:
        return None
    return a == b


def _number_sets(gold: str, pred: str) -> bool | None:
    """Unbracketed lists of integers / fractions (``2,16`` and ``16, 2``): math-verify reads sets."""
    return _same_reading(_plain_items, gold, pred)


_CHOICE = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\{\s*\(?([A-E])\)?\s*\}|\(?([A-E])\)?")


def _choice_letters(gold: str, pred: str) -> bool | None:
    """Multiple-choice letters (``\\text{(A)}`` and ``A``)."""
    a, b = _CHOICE.fullmatch(_light(gold)), _CHOICE.fullmatch(_light(pred))
    if (a is None) != (b is None) and evaluate_latex(pred if a else gold) is not None:
        return False  # a letter against a number
    if a is None or b is None:
        return None
    return (a.group(1) or a.group(2)) == (b.group(1) or b.group(2))


_INTERVAL = re.compile(r"([\[(])(-?\\infty|[^,]+),(\\infty|[^,]+)([\])])")
_INF = Fraction(10) ** 400


def _endpoint(s: str) -> Fraction | None:
    if s in ("\\infty", "-\\infty"):
        return -_INF if s[0] == "-" else _INF
    exact = plain_number(s)
    if exact is not None:
        return exact
    if "." in s:
        return None
    v = evaluate_latex(s)  # \frac{64}{11}: exact enough at 1e-12 (differences below that are left alone)
    if v is None or v[1] or abs(v[0]) > 1e12:
        return None
    return Fraction(round(v[0].real * 10**12), 10**12)


def _union(s: str) -> list[tuple[Fraction, bool, Fraction, bool]] | None:
    """A union of intervals with exact endpoints, merged into canonical form; None otherwise."""
    parts = [x.strip() for x in _light(s).replace("\\cup", "∪").split("∪")]
    if len(parts) > 20:
        return None
    spans = []
    for part in parts:
        m = _INTERVAL.fullmatch(part)
        if m is None:
            return None
        lo, hi = _endpoint(m.group(2)), _endpoint(m.group(3))
        if lo is None or hi is None:
            return None
        if lo > hi or (lo == hi and not (m.group(1) == "[" and m.group(4) == "]")):
            continue  # empty, as sympy reads it
        spans.append((lo, m.group(1) == "[", hi, m.group(4) == "]"))
    if not spans:
        return []
    spans.sort(key=lambda x: (x[0], not x[1]))
    merged = [spans[0]]
    for lo, lc, hi, hc in spans[1:]:
        plo, plc, phi, phc = merged[-1]
        if lo < phi or (lo == phi and (lc or phc)):
            if hi > phi or (hi == phi and hc):
                merged[-1] = (plo, plc, hi, hc if hi > phi else (hc or phc))
        else:
            merged.append((lo, lc, hi, hc))
    return merged


def _interval_unions(gold: str, pred: str) -> bool | None:
    """Unions of intervals (``(-5,-2] \\cup (-1,3]``), compared as the sets they are."""
    if "\\cup" not in gold + pred and "\\infty" not in gold + pred:
        return None
    return _same_reading(_union, gold, pred)


_BASE = re.compile(r"([0-9A-Z]+)_(?:\{([0-9]+)\}|([0-9]))")


def _base_numbers(gold: str, pred: str) -> bool | None:
    """Numbers written in a base (``4210_{5}``), compared digit by digit when the bases agree."""
    a, b = _BASE.fullmatch(_light(gold)), _BASE.fullmatch(_light(pred))
    if (a is None) != (b is None):  # a base number against a number of another value
        m, other = (a, pred) if a else (b, gold)
        v = evaluate_latex(other)
        if m is not None and m.group(1).isdigit() and v is not None and v[0] != int(m.group(1)):
            return False
        return None
    if a is None or b is None or (a.group(2) or a.group(3)) != (b.group(2) or b.group(3)):
        return None
    return a.group(1).lstrip("0") == b.group(1).lstrip("0")


def _top_items(s: str) -> list[str]:
    """``s`` split at its top-level commas."""
    items, depth, start = [], 0, 0
    for k, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(s[start:k])
            start = k + 1
    items.append(s[start:])
    return items


_DEGREE = re.compile(r"\^\\circ$|\^\{\\circ\}$")


def _value_list(s: str) -> list[complex] | None:
    """The values of an unbracketed list of arithmetic items (``1 + i, 1 - i``), a single value as a list
    of one; None when an item is outside the evaluator's grammar."""
    t = _light(s)
    if not t or len(t) > 400 or _MV_THOUSANDS.fullmatch(t):
        return None
    items = _top_items(t)
    if len(items) > 1 and any(it[:1] in "([" and it[-1:] in ")]" for it in items):
        return None  # a list of tuples / intervals
    degrees = [bool(_DEGREE.search(it)) for it in items]
    values = []
    for item, deg in zip(items, degrees, strict=True):
        v = evaluate_latex(_DEGREE.sub("", item) if deg else item)
        if v is None:
            return None
        values.append((v[0], deg))
    if any(d for _, d in values) and not all(d for _, d in values):
        return None
    return [v for v, _ in values]


def _value_sets(gold: str, pred: str) -> bool | None:
    """Lists of values (``3i,-3i`` and ``-3i, 3i``; ``0,-3`` and ``375``): math-verify reads sets."""
    if "," not in gold + pred or "." in gold + pred:
        return None
    if bool(_DEGREE.search(_light(gold))) != bool(_DEGREE.search(_light(pred))):
        return None
    a, b = _value_list(gold), _value_list(pred)
    if a is None or b is None:
        return None

    def covered(xs: list[complex], ys: list[complex], tol: float) -> bool:
        return all(any(abs(x - y) <= tol * max(1.0, abs(x)) for y in ys) for x in xs)

    if covered(a, b, 1e-11) and covered(b, a, 1e-11):
        return True if len(a) > 1 and len(b) > 1 else None  # a number against {5, 5}: leave it
    if not covered(a, b, 1e-5) or not covered(b, a, 1e-5):
        return False
    return None


_WORDS = re.compile(r"\\text\{\s*([A-Za-z][A-Za-z ]*?)\s*\}\.?")
_ZERO_DENOMINATOR = re.compile(r"-?\\[dt]?frac(?:\{[^{}]*\}|[0-9])(?:\{0\}|0)")
_ROUND_INTERVAL = re.compile(r"[\[(].*,.*[\])]")


def _kinds(gold: str, pred: str) -> bool | None:
    """Answers of different kinds math-verify never equates: a number or expression against an interval
    with an infinite end or a union, a matrix, a word, or a division by zero; two different words."""
    g, p = _light(gold), _light(pred)
    wg, wp = _WORDS.fullmatch(g), _WORDS.fullmatch(p)
    if wg and wp:
        return wg.group(1).lower().replace(" ", "") == wp.group(1).lower().replace(" ", "")
    for x, y, wx in ((g, p, wg), (p, g, wp)):
        if _polynomial(y) is None:
            continue
        if wx and len(wx.group(1)) > 1:
            return False
        if _ZERO_DENOMINATOR.fullmatch(x):
            return False
        if matrix_cells(x) is not None:
            return False
        if _ROUND_INTERVAL.fullmatch(x) and ("\\infty" in x or "\\cup" in x):
            return False
    return None


def _polynomial(s: str) -> complex | None:
    v = evaluate_latex(s, _SAMPLE)
    return None if v is None else v[0]


_SAMPLE = {v: 0.5 + 0.37 * k for k, v in enumerate("abcdfghjklmnopqrstuvwxyz")}
_EQUATION = re.compile(r"([A-Za-z](?:_\{?[0-9a-z]\}?)?)=([^=<>]+)")


def _equations(gold: str, pred: str) -> bool | None:
    """``y = 2x - 13`` against ``y = 2x - 11`` (same variable: the right sides decide), or ``k = 45``
    against ``45`` (the right side against the number)."""
    g, p = _light(gold), _light(pred)
    mg, mp = _EQUATION.fullmatch(g), _EQUATION.fullmatch(p)
    if mg and mp:
        if mg.group(1) != mp.group(1):
            return None
        return _fast(mg.group(2), mp.group(2), 1)
    if (mg is None) == (mp is None) or "=" in (g if mp else p):
        return None
    rhs, other = (mg.group(2), p) if mg else (mp.group(2), g)  # type: ignore[union-attr]
    return False if _fast(rhs, other, 1) is False else None


_UNIT_TAIL = re.compile(
    r"(?:\\(?:text|mbox|mathrm)\{[^{}]*\}|\^\\circ|\^\{\\circ\})(?:\^[0-9]|\^\{[0-9]\})?$"
)
_APPROX = re.compile(r"^\\approx")


def _one_sided_unit(gold: str, pred: str) -> bool | None:
    """``15\\mbox{ cm}^2`` against ``9``: math-verify drops the unit, so clearly different numbers differ."""
    g, p = _light(gold), _light(pred)
    mg, mp = _UNIT_TAIL.search(g), _UNIT_TAIL.search(p)
    if (mg is None) == (mp is None):
        return None
    if mg:
        g = g[: mg.start()]
    if mp:
        p = p[: mp.start()]
    x, y = evaluate_latex(g), evaluate_latex(p)
    if x is None or y is None:
        return None
    return False if abs(x[0] - y[0]) > 1e-6 * max(1.0, abs(x[0])) else None


RULES = (_number_sets, _value_sets, _choice_letters, _interval_unions, _base_numbers, _kinds, _equations)


def _strip_common_unit(gold: str, pred: str) -> tuple[str, str]:
    """Drop a unit (``\\text{ mph}``, ``\\mbox{ cm}^2``) or ``\\approx`` written the same on both sides."""
    g, p = _light(gold), _light(pred)
    if g.endswith(".") and p.endswith("."):
        g, p = g[:-1], p[:-1]
    mg, mp = _UNIT_TAIL.search(g), _UNIT_TAIL.search(p)
    if mg and mp and mg.group(0) == mp.group(0):
        g, p = g[: mg.start()], p[: mp.start()]
    if _APPROX.match(g) and _APPROX.match(p):
        g, p = g[7:].strip(), p[7:].strip()
    return g, p


def _scalar(gold: str, pred: str) -> bool | Check:
    """True / False decided in-process, or the readings a worker has to settle."""
    pending = []
    for g, p in variants(gold, pred):
        decided = _fast(g, p)
        if decided is True:
            return True
        tol = _tolerance_verdict(g, p)
        if tol is True:
            return True
        if decided is None or (tol is None and tolerance(g, p) is not None):
            side = tolerance(g, p)
            pending.append((g, p, side[0] if side and tol is None else ""))
    return tuple(pending) if pending else False


def math_verify_equal(
    given: str | None,
    gt: str,
    response: str | None = None,
    timeout: float | None = None,
    pool: GuardedPool | None = None,
):
    """The policy's verdict ``(equal, timed_out)`` on an extracted answer (None: math-verify reads the
    whole response itself) against one ground truth."""
    from sparkle.reward.grading import _guarded

    guard = pool or default_pool()
    guard.start_early()
    if given is None:
        if not response:
            return False, False
        return _guarded("math_verify_worker", (gt, None, response), timeout, pool)
    given = policy_answer(given, response) or ""
    gt = clean_answer(gt)
    checks: list[Check] = []
    long = len(gt) > MAX_RULE_CHARS or len(given) > MAX_RULE_CHARS
    g_cells, p_cells = (None, None) if long else (matrix_cells(gt), matrix_cells(given))
    whole = _scalar(gt, given)
    if whole is True:
        return True, False
    if g_cells and p_cells and [len(r) for r in g_cells] == [len(r) for r in p_cells]:
        for g_row, p_row in zip(g_cells, p_cells, strict=True):
            for g, p in zip(g_row, p_row, strict=True):
                cell = _scalar(g, p)
                if cell is False:
                    return False, False  # math-verify compares matrices cell by cell
                if cell is not True:
                    checks.append(cell)
            else:
                continue
            break
        else:
            if not checks:
                return True, False
    if whole is False and not checks:
        return False, False
    groups: list[tuple[Check, ...]] = []
    if whole is not False:
        groups.append((whole,))
    if checks:
        groups.append(tuple(checks))
    return _guarded("math_verify_any_worker", (tuple(groups),), timeout, pool)


# ---- worker side: math-verify itself (imported lazily, only in a worker) -----------------------------

_warm_started = False
_warm_done = threading.Event()


def math_verify_configs():
    """math-verify's extraction settings: the gold in ``$...$``; the prediction with ``\\boxed`` first."""
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    gold = [LatexExtractionConfig(), ExprExtractionConfig()]
    pred = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    return gold, pred


_GOLD_CACHE = LRU(4096)


def _parse_gold(gold: str):
    from math_verify import parse

    parsed = _GOLD_CACHE.get(gold)
    if parsed is None:
        parsed = parse(f"${gold}$", math_verify_configs()[0], parsing_timeout=None)
        _GOLD_CACHE.put(gold, parsed)
    return parsed


def _wait_warm() -> None:
    if _warm_started:
        _warm_done.wait(120)


def math_verify_worker(gold: str, pred: str | None, response: str | None) -> bool:
    """math-verify's verdict: the gold against the extracted answer, or against the whole response."""
    from math_verify import parse, verify

    _wait_warm()
    try:
        gold_parsed = _parse_gold(gold)
        text = f"\\boxed{{{pred}}}" if pred is not None else (response or "")
        pred_parsed = parse(text, math_verify_configs()[1], parsing_timeout=None)
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))
    except Exception:
        return False


def _numeric_value(parsed) -> complex | None:
    import sympy

    for expr in parsed:
        if isinstance(expr, sympy.Basic) and expr.is_number:
            try:
                return complex(sympy.N(expr, 30))
            except (TypeError, ValueError):
                return None
    return None


def _within_stated(gold: str, pred: str, side: str) -> bool:
    """The stated-precision rule with sympy evaluating the side that is not a stated number."""
    from math_verify import parse

    stated, other = (gold, pred) if side == "gold" else (pred, gold)
    st = stated_number(stated)
    if st is None:
        return False
    other_parsed = (
        _parse_gold(other) if side == "pred" else parse(f"\\boxed{{{other}}}", math_verify_configs()[1])
    )
    value = _numeric_value(other_parsed)
    return value is not None and _within(value, st)


def math_verify_any_worker(groups: tuple[tuple[Check, ...], ...]) -> bool:
    """True when, for some group, every check has an alternative math-verify (or the stated-precision
    rule) accepts."""
    _wait_warm()
    for group in groups:
        ok = True
        for check in group:
            if not any(
                math_verify_worker(g, p, None) or (side in ("gold", "pred") and _safe_within(g, p, side))
                for g, p, side in check
            ):
                ok = False
                break
        if ok:
            return True
    return False


def _safe_within(gold: str, pred: str, side: str) -> bool:
    try:
        return _within_stated(gold, pred, side)
    except Exception:
        return False


def start_warming() -> None:
    """Load math-verify in a background thread of the worker; math-verify requests wait for it."""
    global _warm_started
    _warm_started = True
    threading.Thread(target=warm_worker, daemon=True).start()


def warm_worker() -> bool:
    """Load math-verify and its LaTeX parser with one comparison."""
    try:
        from math_verify import parse, verify

        return bool(verify(parse("$\\frac{1}{2}$"), parse("\\boxed{0.5}")))
    except Exception:
        return False
    finally:
        _warm_done.set()
