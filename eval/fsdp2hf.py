"""Convert a verl FSDP checkpoint to a Hugging Face model (the original SPARKLE script's flags).

    python eval/fsdp2hf.py --fsdp_path CKPT/global_step_N[/actor] --output_path DIR \
        [--base_model ID_OR_PATH] [--dtype bf16|fp16|fp32] [--overwrite] \
        [--upload --repo_id ID [--private] [--hf_token TOKEN]]

Same as `sparkle convert` (and `scripts/eval/fsdp2hf.py`, where the original keeps it); exits 0 only after
the written model was loaded back and checked. Prefer `export HF_TOKEN=...` to --hf_token.
"""

import sys

from sparkle.checkpoints.cli import fsdp2hf_main

if __name__ == "__main__":
    sys.exit(fsdp2hf_main())
