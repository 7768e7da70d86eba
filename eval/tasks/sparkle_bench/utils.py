"""Forwards to the library: the benchmark tasks' logic lives in `sparkle.evaluate.tasks`."""

from sparkle.evaluate.tasks import (  # noqa: F401
    doc_to_target,
    doc_to_text,
    load_dataset,
    pooled_accuracy,
    process_results,
)
