"""The SPARKLE probe tasks: exact prompts for every condition and family, the committed task folder, task
and group names, where the preview comes from, and groups that run every task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import scripted_lm
from probe_cases import PROBLEMS, WRONG, expected_prompt, preview_rows, right

from sparkle.errors import SparkleError


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


def test_groups_run_every_task_and_average_benchmarks(repo_root: Path, tmp_path: Path, monkeypatch):
    """`sparkle_probes` runs the 20 tasks of the sparkle family; `sparkle_plan` reports the unweighted mean of
    its five benchmarks' avg@8 (like the paper's Avg column), not the mean over documents."""
    from lm_eval import simple_evaluate
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

    only_p2 = scripted_lm(lambda context, kwargs: right("24") if "360" in context else WRONG)
    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")], include_defaults=False
    )
    results = simple_evaluate(
        model=only_p2, tasks=["sparkle_probes"], task_manager=manager, bootstrap_iters=0
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
