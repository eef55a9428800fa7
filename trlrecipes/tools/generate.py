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

    from trlrecipes.tools.loading import check_policy_run, load_policy, open_run

    check_policy_run(Path(run_dir), "generate")
    if model_and_tokenizer is None:  # checks the folder, the adapter and the base model before loading
        model, tokenizer = load_policy(Path(run_dir), open_run(Path(run_dir)))
    else:
        model, tokenizer = model_and_tokenizer
    chat = [[{"role": "user", "content": prompt}] for prompt in prompts]
    texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chat]
    decoding = {"max_new_tokens": max_new_tokens, "do_sample": False}
    sides = generate_sides(model, tokenizer, texts, decoding, reference=compare)
    replies = {name: decode_replies(model, tokenizer, rows, max_new_tokens)["texts"] for name, rows in sides.items()}
    return [{"prompt": prompt, **{name: replies[name][i] for name in replies}} for i, prompt in enumerate(prompts)]


def stop_ids(model, tokenizer) -> set[int]:
    """The token ids that end a reply: the generation config's end-of-sequence ids and the tokenizer's."""
    ids = set()
    for source in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source:
            ids.update(source)
    return ids


def decode_replies(model, tokenizer, rows: list[list[int]], max_new_tokens: int) -> dict:
    """Generated ids as replies: the text up to the first end-of-reply token, its token count, and whether the
    reply was cut off at max_new_tokens (no end token): {"texts": [...], "tokens": [...], "cut": [...]}."""
    stops = stop_ids(model, tokenizer)
    out = {"texts": [], "tokens": [], "cut": []}
    for row in rows:
        end = next((i for i, token in enumerate(row) if token in stops), None)
        length = len(row) if end is None else end
        out["texts"].append(tokenizer.decode(row[:length], skip_special_tokens=True).strip())
        out["tokens"].append(length)
        out["cut"].append(end is None and len(row) >= max_new_tokens)
    return out


def generate_sides(model, tokenizer, texts: list[str], decoding: dict, *, reference: bool = True, seed: int = 0):
    """New token ids per text for the trained model (adapter on) and, with `reference`, the reference (adapter
    off): {"trained": [[ids]...], "reference": [[ids]...]}, rows in text order (`num_return_sequences` rows a
    text when sampling).

    All texts go in one left-padded batch: one forward per new token instead of one per prompt and token. Greedy
    decoding runs both sides in that same batch (PEFT's mixed-adapter batches, `adapter_names`, with "__base__"
    for the adapter-off rows): a CPU forward of a small batch is bound by reading the weights, so 2 x 30 rows in
    one pass took 36 s where two passes of 30 took 48 s (demo, 48 new tokens; the ids were identical). Sampling
    runs one pass a side, both seeded alike, so that sampled replies differ by the adapter only."""
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the right end of every row
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    width = batch["input_ids"].shape[1]
    settings = {"pad_token_id": tokenizer.pad_token_id, **decoding}

    def run(inputs, **extra) -> list[list[int]]:
        torch.manual_seed(seed)
        with torch.no_grad():
            ids = model.generate(**inputs, **settings, **extra)
        return ids[:, width:].cpu().tolist()

    adapter = getattr(model, "active_adapter", None)
    if not reference:
        return {"trained": run(batch)}
    if not decoding.get("do_sample") and isinstance(adapter, str):
        both = {k: torch.cat([v, v]) for k, v in batch.items()}
        rows = run(both, adapter_names=[adapter] * len(texts) + ["__base__"] * len(texts))
        return {"trained": rows[: len(texts)], "reference": rows[len(texts) :]}
    trained = run(batch)
    with model.disable_adapter():
        return {"trained": trained, "reference": run(batch)}


def check_context(model, tokenizer, texts: list[str], max_new_tokens: int, what: str = "prompt") -> None:
    """Refuse a prompt that, rendered with the chat template, leaves no room for `max_new_tokens` in the model's
    context (max_position_embeddings): one line naming it, instead of minutes of generating past what the model was
    trained on (a 5 MB prompt line ran for over 300 s)."""
    from trlrecipes.errors import UserError

    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if not isinstance(context, int):
        return
    for text in texts:
        # a byte-level or byte-fallback tokenizer yields at most a token a UTF-8 byte (and SentencePiece one more for
        # its leading "▁"): a prompt that fits that way fits, without tokenizing it
        if len(text.encode("utf-8")) + 1 + max_new_tokens <= context:
            continue
        tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if tokens + max_new_tokens > context:
            raise UserError(
                f"{what} {text[:60]!r}... is {tokens} tokens with the chat template; with {max_new_tokens} new tokens "
                f"it does not fit the model's context of {context}: shorten it or lower --max-new-tokens"
            )


def format_answers(rows: list[dict], width: int = 100, words: int | None = None) -> str:
    """Prompts and their answers, wrapped; `words`: show only the first that many words of each answer (with
    "[... N more words]")."""
    import textwrap

    def shown(text: str) -> str:
        parts = text.split()
        if words is None or len(parts) <= words:
            return text
        return " ".join(parts[:words]) + f" [... {len(parts) - words} more words]"

    blocks = []
    for row in rows:
        lines = [f"prompt: {row['prompt']}"]
        for label in ("reference", "trained"):
            if label in row:
                body = textwrap.fill(
                    shown(row[label] or "(empty)"), width=width, initial_indent="    ", subsequent_indent="    "
                )
                lines.append(f"  {label}:\n{body}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
