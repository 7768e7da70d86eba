"""Forwards to the library: the probe tasks' logic lives in `sparkle.probes.tasks`."""

from sparkle.probes.tasks import (  # noqa: F401
    doc_to_target,
    doc_to_text,
    load_dataset,
    pooled_accuracy,
    process_results,
)
