"""Synthetic preference pairs by best-of-N sampling: `trlrecipes synth`.

For each prompt, N replies are sampled from a policy model (its chat template applied), each reply is scored by a
reward function, and the best-scored reply becomes `chosen`, the worst `rejected` (when the best scores above the
worst by at least `--min-gap`; a tie is never a pair). Rows are written as JSON lines
in the project's conversational format (`prompt` / `chosen` / `rejected` message lists), which
`data_format=custom` reads as is; the scores ride along as extra columns (`score_chosen`, `score_rejected` and
all N `scores`), which the converter ignores.

Reward functions:
  * a Hugging Face sequence-classification reward model (one logit per sequence): the prompt and reply are rendered
    with the reward model's own chat template when its tokenizer has one, else fed as a plain (prompt, reply) text
    pair, the way reward models without a template (e.g. DeBERTa ones) were trained;
  * a Python callable `module:function` with signature `fn(prompt: str, response: str) -> float` (the module may
    live in the current directory, or be given as a file path `path/to/file.py:function`). `prompt` is the prompt
    text: the line of a text file, the `prompt` string of a JSONL row, or, for a message-list prompt, the content of
    its last user message.

Resuming: the output is appended to. Prompts already in it are skipped and counted, and so are prompts recorded in
the `<output>.dropped.jsonl` side file (pairs dropped earlier because the score gap was below `--min-gap`, or because
there were not two different replies), so an interrupted run continues where it stopped without sampling again.
Each batch is seeded from `--seed` and the batch's first prompt, so a rerun on the same input reproduces its samples.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trlrecipes import files
from trlrecipes.errors import UserError
from trlrecipes.models import check_model
from trlrecipes.paths import check_writable
from trlrecipes.tasks.judges import CallableReward, Prompt, load_callable, read_prompts
from trlrecipes.tools.eval.judges import RewardModel

DROPPED_SUFFIX = ".dropped.jsonl"


@dataclass
class SynthSummary:
    read: int = 0
    duplicates: int = 0  # the same prompt more than once in the input: synthesized once
    already_done: int = 0  # in the output (or its dropped side file) from an earlier run
    written: int = 0
    dropped_small_gap: int = 0
    dropped_no_pair: int = 0  # fewer than two different non-empty replies among the N samples
    cut_replies: int = 0  # sampled replies that hit --max-new-tokens before the end-of-turn token
    sampled: int = 0
    min_gap: float = 0.0
    output: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items()}

    def format(self) -> str:
        lines = [
            f"prompts read {self.read}" + (f" ({self.duplicates} duplicates ignored)" if self.duplicates else ""),
            f"  already done   {self.already_done:>6}  (in {self.output} or its {DROPPED_SUFFIX} file)",
            f"  written        {self.written:>6}",
            f"  dropped        {self.dropped_small_gap:>6}  "
            + (f"score gap below --min-gap {self.min_gap:g}" if self.min_gap > 0 else "best and worst scored alike"),
            f"  dropped        {self.dropped_no_pair:>6}  fewer than two different non-empty replies",
        ]
        if self.sampled:
            lines.append(f"  replies cut at --max-new-tokens: {self.cut_replies} of {self.sampled}")
        lines += self.notes
        return "\n".join(lines)


# --- resuming ---------------------------------------------------------------------------------------------------


def _read_done(path: Path) -> set[str]:
    """Prompt keys of the rows already in a JSONL file. A torn last line (a crash mid-write) is cut off."""
    if not path.is_file():
        return set()
    raw = path.read_text(encoding="utf-8")
    lines = raw.splitlines(keepends=True)
    done = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if lineno == len(lines) and not line.endswith("\n"):
                print(f"synth: {path}: the last line was cut off mid-write; removing it", file=sys.stderr)
                files.write_text(path, "".join(lines[:-1]))
                break
            raise UserError(
                f"{path}:{lineno}: not valid JSON; this output cannot be resumed (choose another --output)"
            ) from None
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), list):
            raise UserError(f"{path}:{lineno}: not a synth row (no prompt message list); choose another --output")
        done.add(json.dumps(row["prompt"], sort_keys=True, ensure_ascii=False))
    return done


def dropped_path(output: Path) -> Path:
    return output.with_name(output.name + DROPPED_SUFFIX)


# --- sampling ---------------------------------------------------------------------------------------------------


def load_policy(model: str, *, trust_remote_code: bool = False):
    """The policy that samples replies, through the tools' one loader; left padding, since generation continues
    from the right end of every row."""
    from trlrecipes.tools.loading import load_model

    policy, tokenizer = load_model(model, trust_remote_code=trust_remote_code, padding_side="left", what="--model")
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"--model {model!r} has no chat template, so prompts cannot be rendered as conversations; "
            f"use an instruct/chat model"
        )
    return policy, tokenizer


def sample_replies(
    policy, tokenizer, prompts: list[Prompt], *, num_samples: int, max_new_tokens: int, temperature: float, seed: int
) -> tuple[list[list[str]], list[bool]]:
    """N sampled replies per prompt (one batched generate, left padding), and for each reply (prompt-major)
    whether it stopped at max_new_tokens before its end."""
    import torch

    from trlrecipes.tools.generate import check_context, decode_replies

    texts = [tokenizer.apply_chat_template(p.messages, add_generation_prompt=True, tokenize=False) for p in prompts]
    check_context(policy, tokenizer, texts, max_new_tokens)
    batch = tokenizer(texts, padding=True, add_special_tokens=False, return_tensors="pt")
    device = next(policy.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    torch.manual_seed(seed)
    with torch.no_grad():
        out = policy.generate(
            **batch,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=num_samples,
            pad_token_id=tokenizer.pad_token_id,
        )
    replies = decode_replies(policy, tokenizer, out[:, batch["input_ids"].shape[1] :].cpu().tolist(), max_new_tokens)
    decoded = replies["texts"]
    return [decoded[i * num_samples : (i + 1) * num_samples] for i in range(len(prompts))], replies["cut"]


def _batch_seed(seed: int, prompt: Prompt) -> int:
    digest = hashlib.sha256(f"{seed}\0{prompt.key}".encode()).hexdigest()
    return int(digest[:8], 16)


def best_and_worst(replies: list[str], scores: list[float]) -> tuple[int, int] | None:
    """Indices of the best and worst non-empty replies, which must differ in text; None when there is no such pair."""
    candidates = [i for i, reply in enumerate(replies) if reply]
    if len({replies[i] for i in candidates}) < 2:
        return None
    best = max(candidates, key=lambda i: (scores[i], -i))
    worst = min((i for i in candidates if replies[i] != replies[best]), key=lambda i: (scores[i], i))
    return best, worst


def make_row(
    prompt: Prompt, chosen: str, rejected: str, score_chosen: float, score_rejected: float, scores: list[float]
) -> dict:
    return {
        "prompt": prompt.messages,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "score_chosen": score_chosen,
        "score_rejected": score_rejected,
        "scores": scores,
    }


def synthesize(
    prompts_file: str | Path,
    output: str | Path,
    *,
    model: str,
    reward: Callable | None = None,
    reward_model: str | None = None,
    reward_spec: str | None = None,
    num_samples: int = 4,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    min_gap: float = 0.0,
    seed: int = 42,
    batch_size: int = 8,
    trust_remote_code: bool = False,
    retry_dropped: bool = False,
    policy_and_tokenizer=None,
    progress=None,
) -> SynthSummary:
    """Best-of-N pairs for every prompt of `prompts_file` not yet in `output`; returns the summary."""
    if num_samples < 2:
        raise UserError(f"--num-samples {num_samples}: need at least 2 replies per prompt to form a pair")
    if max_new_tokens < 1 or batch_size < 1:
        raise UserError("--max-new-tokens and --batch-size must be at least 1")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise UserError(
            f"--temperature {temperature}: must be a finite number above 0 (sampling; 0 would give N identical "
            f"replies), e.g. 1.0"
        )
    if not (min_gap >= 0 and math.isfinite(min_gap)):
        raise UserError(f"--min-gap {min_gap}: must be a finite number, 0 or more (e.g. 0.5)")
    if sum(x is not None for x in (reward, reward_model, reward_spec)) != 1:
        raise UserError("pass exactly one reward: --reward-model PATH or --reward module:function")
    output = Path(output).expanduser()
    if output.is_dir():
        raise UserError(f"--output {output} is a folder; pass a .jsonl file path")
    if not output.name.endswith(".jsonl"):
        raise UserError(f"--output {output}: use a .jsonl file name, so `data_format=custom` can read it")

    check_writable(output, f"--output {output}", folder=False)

    summary = SynthSummary(min_gap=min_gap, output=str(output))
    prompts = read_prompts(prompts_file)
    summary.read = len(prompts)
    done = _read_done(output) | (set() if retry_dropped else _read_done(dropped_path(output)))
    todo, seen = [], set()
    for prompt in prompts:
        if prompt.key in seen:
            summary.duplicates += 1
            continue
        seen.add(prompt.key)
        if prompt.key in done:
            summary.already_done += 1
        else:
            todo.append(prompt)
    say = progress or (lambda text: print(text, file=sys.stderr, flush=True))
    if not todo:
        summary.notes.append("nothing to do: every prompt is already in the output")
        return summary

    if reward_spec is not None:
        reward = CallableReward(load_callable(reward_spec), reward_spec)
    elif reward is not None and not isinstance(reward, (CallableReward, RewardModel)):
        reward = CallableReward(reward)
    if policy_and_tokenizer is None:
        check_model(
            model, subject=f"--model {model}", trust_remote_code=trust_remote_code, trust_flag="--trust-remote-code"
        )
    if reward_model is not None and not (Path(reward_model) / "adapter_config.json").is_file():
        # a reward-model run folder (an adapter) is checked by the judge, which loads its base first
        check_model(
            reward_model,
            subject=f"--reward-model {reward_model}",
            trust_remote_code=trust_remote_code,
            trust_flag="--trust-remote-code",
        )
    policy, tokenizer = policy_and_tokenizer or load_policy(model, trust_remote_code=trust_remote_code)
    if reward_model is not None:
        reward = RewardModel(
            reward_model, batch_size=max(batch_size, num_samples), trust_remote_code=trust_remote_code
        )

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    say(
        f"synth: {len(todo)} prompts to do ({summary.already_done} already done), {num_samples} samples each, "
        f"batches of {batch_size} prompts"
    )
    for first in range(0, len(todo), batch_size):
        batch = todo[first : first + batch_size]
        replies, cut = sample_replies(
            policy,
            tokenizer,
            batch,
            num_samples=num_samples,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=_batch_seed(seed, batch[0]),
        )
        summary.sampled += len(batch) * num_samples
        summary.cut_replies += sum(cut)
        flat_prompts = [p for p in batch for _ in range(num_samples)]
        try:
            # a judge that takes `truncated` learns which replies stopped at --max-new-tokens
            flat_scores = reward(flat_prompts, [r for group in replies for r in group], cut)
        except UserError as err:
            raise UserError(
                f"{err} (the {summary.written} pairs already written to {output} are kept; the same command "
                f"continues after the fix)"
            ) from err
        rows, dropped = [], []
        for i, prompt in enumerate(batch):
            scores = [float(s) for s in flat_scores[i * num_samples : (i + 1) * num_samples]]
            pick = best_and_worst(replies[i], scores)
            if pick is None:
                summary.dropped_no_pair += 1
                dropped.append({"prompt": prompt.messages, "reason": "no_two_different_replies", "scores": scores})
                continue
            best, worst = pick
            # equal scores are no preference: a tie is never a pair, whatever --min-gap says
            if scores[best] - scores[worst] < min_gap or scores[best] == scores[worst]:
                summary.dropped_small_gap += 1
                dropped.append(
                    {
                        "prompt": prompt.messages,
                        "reason": "small_gap",
                        "gap": scores[best] - scores[worst],
                        "scores": scores,
                    }
                )
                continue
            rows.append(make_row(prompt, replies[i][best], replies[i][worst], scores[best], scores[worst], scores))
        _append(output, rows)
        _append(dropped_path(output), dropped)
        summary.written += len(rows)
        finished = first + len(batch)
        elapsed = time.monotonic() - start
        say(
            f"synth: {finished}/{len(todo)} prompts  written {summary.written}  dropped "
            f"{summary.dropped_small_gap + summary.dropped_no_pair}  {elapsed / finished:.2f} s/prompt  "
            f"eta {elapsed / finished * (len(todo) - finished):.0f} s"
        )
    summary.seconds = time.monotonic() - start
    return summary


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        handle.flush()
