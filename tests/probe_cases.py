"""Shared probe test data: four annotated problems in sparkle_preview's row format, the paper's probe prompts
written out independently of sparkle.prompts, response patterns with hand-computed results, and the replayed
outputs. The fixtures that use them (``preview_dir``, ``replay_run``) are in conftest.py."""

from __future__ import annotations

# The paper's probe prompts, written out here independently of sparkle.prompts.
INSTRUCTION = (
    "A conversation between User and Assistant. The user asks a math question, and the Assistant solves it step "
    "by step. The Assistant first thinks about the complete reasoning process in the mind enclosed within <think> "
    "</think> tags. Then the Assistant provides a clear, concise answer to the user within <answer> </answer> "
    "tags, with the final result enclosed in \\boxed{} notation.\n\nFor example:\n<think>\nreasoning process "
    "here\n</think>\n<answer>\nThe answer is \\boxed{...}.\n</answer>"
)
SRL = "Please reason step by step, and put your final answer within \\boxed{}."
PLAN = (
    "Consider the following planning skeleton to guide your reasoning. You may adapt or extend this outline as "
    "needed based on your analysis of the problem:"
)
KNOWLEDGE = (
    "The following is a reference knowledge base for concepts you might not be familiar with. If you already "
    "understand these concepts, you don't need to rely on this information. Otherwise, you can refer to this as "
    "needed:"
)
# Four annotated problems in sparkle_preview's row format: two benchmarks, levels 3/7/3/5, chains of 2/3/2/3.
PROBLEMS = [
    {
        "id": "P1",
        "source": "aime24",
        "level": "3",
        "problem": "Compute $2^{10}$ modulo 7.",
        "answer": ["2"],
        "subs": [
            ("What is $2^3$ modulo 7?", "1"),
            ("What is $2^{10}$ modulo 7, given $2^3 \\equiv 1$?", "2"),
        ],
    },
    {
        "id": "P2",
        "source": "aime24",
        "level": "7",
        "problem": "How many divisors does 360 have?",
        "answer": ["24"],
        "subs": [
            ("Factor 360 into primes; what is the exponent of 2?", "3"),
            ("What is the exponent of 3 in 360?", "2"),
            ("Multiply one more than each exponent of $2^3 3^2 5$.", "24"),
        ],
    },
    {
        "id": "P3",
        "source": "gsm8k",
        "level": "3",
        "problem": "Tom has 3 bags of 4 apples. How many apples?",
        "answer": ["12"],
        "subs": [("How many bags does Tom have?", "3"), ("What is 3 times 4?", "12")],
    },
    {
        "id": "P4",
        "source": "gsm8k",
        "level": "5",
        "problem": "A pen costs $1.50. What do 6 pens cost?",
        "answer": ["9", "9.00"],
        "subs": [
            ("How many pens are bought?", "6"),
            ("What is 1.5 times 2?", "3"),
            ("What is 3 times 3?", "9"),
        ],
    },
]


def preview_rows() -> list[dict]:
    rows = []
    for p in PROBLEMS:
        for seq, (question, answer) in enumerate(p["subs"], 1):
            rows.append(
                {
                    "problem ID": p["id"],
                    "problem": p["problem"],
                    "reasoning": "Because.",
                    "answer": p["answer"],
                    "difficulty_level": p["level"],
                    "domains": ["Arithmetic"],
                    "planning": f"1. Understand {p['id']}.\n2. Solve it.",
                    "knowledge": f"Facts for {p['id']}: multiplication is repeated addition.",
                    "subproblem_id": f"{p['id']}-{seq}",
                    "subproblem_question": question,
                    "subproblem_answer": answer,
                    "augmented_problem": f"Context of {p['id']}. {question}",
                    "subproblem_sequence": seq,
                    "total_subproblems": len(p["subs"]),
                    "source": p["source"],
                    "general_id": len(rows),
                }
            )
    # Rows arrive out of chain order on the Hub; the tasks must not care.
    return rows[::-1]


def expected_prompt(condition: str, problem: dict, family: str = "sparkle", sub: int | None = None) -> str:
    """The prompt the paper prescribes, built here from the literal templates."""
    if condition == "subproblem":
        body = f"Context of {problem['id']}. {problem['subs'][sub - 1][0]}"
        hint = None
    else:
        body = problem["problem"]
        hint = {
            "vanilla": None,
            "plan": f"{PLAN}\n1. Understand {problem['id']}.\n2. Solve it.",
            "knowledge": f"{KNOWLEDGE}\nFacts for {problem['id']}: multiplication is repeated addition.",
        }[condition]
    if family == "srl":
        return f"User: {body}\n{hint}\n{SRL}\nAssistant:" if hint else f"User: {body}\n{SRL}\nAssistant:"
    return (
        f"{INSTRUCTION}\n\nUser: {body}\n{hint}\nAssistant:"
        if hint
        else f"{INSTRUCTION}\n\nUser: {body} Assistant:"
    )


# Which of the 8 samples the replayed model gets right, per condition and problem (and chain position).
PATTERNS = {
    "vanilla": {"P1": "11110000", "P2": "10000000", "P3": "11111111", "P4": "00000000"},
    "plan": {"P1": "11111100", "P2": "00000000", "P3": "11111111", "P4": "11000000"},
    "knowledge": {"P1": "11110000", "P2": "11110000", "P3": "01111111", "P4": "00000000"},
    "subproblem": {
        ("P1", 1): "11111111", ("P1", 2): "11110000",
        ("P2", 1): "11111111", ("P2", 2): "11111100", ("P2", 3): "10101010",
        ("P3", 1): "11111111", ("P3", 2): "11111110",
        ("P4", 1): "10000000", ("P4", 2): "11111111", ("P4", 3): "00000000",
    },
}  # fmt: skip
# Hand-computed from PATTERNS (percent): per-problem accuracies, then means over problems.
# vanilla P1..P4 = .5 .125 1 0; plan = .75 0 1 .25; knowledge = .5 .5 .875 0;
# chain success (all subproblems right in sample j) = .5 .375 .875 0.
EXPECTED = {
    ("aime2024", "vanilla", "all", "avg@8"): 31.25,
    ("aime2024", "plan", "all", "avg@8"): 37.5,
    ("aime2024", "plan", "all", "delta"): 6.25,
    ("aime2024", "knowledge", "all", "avg@8"): 50.0,
    ("aime2024", "knowledge", "all", "delta"): 18.75,
    ("aime2024", "subproblem", "all", "subproblem_success"): 43.75,
    ("aime2024", "subproblem", "all", "delta"): 12.5,
    ("aime2024", "subproblem", "all", "position_1_accuracy"): 100.0,
    ("aime2024", "subproblem", "all", "position_2_accuracy"): 62.5,
    ("aime2024", "subproblem", "all", "position_3_accuracy"): 50.0,
    ("gsm8k", "vanilla", "all", "avg@8"): 50.0,
    ("gsm8k", "plan", "all", "delta"): 12.5,
    ("gsm8k", "knowledge", "all", "avg@8"): 43.75,
    ("gsm8k", "knowledge", "all", "delta"): -6.25,
    ("gsm8k", "subproblem", "all", "subproblem_success"): 43.75,
    ("gsm8k", "subproblem", "all", "delta"): -6.25,
    ("gsm8k", "subproblem", "all", "position_1_accuracy"): 56.25,
    ("gsm8k", "subproblem", "all", "position_2_accuracy"): 93.75,
    ("gsm8k", "subproblem", "all", "position_3_accuracy"): 0.0,
    ("all", "vanilla", "all", "avg@8"): 40.625,
    ("all", "plan", "all", "avg@8"): 50.0,
    ("all", "plan", "all", "delta"): 9.375,
    ("all", "subproblem", "all", "subproblem_success"): 43.75,
    ("all", "subproblem", "all", "position_3_accuracy"): 25.0,
    ("all", "vanilla", "3", "avg@8"): 75.0,
    ("all", "plan", "3", "avg@8"): 87.5,
    ("all", "plan", "3", "delta"): 12.5,
    ("all", "subproblem", "3", "subproblem_success"): 68.75,
    ("aime2024", "plan", "7", "delta"): -12.5,
    ("aime2024", "subproblem", "7", "subproblem_success"): 37.5,
    ("gsm8k", "knowledge", "5", "delta"): 0.0,
    ("gsm8k", "plan", "5", "avg@8"): 25.0,
}
WRONG = "<think>\nI am not sure.\n</think>\n<answer>\nThe answer is \\boxed{123456}.\n</answer>"


def right(answer: str) -> str:
    return f"<think>\nWorking it out.\n</think>\n<answer>\nThe answer is \\boxed{{{answer}}}.\n</answer>"


def replay_outputs() -> dict[str, list[str]]:
    """prompt -> the 8 responses in sample order."""
    outputs = {}
    for p in PROBLEMS:
        for condition in ("vanilla", "plan", "knowledge"):
            pattern = PATTERNS[condition][p["id"]]
            outputs[expected_prompt(condition, p)] = [
                right(p["answer"][-1]) if c == "1" else WRONG for c in pattern
            ]
        for seq, (_, answer) in enumerate(p["subs"], 1):
            pattern = PATTERNS["subproblem"][(p["id"], seq)]
            prompt = expected_prompt("subproblem", p, sub=seq)
            outputs[prompt] = [right(answer) if c == "1" else WRONG for c in pattern]
    return outputs


TASKS = [
    f"sparkle_{c}_{b}" for c in ("vanilla", "plan", "knowledge", "subproblem") for b in ("aime2024", "gsm8k")
]
