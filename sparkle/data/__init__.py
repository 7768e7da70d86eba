"""Training and evaluation data (SPEC §2–§4): sources, stage one, stage two, benchmarks, probes, mining."""

from sparkle.data.splitter import split_reasoning

__all__ = ["split_reasoning"]
