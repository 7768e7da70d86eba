"""`sparkle train check|launch|stages`: check a GRPO stage config without GPUs, or launch it on verl."""

from __future__ import annotations

import argparse
import sys

from sparkle.log import get_logger

log = get_logger(__name__)


class _IntermixedParser(argparse.ArgumentParser):
    """Lets options and Hydra overrides come in any order (``check stage_one --print-config a=1``)."""

    _parsing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._parsing:
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def _check(args: argparse.Namespace) -> int:
    from sparkle.train.check import run_check
    from sparkle.train.compose import to_yaml

    report = run_check(
        args.config, args.overrides, max_rows=args.max_rows, gpu_memory_gib=args.gpu_memory_gib
    )
    if args.print_config:
        # stdout holds only the YAML, so it can be piped; the summary goes to stderr
        print(report.summary(), file=sys.stderr)
        print(to_yaml(report.config).rstrip())
    else:
        print(report.summary())
        print("check passed")
    return 0


def _launch(args: argparse.Namespace) -> int:
    from sparkle.train.launch import launch

    return launch(args)


def _local(args: argparse.Namespace) -> int:
    from sparkle.train.local import run_command

    return run_command(args)


def _stages(args: argparse.Namespace) -> int:
    from sparkle.train.compose import STAGES, configs_dir

    for name, what in STAGES.items():
        print(f"{name:16s} {configs_dir() / (name + '.yaml')}  {what}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `sparkle train` and its subcommands."""
    from sparkle.train.launch import build_parser

    train = subparsers.add_parser("train", help="GRPO stage configs on verl: check, launch")
    commands = train.add_subparsers(
        dest="train_command", metavar="SUBCOMMAND", required=True, parser_class=_IntermixedParser
    )

    p = commands.add_parser(
        "check",
        help="compose a stage config and check it (verl validate_config, data, reward, batches); no GPU",
        description="Compose CONFIG (a stage name such as stage_one or a YAML file) with Hydra overrides, run "
        "verl's validate_config, check the train/val files and build verl's dataset from them, load the "
        "reward through verl's loader and score one row, check the batch arithmetic, and print a summary "
        "with the steps, checkpoints and disk, the GPU memory estimate and the attention kernel.",
    )
    p.add_argument(
        "config", help="stage name (stage_one, stage_two_aug, stage_two_hard, stage_two_mix, smoke) or YAML"
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides KEY=VALUE (as for main_ppo)")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config as YAML on stdout after the checks",
    )
    p.add_argument(
        "--max-rows",
        type=int,
        default=-1,
        help="build verl's dataset from the first N rows only (default: all)",
    )
    p.add_argument(
        "--gpu-memory-gib",
        type=float,
        default=None,
        help="memory of the GPUs the run will use, for the memory estimate (default: the GPU found here, "
        "else the paper's A100-80GB)",
    )
    p.set_defaults(func=_check)

    p = commands.add_parser(
        "launch",
        help="run a stage with verl's main_ppo (what scripts/train/*.sh do); --dry-run prints it",
    )
    build_parser(p)
    p.set_defaults(func=_launch)

    from sparkle.train.local import add_local_arguments

    p = commands.add_parser(
        "local",
        help="GRPO on this machine (CPU or one GPU) with TRL: smoke runs and small models",
        description="Train STAGE with Hugging Face TRL's GRPOTrainer on one machine: the same stage configs, "
        "data files and reward as verl, every hyperparameter with a TRL equivalent mapped "
        "(docs/train-local.md). Not for the paper's numbers.",
    )
    add_local_arguments(p)
    p.set_defaults(func=_local)

    p = commands.add_parser("stages", help="list the stage configs")
    p.set_defaults(func=_stages)
