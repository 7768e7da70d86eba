"""Training and evaluation data (docs/data.md): sources, stage one, stage two, benchmarks, probes, mining.

The contract other parts of the project code against: ``load_records``, ``load_benchmark``,
``load_preview``, ``group_preview`` and ``split_reasoning``.
"""

from sparkle.data.benchmarks import load_benchmark, write_benchmarks
from sparkle.data.probes import group_preview, load_preview
from sparkle.data.sources import load_records
from sparkle.data.splitter import split_reasoning
from sparkle.data.stage_one import build_stage_one
from sparkle.data.stage_two import build_stage_two

__all__ = [
    "build_stage_one",
    "build_stage_two",
    "group_preview",
    "load_benchmark",
    "load_preview",
    "load_records",
    "split_reasoning",
    "write_benchmarks",
]
