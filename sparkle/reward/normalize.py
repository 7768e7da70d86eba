"""String normalisation for the graders: cheap, in-process, no sympy.

* ``normalize_train``: the training reward's normalisation (its LaTeX-to-text step works);
* ``normalize_eval``: the benchmark grader's PRM800K-style normalisation, whose LaTeX-to-text step throws
  away every successful conversion (a variable-name slip in the released grader) and only uses the text
  of a retry after a failed one — reproduced here, see docs/reward.md;
* ``mathd_normalize`` / ``strip_math_string``: the Hendrycks-MATH string canonicalisation used by the
  benchmark grader.
"""

from __future__ import annotations

import re

from sparkle.reward.extract import match_brace

UNITS: tuple[str, ...] = (
    "degree",
    "cm",
    "centimeter",
    "meter",
    "mile",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
    "foot",
    "feet",
    "inch",
    "yard",
)
_UNIT_RES = [re.compile(unit + r"(es)?(s)? *(\^[0-9]+)?") for unit in UNITS]
_TEXT_WRAPPER = re.compile(r"^\\text\{(?P<text>.+?)\}$")
_CIRC = re.compile(r"\^ *\\circ")
_MINUS_SPACE = re.compile(r"- *")
_LATEX_THOUSANDS = re.compile(r",\\! *")
_MIXED_NUMBER = re.compile(r"([0-9]) +([0-9])")
_PROPER_COMMAS = re.compile(r"(\d)(,)(\d\d\d)($|\D)")

# LaTeX answers longer than this are not converted (pylatexenc is recursive and slow on huge input).
MAX_LATEX_CHARS = 2000
MAX_LATEX_BRACES = 200

_UNICODE_MATH = (("√", "sqrt"), ("π", "pi"), ("∞", "inf"), ("∪", "U"), ("·", "*"), ("×", "*"))
_latex2text = None


def _converter():
    """pylatexenc's LaTeX-to-text converter, built on first use (importing it is slow)."""
    global _latex2text
    if _latex2text is None:
        from pylatexenc import latex2text

        _latex2text = latex2text.LatexNodes2Text()
    return _latex2text


def latex_to_text(expr: str) -> str:
    """LaTeX → plain text with pylatexenc, then unicode math symbols → ASCII names."""
    converter = _converter()
    expr = expr.replace("\\tfrac", "\\frac").replace("\\dfrac", "\\frac").replace("\\frac", " \\frac")
    expr = converter.latex_to_text(expr)
    for a, b in _UNICODE_MATH:
        expr = expr.replace(a, b)
    return expr.strip()


def _common_prefix(expr: str) -> str:
    m = _TEXT_WRAPPER.search(expr)
    if m:
        expr = m.group("text")
    expr = expr.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("%", "")
    expr = expr.replace(" or ", " , ").replace(" and ", " , ")
    expr = expr.replace("million", "*10^6").replace("billion", "*10^9").replace("trillion", "*10^12")
    for unit_re in _UNIT_RES:
        expr = unit_re.sub("", expr)
    expr = _CIRC.sub("", expr)
    if len(expr) > 0 and expr[0] == "{" and expr[-1] == "}":
        expr = expr[1:-1]
    return expr


def normalize_train(expr: str | None) -> str | None:
    """The training grader's normalisation."""
    if expr is None:
        return None
    expr = _common_prefix(expr)
    if "\\" in expr and len(expr) <= MAX_LATEX_CHARS and expr.count("{") <= MAX_LATEX_BRACES:
        try:
            expr = latex_to_text(expr)
        except Exception:  # pylatexenc gives up on malformed LaTeX; keep the raw string then
            pass
    expr = _MINUS_SPACE.sub("-", expr)
    expr = expr.replace(" ", "").replace("{", "").replace("}", "")
    return expr.lower()


def strip_proper_commas(expr: str) -> str:
    """Remove thousands separators written as ``1,234,567``."""
    while True:
        nxt = _PROPER_COMMAS.sub(r"\1\3\4", expr)
        if nxt == expr:
            return expr
        expr = nxt


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def is_int_float(x: float) -> bool:
    """True for a finite float within 1e-7 of an integer."""
    if x != x or x in (float("inf"), float("-inf")):
        return False
    return abs(x - int(round(x))) <= 1e-7


def str_is_int(s: str) -> bool:
    try:
        return is_int_float(float(strip_proper_commas(s)))
    except ValueError:
        return False


def str_to_int(s: str) -> int:
    return int(float(strip_proper_commas(s).replace(",", "")))


def _balance_braces(expr: str) -> str:
    """Drop every ``}`` that closes nothing and close every ``{`` left open, leaving the text inside
    ``\\boxed{...}`` groups as it is (the benchmark grader's retry after a failed LaTeX conversion)."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(expr):
        if expr.startswith("\\boxed{", i):
            end = match_brace(expr, i + 6)
            if end >= 0:
                out.append(expr[i : end + 1])
                i = end + 1
                continue
        ch = expr[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                i += 1
                continue
            depth -= 1
        out.append(ch)
        i += 1
    return "".join(out) + "}" * depth


def _eval_latex_step(expr: str) -> str:
    """The benchmark grader's LaTeX-to-text step, quirk included.

    When the first conversion succeeds, its result is lost (the released grader assigned it to a name it
    never returned, and swallowed the resulting error), so the string goes on unconverted. Only when the
    first conversion raises does the grader retry on the brace-balanced text and use the retry's text (or,
    when the retry raises too, its input), followed by the Unicode → ASCII replacements.
    """
    converter = _converter()
    prepared = expr.replace("\\tfrac", "\\frac").replace("\\dfrac", "\\frac").replace("\\frac", " \\frac")
    try:
        converter.latex_to_text(prepared)
        return expr  # the quirk: a successful conversion is thrown away
    except Exception:  # noqa: BLE001 - pylatexenc raises KeyError, ValueError, ... on malformed LaTeX
        pass
    text = _balance_braces(prepared)
    try:
        text = converter.latex_to_text(text)
    except Exception:  # noqa: BLE001
        pass
    for a, b in _UNICODE_MATH:
        text = text.replace(a, b)
    return text.strip()


def normalize_eval(expr: str | None) -> str | None:
    """The benchmark grader's PRM800K-style normalisation, with its LaTeX-to-text quirk (``_eval_latex_step``)."""
    if expr is None:
        return None
    expr = _common_prefix(expr)
    expr = _LATEX_THOUSANDS.sub("", expr)
    if _is_float(expr) and is_int_float(float(expr)):
        expr = str(int(round(float(expr))))
    if "\\" in expr and len(expr) <= MAX_LATEX_CHARS and expr.count("{") <= MAX_LATEX_BRACES:
        expr = _eval_latex_step(expr)
    expr = _MINUS_SPACE.sub("-", expr)
    expr = _MIXED_NUMBER.sub(r"\1+\2", expr)
    expr = expr.replace(" ", "").replace("{", "").replace("}", "").lower()
    if str_is_int(expr):
        expr = str(str_to_int(expr))
    return expr


def fallback_key(expr: str) -> str:
    """What the benchmark grader compares when sympy raises on two normalised elements: the string with
    every ``{``, ``}`` and backslash deleted."""
    return expr.replace("{", "").replace("}", "").replace("\\", "")


# ---- Hendrycks MATH string canonicalisation -------------------------------------------------------


def _fix_fracs(string: str) -> str:
    parts = string.split("\\frac")
    out = parts[0]
    for sub in parts[1:]:
        out += "\\frac"
        if sub[0] == "{":  # an empty tail raises IndexError, as in the original (raw comparison then)
            out += sub
            continue
        if len(sub) < 2:
            return string
        a, b = sub[0], sub[1]
        if b != "{":
            out += "{" + a + "}{" + b + "}" + sub[2:]
        else:
            out += "{" + a + "}" + b + sub[2:]
    return out


def _fix_a_slash_b(string: str) -> str:
    if len(string.split("/")) != 2:
        return string
    a, b = string.split("/")
    try:
        ia, ib = int(a), int(b)
    except ValueError:
        return string
    if string != f"{ia}/{ib}":
        return string
    return "\\frac{" + str(ia) + "}{" + str(ib) + "}"


def _remove_right_units(string: str) -> str:
    if "\\text{ " in string:
        splits = string.split("\\text{ ")
        if len(splits) != 2:
            raise ValueError("several \\text{ } units")
        return splits[0]
    return string


def _fix_sqrt(string: str) -> str:
    if "\\sqrt" not in string:
        return string
    parts = string.split("\\sqrt")
    out = parts[0]
    for sub in parts[1:]:
        if sub[0] != "{":
            out += "\\sqrt{" + sub[0] + "}" + sub[1:]
        else:
            out += "\\sqrt" + sub
    return out


def strip_math_string(string: str) -> str:
    """Hendrycks-MATH canonical form of an answer string (may raise ValueError on odd units)."""
    string = string.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    string = string.replace("tfrac", "frac").replace("dfrac", "frac")
    string = string.replace("\\left", "").replace("\\right", "")
    string = string.replace("^{\\circ}", "").replace("^\\circ", "")
    string = string.replace("\\$", "")
    string = _remove_right_units(string)
    string = string.replace("\\%", "")
    string = string.replace(" .", " 0.").replace("{.", "{0.")
    if len(string) == 0:
        return string
    if string[0] == ".":
        string = "0" + string
    if len(string.split("=")) == 2 and len(string.split("=")[0]) <= 2:
        string = string.split("=")[1]
    string = _fix_sqrt(string)
    string = string.replace(" ", "")
    string = _fix_fracs(string)
    if string == "0.5":
        string = "\\frac{1}{2}"
    return _fix_a_slash_b(string)


def mathd_normalize(answer: str | None) -> str | None:
    """The Hendrycks-MATH answer normalisation as the benchmark grader calls it: strip, unwrap a whole-string
    ``\\text{...}`` (and strip again), then ``strip_math_string``; when that raises, the unwrapped string."""
    if answer is None:
        return None
    answer = answer.strip()
    try:
        m = _TEXT_WRAPPER.search(answer)
        if m is not None:
            answer = m.group("text").strip()
        return strip_math_string(answer)
    except Exception:  # noqa: BLE001 - the original returns the answer on any error
        return answer


def math_strings_equal(a: str | None, b: str | None) -> bool:
    """Hendrycks-MATH equivalence: the two ``mathd_normalize`` forms are equal."""
    return mathd_normalize(a) == mathd_normalize(b)
