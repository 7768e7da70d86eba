"""`sparkle convert` and `sparkle download`, and `eval/fsdp2hf.py` (the original script's flags)."""

from __future__ import annotations

import argparse
import os
import sys

from sparkle.argtypes import spellings
from sparkle.errors import SparkleError
from sparkle.log import get_logger, log_level, setup_logging

log = get_logger(__name__)


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    """The conversion flags, shared by `sparkle convert` and `eval/fsdp2hf.py` (both spellings accepted)."""
    parser.add_argument(
        *spellings("--fsdp_path"),
        required=True,
        help="verl checkpoint: a global_step_N folder or its actor/ subfolder",
    )
    parser.add_argument(
        *spellings("--output_path"),
        required=True,
        help="folder for the Hugging Face model",
    )
    parser.add_argument(
        *spellings("--base_model"),
        default=None,
        help="model the run started from (folder or Hub id): config and tokenizer for shards-only (2025 verl) "
        "checkpoints; not needed when the checkpoint has a huggingface/ folder",
    )
    parser.add_argument("--dtype", default="bf16", help="output dtype: bf16 (default), fp16 or fp32")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --output_path")
    parser.add_argument(
        "--upload", action="store_true", help="push the model to the Hub afterwards (token from HF_TOKEN)"
    )
    parser.add_argument(*spellings("--repo_id"), default=None, help="Hub repository for --upload")
    parser.add_argument("--private", action="store_true", help="create the Hub repository as private")
    parser.add_argument(
        *spellings("--hf_token"),
        default=None,
        metavar="TOKEN",
        help="Hub token (the original script's flag); prefer the HF_TOKEN environment variable. A token "
        "given here is moved into HF_TOKEN and the program restarts itself without it on the command line",
    )


def argv_without_token(argv: list[str], token: str) -> list[str]:
    """``argv`` with the token removed: ``--flag TOKEN`` drops both words, ``--flag=TOKEN`` its word."""
    out: list[str] = []
    for arg in argv:
        if arg == token and out and out[-1].startswith("--"):
            out.pop()
            continue
        if arg.startswith("--") and arg.partition("=")[2] == token:
            continue
        out.append(arg)
    return out


def take_token_from_command_line(args: argparse.Namespace) -> None:
    """Move ``--hf_token`` into ``HF_TOKEN`` (where the upload reads it) and off the command line.

    A command-line token is visible to other users in the process list (and stays in shell history), so
    this warns, sets ``HF_TOKEN`` and, when the token is on this process's own command line, re-executes
    the same command without it (same process id): the converting process never shows the token in its
    title. The token is never logged.
    """
    token = getattr(args, "hf_token", None)
    args.hf_token = None
    if token is None:
        return
    token = token.strip()
    if not token:
        raise SparkleError("--hf_token is empty; export HF_TOKEN=<a write token> instead")
    log.warning(
        "--hf_token puts the token in the process list and shell history; export HF_TOKEN instead "
        "(this run takes it from the environment and restarts without it on the command line)"
    )
    os.environ["HF_TOKEN"] = token
    orig_argv = list(getattr(sys, "orig_argv", []))
    if not any(token in arg for arg in orig_argv):
        return  # called in-process with an explicit argv: nothing on the command line to hide
    clean = argv_without_token(orig_argv, token)
    if any(token in arg for arg in clean):
        log.warning("could not remove the token from the command line; it stays visible to `ps`")
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, *clean[1:]])
    except OSError as e:
        log.warning("could not restart without the token on the command line (%s)", type(e).__name__)


def run_convert(args: argparse.Namespace) -> int:
    """Convert (and upload) as the parsed flags say; prints the output folder on stdout."""
    take_token_from_command_line(args)
    from sparkle.checkpoints.convert import convert_checkpoint

    if args.upload and not args.repo_id:
        raise SparkleError("--upload needs --repo_id ORG/NAME")
    if args.repo_id and not args.upload:
        raise SparkleError("--repo_id is only used with --upload; add --upload or drop --repo_id")
    if args.private and not args.upload:
        raise SparkleError("--private is only used with --upload")
    result = convert_checkpoint(
        args.fsdp_path,
        args.output_path,
        base_model=args.base_model,
        dtype=args.dtype,
        overwrite=args.overwrite,
        upload_repo=args.repo_id if args.upload else None,
        private=args.private,
    )
    print(result.output_dir)
    if result.uploaded_to:
        print(result.uploaded_to)
    return 0


def run_download(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparkle.checkpoints.hub import DOWNLOADS, download, resolve_download

    if args.list:
        for name, repo in DOWNLOADS.items():
            print(f"{name}\t{repo.repo_type}\t{repo.repo_id}")
        return 0
    if not args.names:
        raise SparkleError(f"name what to download: one or more of {', '.join(DOWNLOADS)} (or --list)")
    for name in args.names:  # every name is checked before anything is fetched
        resolve_download(name, args.repo_type)
    for name in args.names:
        out = Path(args.out) / name.strip("/").replace("/", "__") if args.out else None
        print(download(name, out, revision=args.revision, repo_type=args.repo_type))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    convert = subparsers.add_parser(
        "convert",
        help="verl FSDP checkpoint -> Hugging Face model (checked after writing)",
        description="Merge a verl FSDP checkpoint (today's layout with verl's model_merger, or the 2025 "
        "shards-only layout with --base_model) into a safetensors model, load it back and check every "
        "tensor, then optionally upload it.",
    )
    add_convert_arguments(convert)
    convert.set_defaults(func=run_convert)

    down = subparsers.add_parser(
        "download",
        help="download released SparkleRL models / SPARKLE datasets by short name",
        description="Download into the Hugging Face cache (default) or into --out/NAME; interrupted "
        "downloads resume. Names: stage1, stage2-aug, stage2-hard, stage2-mix, base, dsr40k, hardmath, "
        "the five benchmarks, sparkle_preview (see --list), or any org/name Hub id.",
    )
    down.add_argument("names", nargs="*", metavar="NAME", help="short name (see --list) or org/name Hub id")
    down.add_argument("--out", default=None, help="download into OUT/NAME instead of the HF cache")
    down.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    down.add_argument(
        "--repo-type", choices=("model", "dataset"), default=None, help="for an org/name id (default model)"
    )
    down.add_argument("--list", action="store_true", help="print the name table and exit")
    down.set_defaults(func=run_download)


def fsdp2hf_main(argv: list[str] | None = None) -> int:
    """`python eval/fsdp2hf.py ...`: exits 0 only after the written model was loaded back and checked."""
    parser = argparse.ArgumentParser(
        prog="fsdp2hf.py",
        description="Convert a verl FSDP checkpoint to a Hugging Face model (same as sparkle convert).",
    )
    add_convert_arguments(parser)
    parser.add_argument(
        "--log-level", default=None, type=log_level, help="debug, info (default), warning or error (any case)"
    )
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    from sparkle.errors import run_command
    from sparkle.io import check_outputs

    def body() -> int:
        check_outputs(args)
        return run_convert(args)

    return run_command("fsdp2hf.py", body)
