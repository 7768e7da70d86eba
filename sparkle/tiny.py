"""A tiny Qwen2-architecture causal LM with a byte-level BPE tokenizer, built entirely offline.

Used by the tests and by `sparkle demo`: it exercises the real loading, chat-template, generation and
checkpoint code paths in about a second, with no download. Its outputs are random text; its accuracy
means nothing. The answer-format tags are single tokens, so GRPO can teach it the format quickly.
"""

from __future__ import annotations

from pathlib import Path

from sparkle.prompts import INSTRUCTION

# Qwen2.5's chat template reduced to what SPARKLE uses: a default system turn, then the messages.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The answer-format pieces are single, ordinary tokens (decoding keeps them): a GRPO run with a
# format-aware reward can then teach the random tiny model the format in a minute on a CPU (the demo).
FORMAT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>", "\\boxed{"]

_CORPUS = [
    INSTRUCTION,
    "<think> Let x = 2. Then 2x + 3 = 7, so the answer is 7. </think> <answer> The answer is \\boxed{7}. </answer>",
    "What is $\\frac{1}{2} + \\frac{1}{3}$? The sum is $\\frac{5}{6}$. 0 1 2 3 4 5 6 7 8 9 10 100 1000",
    "Find the area of a triangle with sides 3, 4 and 5. \\sqrt{2} \\pi x^2 + y^2 = z^2 (a, b) [0, 1]",
    "User: Assistant: Answer: Final answer: The answer is \\boxed{\\dfrac{3}{4}}",
]


def build_tiny_model(
    out_dir: str | Path, vocab_size: int = 512, hidden_size: int = 64, seed: int = 0
) -> Path:
    """Write a tiny Qwen2ForCausalLM + tokenizer (with chat template) to ``out_dir`` and return the path."""
    import torch
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS * 4, trainer=trainer)
    bpe.add_tokens([AddedToken(t, special=False, normalized=False) for t in FORMAT_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 4096
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    model.save_pretrained(out, safe_serialization=True)
    return out
