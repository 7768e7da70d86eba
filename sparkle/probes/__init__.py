"""The SPARKLE probes: plan following, knowledge use and chains of subproblems, by benchmark and level.

`tasks` (what the lm-eval probe tasks call), `taskgen` (writes the task folder), `records` (reads
lm-eval samples into per-document correctness), `analysis` (Avg@k, paired deltas, subproblem success,
per-position accuracy, bootstrap CIs), `report` (CSV + Markdown + figures), `run` (lm-eval over the
probe tasks for several models), `cli` (`sparkle probe ...`).
"""
