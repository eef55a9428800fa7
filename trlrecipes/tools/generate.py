"""Answer prompts with a run's adapter, optionally next to the reference (the same model, adapter disabled)."""

from __future__ import annotations

from pathlib import Path


def generate_answers(
    run_dir: Path, prompts: list[str], *, compare: bool = False, max_new_tokens: int = 128, model_and_tokenizer=None
) -> list[dict]:
    """Greedy answers (deterministic, so before/after differences come from training, not sampling)."""
    from trlrecipes.errors import UserError

    if max_new_tokens < 1:
        raise UserError(f"--max-new-tokens {max_new_tokens}: must be at least 1 (the reply length in tokens)")
    if not prompts:
        raise UserError('no prompt given; pass --prompt "a user message"')
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise UserError(f"--prompt {prompt!r} is empty; give the text of a user message")

    from trlrecipes.tools.evaluate import load_policy, load_run_config

    if model_and_tokenizer is None:  # checks the folder, the adapter and the base model before loading
        model, tokenizer = load_policy(Path(run_dir), load_run_config(Path(run_dir)))
    else:
        model, tokenizer = model_and_tokenizer
    import torch  # after the checks, so that a bad input is refused in a second

    device = next(model.parameters()).device

    def answer(batch: list[str]) -> list[str]:
        # All prompts in one left-padded batch: one forward per new token instead of one per prompt and token
        # (3 demo prompts: 3x fewer decoding steps; greedy, so each answer is the one it would get alone).
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
            for prompt in batch
        ]
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            ids = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            tokenizer.padding_side = side
        ids = {k: v.to(device) for k, v in ids.items()}
        with torch.no_grad():
            out = model.generate(
                **ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        return [
            text.strip()
            for text in tokenizer.batch_decode(out[:, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        ]

    prompts = list(prompts)
    results = [{"prompt": prompt, "trained": text} for prompt, text in zip(prompts, answer(prompts), strict=True)]
    if compare:
        with model.disable_adapter():
            for row, text in zip(results, answer(prompts), strict=True):
                row["reference"] = text
    return results


def format_answers(rows: list[dict], width: int = 100) -> str:
    import textwrap

    blocks = []
    for row in rows:
        lines = [f"prompt: {row['prompt']}"]
        for label in ("reference", "trained"):
            if label in row:
                body = textwrap.fill(
                    row[label] or "(empty)", width=width, initial_indent="    ", subsequent_indent="    "
                )
                lines.append(f"  {label}:\n{body}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
