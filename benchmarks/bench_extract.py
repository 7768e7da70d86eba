"""Answer extraction stays linear-time on long hostile texts.

For each text shape the script times ``extract_with_rule`` on 0.5 MB and 1 MB versions and prints the
ratio (about 2 for a linear scan, about 4 for a quadratic one). For comparison it times the single
backtracking regular expression the in-block phrase search reproduces on 20 kB and 40 kB of the same
shape (quadratic: a 1 MB text would take hours there).

Usage: ``python benchmarks/bench_extract.py [--mb 1.0]``
"""

from __future__ import annotations

import argparse
import re
import time

from sparkle.reward.extract import extract_with_rule

NAIVE = re.compile(r"(?:the\s+)?(?:answer|result|value|solution)(?:\s+is|:|=)\s*(.*?)(?:\.|$)", re.I)


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


SHAPES = {
    "phrases on one line (no period)": lambda n: "<answer>" + _repeat("answer: x ", n) + "\nz</answer>",
    "phrases + long white space": lambda n: "<answer>" + _repeat("answer" + " " * 1000, n) + "\nz</answer>",
    "phrases + line breaks": lambda n: "<answer>" + _repeat("value is" + "\n" * 100, n) + "</answer>",
    "one huge answer block": lambda n: "<answer>" + "x" * n + "</answer>",
    "unclosed <answer> tags": lambda n: _repeat("<answer>", n),
    "unclosed boxes": lambda n: _repeat("\\boxed{", n),
    "space-form boxes": lambda n: _repeat("\\boxed ", n),
    "line phrases, no block": lambda n: _repeat("The answer is ", n),
    "deep braces then a box": lambda n: "{" * n + "\\boxed{1",
    "realistic response": lambda n: (
        "<think>\n"
        + _repeat("We compute the value: 3.5 and so on. ", n)
        + "\n</think>\n<answer>\nThe answer is \\boxed{42}.\n</answer>"
    ),
}


def _time(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=1.0, help="size of the large text in MB")
    args = parser.parse_args()
    big = int(args.mb * 1_000_000)
    print(f"{'shape':34s} {'0.5x':>9s} {'1x':>9s} {'ratio':>6s}   naive regex 20k / 40k (ratio)")
    for name, make in SHAPES.items():
        half, full = make(big // 2), make(big)
        t_half = _time(extract_with_rule, half)
        t_full = _time(extract_with_rule, full)
        line = f"{name:34s} {t_half:8.3f}s {t_full:8.3f}s {t_full / max(t_half, 1e-9):6.2f}"
        if "<answer>" in half and name.startswith("phrases"):
            small = [make(20_000), make(40_000)]
            t1, t2 = (_time(NAIVE.search, s[8 : s.rfind("</answer>")].strip()) for s in small)
            line += f"   {t1:.3f}s / {t2:.3f}s ({t2 / max(t1, 1e-9):.1f})"
        print(line)


if __name__ == "__main__":
    main()
