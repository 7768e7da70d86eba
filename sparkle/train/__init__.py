"""GRPO training on verl 0.9: stage configs composed on verl's own ``ppo_trainer``, checks without GPUs
(`sparkle train check`) and the launcher behind ``scripts/train/*.sh``."""
