"""The SPARKLE probes: exact prompts through the lm-eval tasks, replayed outputs with hand-computed
deltas / subproblem success / per-position accuracy through the tasks and the report, the task folder,
bootstrap CIs, and errors."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from sparkle.errors import SparkleError

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


@pytest.fixture()
def preview_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "sparkle_preview.jsonl", "w", encoding="utf-8") as f:
        for row in preview_rows():
            f.write(json.dumps(row) + "\n")
    monkeypatch.setenv("SPARKLE_DATA_DIR", str(data))
    from sparkle.probes import tasks

    tasks._problems.cache_clear()
    return data


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


def make_replay_lm(outputs: dict[str, list[str]]):
    from lm_eval.api.model import LM

    class ReplayLM(LM):
        """Returns stored responses for each prompt, in order; an unknown prompt fails the test."""

        def __init__(self):
            super().__init__()
            self.calls: Counter[str] = Counter()

        def generate_until(self, requests, disable_tqdm: bool = False):
            responses = []
            for request in requests:
                context = request.args[0]
                assert context in outputs, f"unexpected prompt:\n{context}"
                responses.append(outputs[context][self.calls[context]])
                self.calls[context] += 1
            return responses

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    return ReplayLM()


TASKS = [
    f"sparkle_{c}_{b}" for c in ("vanilla", "plan", "knowledge", "subproblem") for b in ("aime2024", "gsm8k")
]


@pytest.fixture()
def replay_run(preview_dir: Path, repo_root: Path, tmp_path: Path) -> tuple[Path, dict, object]:
    """The eight probe tasks of the two fixture benchmarks, replayed through lm-eval; samples written as
    lm-eval writes them (``<out>/<model>/samples_<task>_<time>.jsonl``)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")], include_defaults=False
    )
    lm = make_replay_lm(replay_outputs())
    results = simple_evaluate(
        model=lm, tasks=TASKS, task_manager=manager, log_samples=True, bootstrap_iters=0
    )
    out = tmp_path / "lm_eval_out" / "replay-model"
    out.mkdir(parents=True)
    for task, samples in results["samples"].items():
        with open(out / f"samples_{task}_2026-01-01T00-00-00.000000.jsonl", "w", encoding="utf-8") as f:
            for sample in samples:
                f.write(json.dumps(sample, default=str) + "\n")
    return out, results, lm


def test_replayed_outputs_give_hand_computed_metrics(replay_run, tmp_path: Path):
    from sparkle.cli import main

    out, results, lm = replay_run
    # Every prompt was asked exactly 8 times (repeats), so the tasks produced exactly the paper's prompts.
    assert set(lm.calls.values()) == {8}
    assert len(lm.calls) == 4 * 3 + 10
    # lm-eval's own aggregate of the per-document avg@8.
    assert results["results"]["sparkle_plan_aime2024"]["avg@8,all_samples"] == pytest.approx(0.375)
    assert results["results"]["sparkle_subproblem_gsm8k"]["correct,all_samples"] == pytest.approx(
        sum(PATTERNS["subproblem"][k].count("1") for k in PATTERNS["subproblem"] if k[0] in ("P3", "P4")) / 40
    )

    report = tmp_path / "report"
    assert main(["probe", "report", str(out.parent), "--out", str(report), "--bootstrap", "500"]) == 0
    with open(report / "probes.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "model",
        "benchmark",
        "condition",
        "level",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "note",
    ]
    table = {(r["benchmark"], r["condition"], r["level"], r["metric"]): r for r in rows}
    assert {r["model"] for r in rows} == {"replay-model"}
    for key, value in EXPECTED.items():
        row = table[key]
        assert float(row["value"]) == pytest.approx(value, abs=1e-4), key
        if row["ci_low"]:
            assert float(row["ci_low"]) - 1e-9 <= float(row["value"]) <= float(row["ci_high"]) + 1e-9, key
    # One problem: no interval at all (an interval [v, v] would read as certainty), and the note says why.
    one = table[("aime2024", "plan", "7", "delta")]
    assert (one["ci_low"], one["ci_high"], one["n"]) == ("", "", "1")
    assert one["note"] == "one problem: no interval"
    # Two problems: an interval, flagged as too few problems for a percentile bootstrap.
    two = table[("aime2024", "plan", "all", "delta")]
    assert two["n"] == "2" and two["ci_low"] and two["note"].startswith("fewer than 10 problems")
    # Every delta sits next to the means it was computed from.
    for (benchmark, condition, level, metric), row in table.items():
        if metric == "delta":
            without = table[(benchmark, condition, level, "paired_without")]
            with_ = table[(benchmark, condition, level, "paired_with")]
            assert float(with_["value"]) - float(without["value"]) == pytest.approx(
                float(row["value"]), abs=1e-3
            )
            assert without["n"] == with_["n"] == row["n"]
    # Levels present: 3, 5, 7 (and no position 4: the longest chain has 3 subproblems).
    assert {r["level"] for r in rows} == {"all", "3", "5", "7"}
    assert ("all", "subproblem", "all", "position_4_accuracy") not in table
    md = (report / "probes.md").read_text(encoding="utf-8")
    assert "| replay-model | AIME24 | 31.2† | 37.5† | +6.2 [" in md
    assert "| replay-model | 7 | 12.5† | 0.0† | -12.5 (1 problem: no interval) | 1 | = pairs |" in md
    assert "Δ avg@8 [95% CI, 500 resamples]" in md and "95% CI" not in md.replace("95% CI, 500", "")
    for name in ("plan_benchmarks", "plan_levels", "knowledge_benchmarks", "subproblem_positions"):
        png = report / f"probe_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![probe_{name}.png](probe_{name}.png)" in md


def test_report_does_not_depend_on_input_order(replay_run, tmp_path: Path):
    """The lines of every samples file shuffled (and a duplicated document appended): probes.csv and
    probes.md are byte for byte those of the original outputs."""
    import random

    from sparkle.cli import main

    out, _, _ = replay_run
    shuffled = tmp_path / "shuffled" / out.name
    shuffled.mkdir(parents=True)
    for i, path in enumerate(sorted(out.glob("samples_*.jsonl"))):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        random.Random(i).shuffle(lines)
        if i == 0:
            lines.append(lines[0])  # one document twice: counted once
        (shuffled / path.name).write_text("".join(lines), encoding="utf-8")
    reports = []
    for source in (out.parent, shuffled.parent):
        report = tmp_path / f"report_{len(reports)}"
        args = ["probe", "report", str(source), "--out", str(report), "--bootstrap", "400", "--no-figures"]
        assert main(args) == 0
        reports.append({name: (report / name).read_bytes() for name in ("probes.csv", "probes.md")})
    assert reports[0] == reports[1]


def test_samples_without_correct_are_regraded(replay_run):
    from sparkle.probes.records import load_records

    out, _, _ = replay_run
    path = next(out.glob("samples_sparkle_plan_gsm8k_*.jsonl"))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        del row["correct"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    records = {r.problem_id: r.correct for r in load_records([path])}
    assert records == {pid: tuple(c == "1" for c in PATTERNS["plan"][pid]) for pid in ("P3", "P4")}


@pytest.mark.parametrize("family", ["sparkle", "srl"])
@pytest.mark.parametrize("condition", ["vanilla", "plan", "knowledge", "subproblem"])
def test_task_prompts_are_exact(preview_dir: Path, repo_root: Path, condition: str, family: str):
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")], include_defaults=False
    )
    name = f"sparkle_{condition}_gsm8k" + ("_srl" if family == "srl" else "")
    task = get_task_dict([name], manager)[name]
    docs = list(task.test_docs())
    prompts = [task.doc_to_text(doc) for doc in docs]
    by_id = {p["id"]: p for p in PROBLEMS}
    order = ("P4", "P3")  # first appearance in the file; chains in subproblem_sequence order
    if condition == "subproblem":
        expected = [
            expected_prompt(condition, by_id[pid], family, sub=s)
            for pid in order
            for s in range(1, len(by_id[pid]["subs"]) + 1)
        ]
        assert [d["target"] for d in docs] == [[a] for pid in order for _, a in by_id[pid]["subs"]]
        assert [d["subproblem_sequence"] for d in docs] == [1, 2, 3, 1, 2]
    else:
        expected = [expected_prompt(condition, by_id[pid], family) for pid in order]
        assert [d["target"] for d in docs] == [["9", "9.00"], ["12"]]
    assert prompts == expected
    assert {d["id"]: d["difficulty_level"] for d in docs} == {"P3": 3, "P4": 5}
    # Sampling of the main evaluation.
    assert task.config.repeats == 8
    assert task.config.generation_kwargs == {
        "until": [], "do_sample": True, "temperature": 0.6, "top_p": 1.0, "max_gen_toks": 31768,
    }  # fmt: skip
    assert task.config.filter_list[0]["filter"] == [{"function": "take_first_k", "k": 8}]


def test_committed_task_folder_is_the_generated_one(repo_root: Path):
    from sparkle.probes.taskgen import task_folder_files

    folder = repo_root / "eval" / "tasks" / "sparkle_probes"
    files = task_folder_files()
    assert len([n for n in files if n.startswith("sparkle_")]) == 4 * 5 * 2
    for name, text in files.items():
        assert (folder / name).read_text(encoding="utf-8") == text, (
            f"{name}: rerun scripts/probes/make_probe_tasks.py"
        )
    on_disk = {p.name for p in folder.iterdir() if p.suffix == ".yaml" or p.name.endswith("_yaml")}
    assert on_disk == {n for n in files if n != "utils.py"}


def test_task_and_group_names(repo_root: Path):
    from lm_eval.tasks import TaskManager

    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")], include_defaults=False
    )
    names = set(manager.all_tasks)
    for condition in ("vanilla", "plan", "knowledge", "subproblem"):
        assert {f"sparkle_{condition}", f"sparkle_{condition}_srl"} <= names
        for benchmark in ("aime2024", "amc2023", "math500", "gsm8k", "olympiad_bench"):
            assert {f"sparkle_{condition}_{benchmark}", f"sparkle_{condition}_{benchmark}_srl"} <= names
    assert {"sparkle_probes", "sparkle_probes_gsm8k", "sparkle_probes_gsm8k_srl"} <= names


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("sparkle_plan_aime2024", ("plan", "aime2024", "sparkle")),
        ("sparkle_subproblem_olympiad_bench_srl", ("subproblem", "olympiad_bench", "srl")),
        ("sparkle_vanilla_gsm8k", ("vanilla", "gsm8k", "sparkle")),
        ("sparkle_plan", None),
        ("sparkle_plan_gsm8k_extra", None),
        ("gsm8k_spk", None),
    ],
)
def test_parse_task_name(name: str, parsed):
    from sparkle.probes.tasks import parse_task_name, task_name

    assert parse_task_name(name) == parsed
    if parsed:
        assert task_name(*parsed) == name


def test_bootstrap_intervals():
    import numpy as np

    from sparkle.probes.analysis import bootstrap_mean_ci

    assert bootstrap_mean_ci(np.full(30, 0.25)) == (0.25, 0.25)
    low, high = bootstrap_mean_ci(np.array([0.0, 1.0]), iterations=2000, seed=1)
    assert (low, high) == (0.0, 1.0)
    values = np.linspace(0, 1, 200)
    low, high = bootstrap_mean_ci(values, iterations=2000, seed=3)
    # Normal approximation of the mean's 95 % interval: 0.5 +- 1.96 * sd / sqrt(n).
    half = 1.96 * values.std() / np.sqrt(values.size)
    assert low == pytest.approx(0.5 - half, abs=0.01) and high == pytest.approx(0.5 + half, abs=0.01)
    assert bootstrap_mean_ci(values, seed=3) == bootstrap_mean_ci(values, seed=3)


def test_delta_interval_is_paired():
    """Problems of very different difficulty, each helped by exactly one sample in 8: the paired interval of
    the delta collapses to +12.5 although each condition's own interval is wide."""
    from sparkle.probes.analysis import analyze
    from sparkle.probes.records import DocRecord

    records = []
    for i in range(20):
        base = i % 8
        for condition, right_count in (("vanilla", base), ("plan", base + 1)):
            correct = tuple(j < right_count for j in range(8))
            records.append(DocRecord("m", "math500", condition, "sparkle", f"q{i}", 1 + i % 10, correct))
    rows = {(r.benchmark, r.condition, r.level, r.metric): r for r in analyze(records, iterations=300)}
    delta = rows[("math500", "plan", "all", "delta")]
    assert (delta.value, delta.ci_low, delta.ci_high) == pytest.approx((12.5, 12.5, 12.5))
    plan = rows[("math500", "plan", "all", "avg@8")]
    assert plan.ci_high - plan.ci_low > 10


def test_incomplete_chains_are_left_out_of_success():
    from sparkle.probes.analysis import analyze
    from sparkle.probes.records import DocRecord

    def rec(pid: str, pos: int, total: int, pattern: str) -> DocRecord:
        return DocRecord(
            "m", "amc2023", "subproblem", "sparkle", pid, 4, tuple(c == "1" for c in pattern), pos, total
        )

    records = [rec("a", 1, 2, "11"), rec("a", 2, 2, "10"), rec("b", 1, 2, "11")]  # b lost its second row
    rows = {(r.benchmark, r.level, r.metric): r for r in analyze(records, iterations=10)}
    assert rows[("amc2023", "all", "subproblem_success")].value == pytest.approx(50.0)
    assert rows[("amc2023", "all", "subproblem_success")].n == 1
    assert rows[("amc2023", "all", "position_1_accuracy")].value == pytest.approx(100.0)
    assert not any(metric.startswith("avg@") for _, _, metric in rows)  # no vanilla run, no original avg@k


def test_bad_inputs(tmp_path: Path, preview_dir: Path):
    from sparkle.cli import main
    from sparkle.probes.records import load_records
    from sparkle.probes.tasks import load_dataset

    with pytest.raises(SparkleError, match="no probe samples"):
        load_records([tmp_path])
    with pytest.raises(SparkleError, match="no such file"):
        load_records([tmp_path / "missing"])
    lone = tmp_path / "results_2026-01-01T00-00-00.json"
    lone.write_text('{"results": {"sparkle_plan_gsm8k": {}}}', encoding="utf-8")
    with pytest.raises(SparkleError, match="--log_samples"):
        load_records([lone])
    bad = tmp_path / "m" / "samples_sparkle_plan_gsm8k_2026-01-01T00-00-00.jsonl"
    bad.parent.mkdir()
    bad.write_text('{"doc_id": 0}\n', encoding="utf-8")
    with pytest.raises(SparkleError, match=r"line 1: no `doc`"):
        load_records([bad])
    with pytest.raises(SparkleError, match="no math500 problems"):
        load_dataset(probe_benchmark="math500", probe_condition="plan")
    assert main(["probe", "report", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()
    # A preview row without its planning skeleton is refused with the row named.
    rows = preview_rows()
    del rows[2]["planning"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SparkleError, match="planning"):
        load_dataset(probe_benchmark="gsm8k", probe_condition="plan", preview=str(broken))


CHAT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.slow
def test_real_hf_run_then_report(preview_dir: Path, tiny_model_dir: Path, tmp_path: Path):
    """`sparkle probe run` drives a real lm-eval run (hf backend, tiny offline model, chat template) over the
    fixture; a second run skips the finished tasks; `sparkle probe report` turns the outputs into tables and
    figures."""
    from sparkle.cli import main

    out = tmp_path / "runs"
    args = ["probe", "run", "--backend", "hf", "--model", str(tiny_model_dir), "--out", str(out),
            "--benchmarks", "aime2024", "gsm8k", "--repeats", "2", "--max-gen-toks", "8", "--batch-size", "8"]  # fmt: skip
    assert main(args) == 0
    (model_dir,) = [p for p in out.iterdir() if not p.name.startswith("_tasks")]
    samples = sorted(model_dir.glob("samples_sparkle_*.jsonl"))
    assert len(samples) == 8
    first = json.loads(
        next(model_dir.glob("samples_sparkle_knowledge_gsm8k_*.jsonl")).read_text().splitlines()[0]
    )
    assert first["arguments"]["gen_args_0"]["arg_0"] == CHAT.format(expected_prompt("knowledge", PROBLEMS[3]))
    assert first["arguments"]["gen_args_0"]["arg_1"]["temperature"] == 0.6
    assert len(first["filtered_resps"][0]) == 2 and len(first["correct"]) == 2

    from sparkle.probes.records import load_records

    (results_file,) = model_dir.glob("results_*.json")
    assert load_records([results_file]) == load_records([out]) == load_records(samples)
    assert len(load_records([out])) == 2 * (2 + 2 + 2) + 5 + 5

    before = sorted(model_dir.iterdir())
    assert main(args) == 0  # everything finished: no new lm-eval run
    assert sorted(model_dir.iterdir()) == before

    report = tmp_path / "report"
    assert main(["probe", "report", str(out), "--out", str(report), "--bootstrap", "200"]) == 0
    with open(report / "probes.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    metrics = {(r["benchmark"], r["condition"], r["metric"]) for r in rows if r["level"] == "all"}
    for benchmark in ("aime2024", "gsm8k", "all"):
        assert {(benchmark, c, "avg@2") for c in ("vanilla", "plan", "knowledge")} <= metrics
        assert {(benchmark, c, "delta") for c in ("plan", "knowledge", "subproblem")} <= metrics
        assert (benchmark, "subproblem", "subproblem_success") in metrics
    assert ("gsm8k", "subproblem", "position_3_accuracy") in metrics
    # The vanilla avg@2 equals the mean over problems of the logged per-sample correctness.
    vanilla = [
        json.loads(line) for p in model_dir.glob("samples_sparkle_vanilla_*.jsonl") for line in p.open()
    ]
    expected = 100 * sum(sum(r["correct"]) / 2 for r in vanilla) / len(vanilla)
    (row,) = [
        r for r in rows if r["benchmark"] == "all" and r["condition"] == "vanilla" and r["level"] == "all"
    ]
    assert float(row["value"]) == pytest.approx(expected, abs=1e-4)
    assert row["model"] == tiny_model_dir.name
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert len(pngs) == 7 and all((report / p).stat().st_size > 5000 for p in pngs)


def test_preview_source_order(
    preview_dir: Path, repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """--metadata preview=PATH beats $SPARKLE_DATA_DIR, which beats the Hub (offline here: a clear error)."""
    from lm_eval.tasks import TaskManager, get_task_dict

    from sparkle.probes.tasks import load_dataset, preview_source

    assert preview_source() == str(preview_dir / "sparkle_preview.jsonl")
    only_p1 = tmp_path / "p1.jsonl"
    only_p1.write_text("".join(json.dumps(r) + "\n" for r in preview_rows() if r["problem ID"] == "P1"))
    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")],
        include_defaults=False,
        metadata={"preview": str(only_p1)},
    )
    task = get_task_dict(["sparkle_subproblem_aime2024"], manager)["sparkle_subproblem_aime2024"]
    assert [d["subproblem_id"] for d in task.test_docs()] == ["P1-1", "P1-2"]
    monkeypatch.setenv("SPARKLE_DATA_DIR", str(tmp_path / "empty"))
    assert preview_source() is None
    with pytest.raises(SparkleError, match="sparkle_preview"):
        load_dataset(probe_benchmark="gsm8k", probe_condition="vanilla")


def test_models_with_the_same_short_name_stay_apart(replay_run, tmp_path: Path):
    """Two checkpoints both called stage1 are two models; one model run into two folders is one."""
    from sparkle.probes.records import load_records

    out, _, _ = replay_run
    runs = tmp_path / "two"
    for sub, name in (
        ("a", "/ck/a/stage1/huggingface"),
        ("b", "/ck/b/stage1/huggingface"),
        ("c", "/ck/b/stage1/huggingface"),
    ):
        folder = runs / sub
        folder.mkdir(parents=True)
        tasks = ["sparkle_vanilla_gsm8k"] if sub != "c" else ["sparkle_plan_gsm8k"]
        for task in tasks:
            src = next(out.glob(f"samples_{task}_*.jsonl"))
            (folder / src.name).write_bytes(src.read_bytes())
        stamp = src.stem.rsplit("_", 1)[1]
        (folder / f"results_{stamp}.json").write_text(json.dumps({"model_name": name, "results": {}}))
    models = Counter(r.model for r in load_records([runs]))
    assert models == {"/ck/a/stage1/huggingface": 2, "/ck/b/stage1/huggingface": 4}


def test_groups_run_every_task_and_average_benchmarks(repo_root: Path, tmp_path: Path, monkeypatch):
    """`sparkle_probes` runs the 20 tasks of the sparkle family; `sparkle_plan` reports the unweighted mean of
    its five benchmarks' avg@8 (like the paper's Avg column), not the mean over documents."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    from sparkle.probes import tasks

    rows = [r for r in preview_rows() if r["problem ID"] in ("P1", "P2")]  # aime24: two problems
    rows += [
        {**r, "source": s}
        for s in ("amc23", "math500", "gsm8k", "olympiadbench")
        for r in preview_rows()
        if r["problem ID"] == "P1"
    ]  # one problem each
    (tmp_path / "sparkle_preview.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("SPARKLE_DATA_DIR", str(tmp_path))
    tasks._problems.cache_clear()

    class OnlyP2(LM):
        def generate_until(self, requests, disable_tqdm: bool = False):
            return [right("24") if "360" in r.args[0] else WRONG for r in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")], include_defaults=False
    )
    results = simple_evaluate(
        model=OnlyP2(), tasks=["sparkle_probes"], task_manager=manager, bootstrap_iters=0
    )
    leaves = {name for name, r in results["results"].items() if "correct,all_samples" in r}
    assert leaves == {f"sparkle_{c}_{b}" for c in ("vanilla", "plan", "knowledge", "subproblem")
                      for b in ("aime2024", "amc2023", "math500", "gsm8k", "olympiad_bench")}  # fmt: skip
    assert results["results"]["sparkle_plan_aime2024"]["avg@8,all_samples"] == pytest.approx(0.5)
    assert results["results"]["sparkle_plan"]["avg@8,all_samples"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("source", "benchmark"),
    [("aime24", "aime2024"), ("AIME 2024", "aime2024"), ("amc23", "amc2023"), ("math500", "math500"),
     ("MATH-500", "math500"), ("gsm8k", "gsm8k"), ("olympiadbench", "olympiad_bench"),
     ("OlympiadBench", "olympiad_bench"), ("olympiad_bench", "olympiad_bench"), ("minerva", None), (None, None)],
)  # fmt: skip
def test_canonical_benchmark(source, benchmark):
    from sparkle.data.probes import canonical_benchmark

    assert canonical_benchmark(source) == benchmark


def test_run_dry_run_prints_lm_eval_commands(tiny_model_dir: Path, tmp_path: Path, capsys):
    """One lm-eval command per model: the chosen family's tasks, the context capped to the model's (4096 for
    the tiny model, generation = context - 1000), chat template and samples on; missing models fail first."""
    from sparkle.cli import main

    out = tmp_path / "runs"
    args = ["probe", "run", "--model", str(tiny_model_dir), "--out", str(out), "--family", "srl",
            "--conditions", "plan", "subproblem", "--benchmarks", "gsm8k", "--dry-run"]  # fmt: skip
    assert main(args) == 0
    (command,) = capsys.readouterr().out.strip().splitlines()
    assert "--tasks sparkle_plan_gsm8k_srl,sparkle_subproblem_gsm8k_srl " in command
    assert "max_model_len=4096" in command and "max_gen_toks=3096" in command
    assert "--apply_chat_template" in command and "--log_samples" in command
    assert not out.exists()  # a dry run writes nothing
    assert main(["probe", "run", "--model", str(tmp_path / "nope"), "--model", str(tiny_model_dir),
                 "--out", str(out), "--dry-run"]) == 2  # fmt: skip
    assert capsys.readouterr().out == ""
