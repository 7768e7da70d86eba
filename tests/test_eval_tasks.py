"""The benchmark lm-eval tasks: definitions against the paper's prompts and sampling, local data, and replayed outputs through
`simple_evaluate` whose avg@k / pass@k / maj@k must equal hand-computed values on every task."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import replay_lm

from sparkle.errors import SparkleError
from sparkle.evaluate import tasks as bench
from sparkle.prompts import plain_prompt
from sparkle.registry import BENCHMARKS

TASK_DIR_PARTS = ("eval", "tasks")
GEN_KWARGS = {"until": [], "do_sample": True, "temperature": 0.6, "top_p": 1.0, "max_gen_toks": 31768}

# Response patterns, one letter per sample: c correct, w / v two different wrong answers, n no answer.
PATTERNS = {"P1": "cwcwnwcv", "P2": "wwcnnwwc", "P3": "nnnnnnnn", "P4": "nwcccvcc"}
# Hand-computed per-document metrics (see tests/test_eval_metrics.py for the binomials).
F = Fraction
HAND = {
    "P1": {"avg@8": F(3, 8), "pass@1": F(3, 8), "pass@2": 1 - F(10, 28), "pass@4": 1 - F(5, 70), "pass@8": F(1),
           "maj@1": F(1), "maj@2": F(1), "maj@4": F(1), "maj@8": F(1)},  # 3-3 tie at 8, 25 seen first
    "P2": {"avg@8": F(2, 8), "pass@1": F(2, 8), "pass@2": 1 - F(15, 28), "pass@4": 1 - F(15, 70), "pass@8": F(1),
           "maj@1": F(0), "maj@2": F(0), "maj@4": F(0), "maj@8": F(0)},
    "P3": {m: F(0) for m in bench.metric_names(8)},
    "P4": {"avg@8": F(5, 8), "pass@1": F(5, 8), "pass@2": 1 - F(3, 28), "pass@4": F(1), "pass@8": F(1),
           "maj@1": F(0), "maj@2": F(0), "maj@4": F(1), "maj@8": F(1)},
}  # fmt: skip
# Two documents per benchmark: (id, problem, gold answer as the source stores it, correct response answer,
# pattern). AMC golds are floats such as 27.0 and the model answers 27; GSM8K has two acceptable answers.
DOCS = {
    "aime2024": [("a1", "Find the remainder of 2025 mod 1000.", "25", "25", "P1"),
                 ("a2", "How many primes are below 20?", "8", "8", "P2")],
    "amc2023": [("m1", "What is 3^3?", 27.0, "27", "P3"),
                ("m2", "What is 6 times 7?", 42.0, "42", "P4")],
    "math500": [("h1", "Compute 10 + 5.", "15", "15", "P1"),
                ("h2", "Simplify $\\frac{6}{3}$.", "2", "2", "P4")],
    "gsm8k": [("g1", "Tom has 3 apples and buys 4 more. How many?", ["7", "7.0"], "7", "P2"),
              ("g2", "A box has 12 eggs; 5 break. How many are left?", "7", "7", "P3")],
    "olympiad_bench": [("o1", "Find the integer n with n^2 = 81 and n > 0.", ["9"], "9", "P4"),
                       ("o2", "What is 100 - 1?", "99", "99", "P1")],
}  # fmt: skip


def _gold_strings(gold) -> list[str]:
    """Gold answers as documents keep them: strings; integer-valued floats (AMC's 27.0) as integers."""
    values = gold if isinstance(gold, list) else [gold]
    return [str(int(g)) if isinstance(g, float) and g.is_integer() else str(g) for g in values]


def _response(letter: str, right: str, gold_int: int) -> str:
    answer = {"c": right, "w": str(gold_int + 1), "v": str(gold_int + 2)}.get(letter)
    if answer is None:
        return "<think>\nI am not sure how to go on.\n</think>\n<answer>\nNo idea.\n"
    return f"<think>\nworking it out\n</think>\n<answer>\nThe answer is \\boxed{{{answer}}}.\n</answer>"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in the layout of `sparkle data benchmarks --out DIR` ({name}.jsonl, source answer types)."""
    out = tmp_path_factory.mktemp("bench_data")
    for benchmark, docs in DOCS.items():
        with open(out / f"{benchmark}.jsonl", "w", encoding="utf-8") as f:
            for doc_id, problem, gold, *_ in docs:
                f.write(json.dumps({"id": doc_id, "problem": problem, "answer": gold}) + "\n")
    return out


def _outputs() -> dict[str, list[str]]:
    outputs = {}
    for docs in DOCS.values():
        for _, problem, _, right, pattern in docs:
            outputs[plain_prompt(problem)] = [_response(x, right, int(right)) for x in PATTERNS[pattern]]
    return outputs


def _manager(repo_root: Path, **metadata):
    from lm_eval.tasks import TaskManager

    return TaskManager(
        include_path=[str(repo_root.joinpath(*TASK_DIR_PARTS))],
        include_defaults=False,
        metadata=metadata or None,
    )


@pytest.fixture(scope="module")
def replayed(repo_root: Path, data_dir: Path):
    from lm_eval import simple_evaluate

    lm = replay_lm(_outputs())
    manager = _manager(repo_root, data_dir=str(data_dir))
    results = simple_evaluate(
        model=lm, tasks=[bench.GROUP], task_manager=manager, log_samples=True, bootstrap_iters=0
    )
    return results, lm


def test_replayed_metrics_equal_hand_computed_values_on_every_task(replayed):
    results, lm = replayed
    # Each of the 10 prompts was asked exactly 8 times, with the paper's sampling.
    assert len(lm.calls) == 10 and set(lm.calls.values()) == {8}
    assert all(kwargs == GEN_KWARGS for kwargs in lm.kwargs)
    for task, benchmark in bench.TASKS.items():
        patterns = [doc[4] for doc in DOCS[benchmark]]
        values = results["results"][task]
        for metric in bench.metric_names(8):
            expected = sum(HAND[p][metric] for p in patterns) / len(patterns)
            assert values[f"{metric},all_samples"] == pytest.approx(float(expected), abs=1e-12), (
                task,
                metric,
            )
        # Per document, in the samples: the gold answers kept as a list in `answer`, the per-sample verdicts.
        samples = results["samples"][task]
        assert len(samples) == 2
        for sample, (doc_id, _, gold, _, pattern) in zip(samples, DOCS[benchmark], strict=True):
            assert sample["doc"]["id"] == doc_id
            assert sample["doc"]["target"] == _gold_strings(gold)
            assert sample["correct"] == [int(x == "c") for x in PATTERNS[pattern]]
            for metric in bench.metric_names(8):
                assert sample[metric] == pytest.approx(float(HAND[pattern][metric]), abs=1e-12)
    # The group: the unweighted mean of the five tasks (the paper's Avg column).
    group = results["results"][bench.GROUP]
    for metric in bench.metric_names(8):
        per_task = [results["results"][t][f"{metric},all_samples"] for t in bench.TASKS]
        assert group[f"{metric},all_samples"] == pytest.approx(sum(per_task) / 5, abs=1e-12)


def test_every_task_is_defined_per_spec(repo_root: Path, data_dir: Path):
    """Loaded through lm-eval: exact prompt, repeats 8, keep-all filter, EOS-only sampling, metric keys."""
    manager = _manager(repo_root, data_dir=str(data_dir))
    loaded = manager.load_task_or_group(list(bench.TASKS))
    assert set(loaded) == set(bench.TASKS)
    for name, task in loaded.items():
        config = task.config
        assert config.repeats == 8
        assert config.output_type == "generate_until"
        assert config.generation_kwargs == GEN_KWARGS
        assert "n" not in config.generation_kwargs and "seed" not in config.generation_kwargs
        assert config.filter_list == [
            {"name": "all_samples", "filter": [{"function": "take_first_k", "k": 8}]}
        ]
        assert [m["metric"] for m in config.metric_list] == [*bench.metric_names(8), "correct"]
        doc = task.test_docs()[0]
        assert task.doc_to_text(doc) == plain_prompt(DOCS[bench.TASKS[name]][0][1])


def test_shipped_folder_is_the_generator_output(repo_root: Path):
    folder = repo_root.joinpath(*TASK_DIR_PARTS, "sparkle_bench")
    for name, text in bench.task_folder_files().items():
        assert (folder / name).read_text(encoding="utf-8") == text, (
            f"{name}: regenerate with `sparkle eval tasks`"
        )
    assert (folder / "README.md").is_file()


def test_other_sample_counts_give_matching_tasks(tmp_path: Path, data_dir: Path):
    """`sparkle eval tasks --samples 4`: repeats, filter and metric keys follow k (avg@4, pass@1/2/4, maj@4)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from sparkle.cli import main

    assert main(["eval", "tasks", "--out", str(tmp_path / "k4" / "sparkle_bench"), "--samples", "4"]) == 0
    manager = TaskManager(
        include_path=[str(tmp_path / "k4")], include_defaults=False, metadata={"data_dir": str(data_dir)}
    )
    outputs = {prompt: responses[:4] for prompt, responses in _outputs().items()}
    results = simple_evaluate(
        model=replay_lm(outputs), tasks=["aime2024"], task_manager=manager, bootstrap_iters=0
    )
    values = results["results"]["aime2024"]
    # aime2024: P1 "cwcw" (c=2) and P2 "wwcn" (c=1), first four samples.
    assert values["avg@4,all_samples"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert values["pass@2,all_samples"] == pytest.approx(((1 - 1 / 6) + (1 - 3 / 6)) / 2)
    assert values["maj@4,all_samples"] == pytest.approx((1 + 0) / 2)
    assert "avg@8,all_samples" not in values


def test_environment_variable_selects_local_data(monkeypatch, data_dir: Path):
    monkeypatch.setenv(bench.DATA_DIR_ENV, str(data_dir))
    docs = bench.load_dataset("amc2023")["test"]
    assert docs["target"] == [["27"], ["42"]]
    assert docs["id"] == ["m1", "m2"]
    # --metadata data_dir wins over the environment variable.
    monkeypatch.setenv(bench.DATA_DIR_ENV, "/nonexistent")
    assert len(bench.load_dataset("gsm8k", data_dir=str(data_dir))["test"]) == 2


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_folder", "no such folder"),
        ("missing_file", "olympiad_bench.jsonl is missing"),
        ("bad_row", "row 1: missing field .answer."),
    ],
)
def test_missing_or_bad_local_data_is_a_clear_error(tmp_path: Path, monkeypatch, setup: str, message: str):
    folder = tmp_path / "data"
    if setup != "missing_folder":
        folder.mkdir()
    if setup == "bad_row":
        (folder / "olympiad_bench.jsonl").write_text('{"id": "x", "problem": "p"}\n', encoding="utf-8")
    monkeypatch.setenv(bench.DATA_DIR_ENV, str(folder))
    with pytest.raises(SparkleError, match=message) as info:
        bench.load_dataset("olympiad_bench")
    assert str(folder) in str(info.value)


def test_missing_data_fails_the_lm_eval_run(repo_root: Path, tmp_path: Path):
    from lm_eval import simple_evaluate

    manager = _manager(repo_root, data_dir=str(tmp_path / "absent"))
    with pytest.raises(SparkleError, match="sparkle data benchmarks"):
        simple_evaluate(model=replay_lm({}), tasks=["math500"], task_manager=manager, bootstrap_iters=0)


def test_srl_family_through_metadata(data_dir: Path):
    docs = bench.load_dataset("math500", data_dir=str(data_dir), family="srl")["test"]
    assert bench.doc_to_text(docs[0]) == plain_prompt("Compute 10 + 5.", "srl")
    with pytest.raises(SparkleError, match="family"):
        bench.load_dataset("math500", data_dir=str(data_dir), family="other")


@pytest.mark.shared
def test_real_benchmarks_from_a_data_benchmarks_folder(shared_data: Path, tmp_path: Path, monkeypatch):
    """The five benchmarks of ../shared/data through `sparkle.data.write_benchmarks` and the tasks' loader."""
    from sparkle.data import write_benchmarks

    sources = {
        "aime2024": shared_data / "aime2024" / "aime2024.normalized.jsonl",
        "amc2023": shared_data / "amc2023" / "amc2023.normalized.jsonl",
        "math500": shared_data / "math500" / "math500.normalized.jsonl",
        "gsm8k": shared_data / "gsm8k" / "gsm8k.normalized.jsonl",
        "olympiad_bench": shared_data / "olympiadbench" / "olympiadbench.normalized.jsonl",
    }
    for path in sources.values():
        if not path.is_file():
            pytest.skip(f"{path} is absent")
    write_benchmarks(tmp_path, {name: str(path) for name, path in sources.items()})
    monkeypatch.setenv(bench.DATA_DIR_ENV, str(tmp_path))
    sizes = {b: len(bench.load_dataset(b)["test"]) for b in BENCHMARKS}
    assert sizes == {"aime2024": 30, "amc2023": 40, "math500": 500, "gsm8k": 1319, "olympiad_bench": 675}
    doc = bench.load_dataset("aime2024")["test"][0]
    assert bench.doc_to_text(doc).endswith(f"User: {doc['problem']} Assistant:")
    assert doc["target"] and all(isinstance(a, str) for a in doc["target"])


# ---------------------------------------------------------------------------------------------------------
# The replayed run saved in lm-eval's layout, then `sparkle report` and `sparkle rescore` on it.

PAPER_MODEL = "/ckpt/SparkleRL-7B-Stage2-aug"
OTHER_MODEL = "my-org/other-model"


def _save_like_lm_eval(results: dict, model: str, out: Path) -> Path:
    """Write results + samples exactly as the lm-eval CLI does (EvaluationTracker)."""
    import copy

    from lm_eval.loggers import EvaluationTracker

    results = copy.deepcopy(results)
    samples = results.pop("samples")
    tracker = EvaluationTracker(output_path=str(out))
    tracker.general_config_tracker.log_experiment_args(
        model_source="replay",
        model_args=f"pretrained={model}",
        system_instruction=None,
        chat_template=None,
        fewshot_as_multiturn=False,
    )
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in samples:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return out


def _hand_avg(benchmark: str, metric: str = "avg@8") -> float:
    patterns = [doc[4] for doc in DOCS[benchmark]]
    return float(sum(HAND[p][metric] for p in patterns) / len(patterns))


@pytest.fixture(scope="module")
def results_dir(replayed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results, _ = replayed
    out = tmp_path_factory.mktemp("lm_eval_out")
    _save_like_lm_eval(results, PAPER_MODEL, out)
    # A second model ran only two benchmarks.
    partial = {**results, "results": {t: results["results"][t] for t in ("aime2024", "gsm8k_spk")}}
    partial["samples"] = {t: results["samples"][t] for t in ("aime2024", "gsm8k_spk")}
    _save_like_lm_eval(partial, OTHER_MODEL, out)
    return out


def test_results_reading(results_dir: Path):
    from sparkle.evaluate.results import collect_results

    found = collect_results([results_dir], tasks=bench.TASKS)
    assert {(r.model, r.task) for r in found} == {(PAPER_MODEL, t) for t in bench.TASKS} | {
        (OTHER_MODEL, "aime2024"),
        (OTHER_MODEL, "gsm8k_spk"),
    }
    for r in found:
        assert r.samples == 8 and r.n_docs == 2 and r.samples_file is not None
        assert r.avg == pytest.approx(_hand_avg(r.benchmark))


def test_report_main_table_next_to_the_paper(results_dir: Path, tmp_path: Path):
    import csv

    from sparkle.cli import main
    from sparkle.paper import MAIN_TABLE

    assert main(["report", str(results_dir), "--out", str(tmp_path / "report")]) == 0
    report = tmp_path / "report"
    with open(report / "main_table.csv", encoding="utf-8") as f:
        rows = {(r["model"], r["benchmark"]): r for r in csv.DictReader(f)}
    paper = MAIN_TABLE["SparkleRL-Stage2-aug"]
    ours = {b: 100 * _hand_avg(b) for b in BENCHMARKS}
    for b in BENCHMARKS:
        row = rows[(PAPER_MODEL, b)]
        assert float(row["ours"]) == pytest.approx(ours[b], abs=1e-4)
        assert float(row["paper"]) == paper[b]
        assert float(row["diff"]) == pytest.approx(ours[b] - paper[b], abs=1e-4)
        assert (row["k"], row["n_docs"], row["paper_model"]) == ("8", "2", "SparkleRL-Stage2-aug")
    average = sum(ours.values()) / 5
    assert float(rows[(PAPER_MODEL, "avg")]["ours"]) == pytest.approx(average, abs=1e-4)
    assert float(rows[(PAPER_MODEL, "avg")]["diff"]) == pytest.approx(average - paper["avg"], abs=1e-4)
    # The partial model: its two benchmarks, no average, no paper row.
    assert {b for (m, b) in rows if m == OTHER_MODEL} == {"aime2024", "gsm8k"}
    assert rows[(OTHER_MODEL, "aime2024")]["paper"] == ""

    md = (report / "main_table.md").read_text(encoding="utf-8")
    assert (
        "| SparkleRL-7B-Stage2-aug | "
        + " | ".join(f"{ours[b]:.2f}" for b in BENCHMARKS)
        + f" | {average:.2f} |"
        in md
    )
    assert "| ↳ paper: SparkleRL-Stage2-aug | 50.42 | 71.25 | 81.00 | 92.38 | 40.11 | 67.03 |" in md
    assert f"| ↳ Δ | {ours['aime2024'] - 50.42:+.2f} |" in md
    assert "| other-model | 31.25 | – | – | 12.50 | – | – |" in md
    for png in ("main_table.png", "pass_at_k.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({png})" in md

    # pass@k curves from the samples: k = 1..8, equal to the hand-computed pass@1/2/4/8.
    with open(report / "pass_at_k.csv", encoding="utf-8") as f:
        curve = {(r["model"], r["benchmark"], int(r["k"])): float(r["pass_at_k"]) for r in csv.DictReader(f)}
    assert {k for (m, b, k) in curve if m == PAPER_MODEL and b == "math500"} == set(range(1, 9))
    for b in BENCHMARKS:
        for k in (1, 2, 4, 8):
            assert curve[(PAPER_MODEL, b, k)] == pytest.approx(100 * _hand_avg(b, f"pass@{k}"), abs=1e-4)


def test_report_without_benchmark_results_is_an_error(tmp_path: Path):
    from sparkle.evaluate.report import build_report

    with pytest.raises(SparkleError, match="no results"):
        build_report([tmp_path], tmp_path / "report")
    with pytest.raises(SparkleError, match="no such file"):
        build_report([tmp_path / "absent"], tmp_path / "report")


def test_rescore_eval_policy_reproduces_and_other_policies_regrade(results_dir: Path, tmp_path: Path, capsys):
    from sparkle.cli import main
    from sparkle.evaluate.rescore import rescore

    files = sorted((results_dir).rglob("samples_*.jsonl"))
    same = rescore(files, policy="eval")
    assert len(same) == 7
    for t in same:
        assert t.changed == 0
        for metric in bench.metric_names(8):
            assert t.after[metric] == pytest.approx(t.before[metric], abs=1e-12)
            assert t.after[metric] == pytest.approx(_hand_avg(bench.TASKS[t.task], metric), abs=1e-12)

    # math_verify through the CLI, written in lm-eval's layout and read back by the report.
    assert main(["rescore", str(results_dir), "--policy", "math_verify", "--out", str(tmp_path / "mv")]) == 0
    printed = capsys.readouterr().out
    assert "| math_verify |" in printed and "aime2024" in printed
    assert main(["report", str(tmp_path / "mv"), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "main_table.md").read_text(encoding="utf-8")
    assert "math_verify policy" in md
    assert "| SparkleRL-7B-Stage2-aug | 31.25 |" in md  # these plain integer answers grade alike


def test_rescore_errors(tmp_path: Path):
    from sparkle.evaluate.rescore import rescore

    with pytest.raises(SparkleError, match="no samples"):
        rescore([tmp_path])
    bad = tmp_path / "samples_aime2024_2026-01-01T00-00-00.000000.jsonl"
    bad.write_text(
        '{"doc": {"answer": ["1"]}, "filtered_resps": [["\\\\boxed{1}"]]}\nnot json\n', encoding="utf-8"
    )
    with pytest.raises(SparkleError, match="line 2"):
        rescore([bad])
    with pytest.raises(SparkleError, match="policy"):
        rescore([bad], policy="lenient")
