"""The judges that load a model, and `make_judge`, which picks one from the command's options.

* `RewardModel`: a Hugging Face sequence-classification reward model (one logit per sequence), from a model
  folder, a Hub id, or a PEFT adapter folder over one (e.g. a reward-model run folder: adapter_config.json names
  the base model, the adapter carries the LoRA weights and the trained score head). The prompt and reply are
  rendered with the reward model's own chat template when its tokenizer has one, else fed as a plain
  (prompt, reply) text pair, the way reward models without a template (e.g. DeBERTa ones) were trained;
* callable judges, prompts files: trlrecipes/tasks/judges.py (no model).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.tasks.judges import CallableReward, Prompt, load_callable


class RewardModel:
    """A sequence-classification model with one output: the logit is the score."""

    def __init__(self, path: str, *, batch_size: int = 8, trust_remote_code: bool = False, device: str | None = None):
        from trlrecipes.hardware import pick_precision
        from trlrecipes.models import resolve_model
        from trlrecipes.tools.loading import load_model, ready

        local = resolve_model(path)
        if (Path(local) / "adapter_config.json").is_file():  # a reward-model run folder
            try:
                model, tokenizer = _load_adapter_reward_model(
                    Path(local), pick_precision("auto").torch_dtype, trust_remote_code
                )
            except OSError as err:
                raise UserError(
                    f"--reward-model {path!r}: could not be loaded ({str(err).splitlines()[0]}); pass a local "
                    f"folder or check your network"
                ) from err
            model, tokenizer = ready(model, tokenizer, device=device)
        else:  # a full sequence-classification checkpoint: the tools' one loader
            model, tokenizer = load_model(
                path, kind="reward", trust_remote_code=trust_remote_code, device=device, what="--reward-model"
            )
        self.model, self.tokenizer = model, tokenizer
        if self.model.config.num_labels != 1:
            raise UserError(
                f"--reward-model {path!r} has {self.model.config.num_labels} outputs; a reward model has "
                f"exactly one (num_labels=1)"
            )
        self.device = next(self.model.parameters()).device
        self.batch_size = batch_size
        self.name = path
        self.use_template = bool(getattr(self.tokenizer, "chat_template", None))
        limit = getattr(self.model.config, "max_position_embeddings", None) or self.tokenizer.model_max_length
        self.max_length = min(int(limit), int(self.tokenizer.model_max_length or limit), 1 << 16)

    def encode(self, prompts: list[Prompt], responses: list[str]) -> dict:
        """prompt + response as the reward model expects it: its chat template, else a (prompt, reply) text pair."""
        if self.use_template:
            texts = [
                self.tokenizer.apply_chat_template(p.messages + [{"role": "assistant", "content": r}], tokenize=False)
                for p, r in zip(prompts, responses, strict=True)
            ]
            return self.tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,
                return_tensors="pt",
            )
        firsts = ["\n\n".join(m["content"] for m in p.messages) for p in prompts]
        return self.tokenizer(
            firsts, responses, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )

    def __call__(
        self, prompts: list[Prompt], responses: list[str], truncated: list[bool] | None = None
    ) -> list[float]:
        """Scores of the replies as text (a reward model reads what is there; `truncated` is not its concern)."""
        import torch

        scores = []
        for start in range(0, len(responses), self.batch_size):
            batch = self.encode(prompts[start : start + self.batch_size], responses[start : start + self.batch_size])
            with torch.no_grad():
                logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
            scores += logits[:, 0].float().tolist()
        return scores


def _load_adapter_reward_model(folder: Path, dtype, trust_remote_code: bool):
    """A PEFT adapter folder over a sequence-classification model: the base named in adapter_config.json, loaded
    with one output, then the adapter (LoRA weights and, as `modules_to_save`, the trained score head)."""
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trlrecipes.models import resolve_model

    config = PeftConfig.from_pretrained(str(folder))
    if "CAUSAL_LM" in str(getattr(config, "task_type", "") or ""):
        raise UserError(
            f"--reward-model {folder}: this adapter is a language model's (task CAUSAL_LM), not a reward "
            f"model's (SEQ_CLS); pass a reward-model folder"
        )
    base_path = resolve_model(config.base_model_name_or_path)
    base, info = AutoModelForSequenceClassification.from_pretrained(
        base_path, num_labels=1, dtype=dtype, trust_remote_code=trust_remote_code, output_loading_info=True
    )
    head = ("score", "classifier")
    if any(key.split(".")[0] in head for key in info.get("missing_keys", ())) and not _adapter_has_head(folder, head):
        raise UserError(
            f"--reward-model {folder}: not a reward model: its base {config.base_model_name_or_path} has "
            f"no trained score head and the adapter carries none (a policy run folder is judged, not a "
            f"judge); pass a reward-model folder"
        )
    has_tokenizer = any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    tokenizer = AutoTokenizer.from_pretrained(
        str(folder) if has_tokenizer else base_path, trust_remote_code=trust_remote_code
    )
    return PeftModel.from_pretrained(base, str(folder)), tokenizer


def _adapter_has_head(folder: Path, head: tuple[str, ...]) -> bool:
    """Whether the saved adapter weights include a score head (PEFT saves it for SEQ_CLS, as modules_to_save)."""
    weights = folder / "adapter_model.safetensors"
    if weights.is_file():
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as handle:
            return any(part in head for key in handle.keys() for part in key.split("."))
    return (folder / "adapter_model.bin").is_file()  # a legacy pickle: trust it rather than unpickle twice


def make_judge(
    *,
    reward_spec: str | None = None,
    reward_model: str | None = None,
    reward: Callable | None = None,
    batch_size: int = 8,
    trust_remote_code: bool = False,
):
    """Exactly one of: `--reward module:function`, `--reward-model DIR|HUB_ID`, or a Python callable."""
    if sum(x is not None for x in (reward, reward_model, reward_spec)) != 1:
        raise UserError("pass exactly one judge: --reward-model PATH or --reward module:function")
    if reward_spec is not None:
        return CallableReward(load_callable(reward_spec), reward_spec)
    if reward_model is not None:
        from trlrecipes.models import check_model

        if not (Path(reward_model).expanduser() / "adapter_config.json").is_file():
            # a full checkpoint or a Hub id: the one model check (an RM run folder is checked as its base loads)
            check_model(reward_model, subject=f"--reward-model {reward_model}", trust_remote_code=trust_remote_code)
        return RewardModel(reward_model, batch_size=batch_size, trust_remote_code=trust_remote_code)
    return reward if isinstance(reward, (CallableReward, RewardModel)) else CallableReward(reward)
