"""Every prompt string of the paper, in one place (docs/reference.md lists them). They are part of the
experimental setting: a changed character changes what the models are asked."""

from __future__ import annotations

from typing import Literal

from sparkle.errors import SparkleError

INSTRUCTION = (
    "A conversation between User and Assistant. The user asks a math question, and the Assistant solves it "
    "step by step. The Assistant first thinks about the complete reasoning process in the mind enclosed within "
    "<think> </think> tags. Then the Assistant provides a clear, concise answer to the user within <answer> "
    "</answer> tags, with the final result enclosed in \\boxed{} notation.\n\nFor example:\n<think>\nreasoning "
    "process here\n</think>\n<answer>\nThe answer is \\boxed{...}.\n</answer>"
)

# The "boxed" instruction family used by models such as SimpleRL-Zoo.
SRL_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

PLAN_SENTENCE = (
    "Consider the following planning skeleton to guide your reasoning. You may adapt or extend this outline "
    "as needed based on your analysis of the problem:"
)
KNOWLEDGE_SENTENCE = (
    "The following is a reference knowledge base for concepts you might not be familiar with. If you already "
    "understand these concepts, you don't need to rely on this information. Otherwise, you can refer to this "
    "as needed:"
)

Family = Literal["sparkle", "srl"]
Condition = Literal["vanilla", "plan", "knowledge", "subproblem"]
FAMILIES: tuple[str, ...] = ("sparkle", "srl")
CONDITIONS: tuple[str, ...] = ("vanilla", "plan", "knowledge", "subproblem")

# What the prompt of a PSS row ends with before the prefix; the reward uses it to tell augmented rows.
PSS_MARKER = "Assistant: <think>"


def plain_prompt(problem: str, family: Family = "sparkle") -> str:
    """Training and plain-evaluation prompt (sent as the single user message)."""
    if family == "srl":
        return f"User: {problem}\n{SRL_INSTRUCTION}\nAssistant:"
    return f"{INSTRUCTION}\n\nUser: {problem} Assistant:"


def pss_prompt(problem: str, prefix: str) -> str:
    """Partial Step Scaffolding prompt for level i >= 1: the first i reasoning steps open the <think> block."""
    return f"{INSTRUCTION}\n\nUser: {problem} {PSS_MARKER}\n{prefix}\n"


def _hint_prompt(problem: str, sentence: str, hint: str, family: Family) -> str:
    if family == "srl":
        return f"User: {problem}\n{sentence}\n{hint}\n{SRL_INSTRUCTION}\nAssistant:"
    return f"{INSTRUCTION}\n\nUser: {problem}\n{sentence}\n{hint}\nAssistant:"


def plan_prompt(problem: str, planning: str, family: Family = "sparkle") -> str:
    """Plan-following probe: the problem plus its planning skeleton."""
    return _hint_prompt(problem, PLAN_SENTENCE, planning, family)


def knowledge_prompt(problem: str, knowledge: str, family: Family = "sparkle") -> str:
    """Knowledge-use probe: the problem plus its reference knowledge."""
    return _hint_prompt(problem, KNOWLEDGE_SENTENCE, knowledge, family)


def subproblem_prompt(augmented_problem: str, family: Family = "sparkle") -> str:
    """Chain-of-subproblems probe: one subproblem posed on its own (its ``augmented_problem`` text)."""
    return plain_prompt(augmented_problem, family)


# The fields of a ``sparkle_preview``-style row each probe condition reads, in prompt order.
PROBE_FIELDS: dict[str, tuple[str, ...]] = {
    "vanilla": ("problem",),
    "plan": ("problem", "planning"),
    "knowledge": ("problem", "knowledge"),
    "subproblem": ("augmented_problem",),
}
_PROBE_BUILDERS = {
    "vanilla": plain_prompt,
    "plan": plan_prompt,
    "knowledge": knowledge_prompt,
    "subproblem": subproblem_prompt,
}


def probe_prompt(condition: Condition, row: dict, family: Family = "sparkle") -> str:
    """The prompt of one probe condition for a ``sparkle_preview``-style row.

    An unknown condition or family, or a row without a field the condition needs, is a SparkleError that
    names the valid choices or the missing field.
    """
    if condition not in PROBE_FIELDS:
        raise SparkleError(f"unknown probe condition {condition!r}: use one of {', '.join(CONDITIONS)}")
    if family not in FAMILIES:
        raise SparkleError(f"unknown prompt family {family!r}: use one of {', '.join(FAMILIES)}")
    fields = PROBE_FIELDS[condition]
    missing = [name for name in fields if not isinstance(row.get(name), str)]
    if missing:
        raise SparkleError(
            f"probe condition {condition!r} needs the row's {', '.join(missing)} text (a string); the row has "
            f"keys {', '.join(sorted(row)) or 'none'}: use a sparkle_preview row"
        )
    return _PROBE_BUILDERS[condition](*(row[name] for name in fields), family)
