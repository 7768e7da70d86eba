"""Benchmark evaluation: metrics (avg@k, pass@k, maj@k), the lm-eval task glue, results reading and reports.

Submodules are imported on demand; none of them imports lm-eval, torch or matplotlib at module top.
"""
