"""The reward inside a Ray actor (how verl runs reward workers): the guarded pool starts and kills its
workers from the actor's threads without signals."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
def test_compute_score_inside_a_ray_actor() -> None:
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:

        @ray.remote
        class Scorer:
            def score(self, response: str, truth: str, timeout: float) -> dict:
                from sparkle.reward import compute_score

                return compute_score(
                    "ray", response, truth, reward_type="spk_h", policy="train", timeout=timeout
                )

        actor = Scorer.remote()
        ok = ray.get(
            actor.score.remote("<think>a</think><answer>\\boxed{2\\sqrt{3}}</answer>", "\\sqrt{12}", 5.0)
        )
        assert ok["score"] == 2.0 and ok["timed_out"] == 0.0
        hostile = ray.get(actor.score.remote("\\boxed{9**9**9**9}", "3", 0.5))
        assert hostile["score"] == -1.0 and hostile["timed_out"] == 1.0
        again = ray.get(actor.score.remote("\\boxed{k+k}", "2k", 5.0))  # the replaced worker serves
        assert again["acc"] == 1.0
    finally:
        ray.shutdown()
