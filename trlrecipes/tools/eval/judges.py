"""Judges shared by `synth` (best-of-N) and `eval --generate` (trained vs reference): prompts and reward functions.

A judge is called with a batch of prompts and one reply each and returns one float per reply:
  * `RewardModel`: a Hugging Face sequence-classification reward model (one logit per sequence), from a model
    folder, a Hub id, or a PEFT adapter folder over one (e.g. a reward-model run folder: adapter_config.json names
    the base model, the adapter carries the LoRA weights and the trained score head). The prompt and reply are
    rendered with the reward model's own chat template when its tokenizer has one, else fed as a plain
    (prompt, reply) text pair, the way reward models without a template (e.g. DeBERTa ones) were trained;
  * `CallableReward`: a Python callable `module:function` with signature `fn(prompt: str, response: str) -> float`
    (the module may live in the current directory, or be given as a file path `path/to/file.py:function`).
    `prompt` is the prompt text: the line of a text file, the `prompt` string of a JSONL row, or, for a
    message-list prompt, the content of its last user message. The prompt row's other fields reach the function as
    keyword arguments when it takes them by name or has `**kwargs` (`fn(prompt, response, constraints=None)` gets a
    row's `constraints`; `fn(prompt, response, **fields)` gets them all), as TRL hands dataset columns to GRPO
    reward functions. A function that returns something other than a finite real number (a string such as
    "0.5", None, inf, nan, 10**400) is an error naming the value, never a silent conversion.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trlrecipes.errors import UserError


@dataclass
class Prompt:
    messages: list[dict]  # the conversation to reply to, ending with a user message
    text: str  # what a callable reward sees (the prompt line / string, or the last user message)
    fields: dict = field(default_factory=dict)  # the prompt row's other fields (e.g. constraints), for the judge

    @property
    def key(self) -> str:
        return json.dumps(self.messages, sort_keys=True, ensure_ascii=False)


# --- prompts ----------------------------------------------------------------------------------------------------


def _prompt_from_value(value, where: str) -> Prompt:
    from trlrecipes.data.common import ROLES

    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise UserError(f"{where}: the prompt is empty")
        return Prompt([{"role": "user", "content": text}], text)
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        turns = []
        for m in value:
            role, content = m.get("role"), m.get("content")
            if role not in ROLES or not isinstance(content, str):
                raise UserError(f"{where}: a prompt message must be {{role: system|user|assistant, content: text}}")
            turns.append({"role": role, "content": content.strip()})
        if turns[-1]["role"] != "user":
            raise UserError(f"{where}: a message-list prompt must end with a user message")
        return Prompt(turns, turns[-1]["content"])
    raise UserError(f"{where}: the prompt field must be a string or a list of {{role, content}} messages")


def read_prompts(path: str | Path) -> list[Prompt]:
    """Prompts from a text file (one per line; blank lines ignored) or a .jsonl file with a `prompt` field."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: prompts file not found")
    prompts = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text ({err})") from err
    if path.name.lower().endswith((".jsonl", ".json")):
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{lineno}: not valid JSON ({err.msg}); expected one object per line") from err
            if not isinstance(row, dict) or "prompt" not in row:
                raise UserError(f"{path}:{lineno}: expected a JSON object with a 'prompt' field")
            prompt = _prompt_from_value(row["prompt"], f"{path}:{lineno}")
            prompt.fields = {key: value for key, value in row.items() if key != "prompt"}
            prompts.append(prompt)
    else:
        prompts = [_prompt_from_value(line, f"{path}:{n}") for n, line in enumerate(lines, start=1) if line.strip()]
    if not prompts:
        raise UserError(f"{path}: no prompts in the file")
    return prompts


# --- reward functions --------------------------------------------------------------------------------------------


def load_callable(spec: str) -> Callable[[str, str], float]:
    """`module:function` (importable, also from the current directory) or `path/to/file.py:function`."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise UserError(f"--reward {spec!r}: use module:function, e.g. my_rewards:score")
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser()
        if not path.is_file():
            raise UserError(f"--reward {spec!r}: {path} not found")
        loader_spec = importlib.util.spec_from_file_location(f"_trlrecipes_reward_{path.stem}", path)
        module = importlib.util.module_from_spec(loader_spec)
        try:
            loader_spec.loader.exec_module(module)
        except Exception as err:
            message = f"--reward {spec!r}: importing {path} failed ({type(err).__name__}: {err})"
            raise UserError(message.splitlines()[0]) from err
    else:
        cwd = str(Path.cwd())
        added = cwd not in sys.path
        if added:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and module_name.startswith(err.name):
                raise UserError(
                    f"--reward {spec!r}: no module {module_name!r} (looked in the current directory and "
                    f"on the Python path)"
                ) from err
            raise UserError(f"--reward {spec!r}: importing {module_name} failed ({err})") from err
        except Exception as err:
            raise UserError(
                f"--reward {spec!r}: importing {module_name} failed ({type(err).__name__}: {err})".splitlines()[0]
            ) from err
        finally:
            if added:
                sys.path.remove(cwd)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UserError(f"--reward {spec!r}: {module_name} has no function {attr!r}")
    return fn


class CallableReward:
    def __init__(self, fn: Callable[..., float], name: str = ""):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "reward")
        self.takes_all_fields, self.named_fields = False, set()
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have none to read; they are called as they are
            return
        try:
            signature.bind("prompt", "response")
        except TypeError as err:  # checked before any model is loaded
            raise UserError(
                f"reward {self.name} takes {signature}, but it is called as fn(prompt, response) -> "
                f"float ({err}); give it those two parameters"
            ) from err
        parameters = list(signature.parameters.values())
        self.takes_all_fields = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        self.named_fields = {
            p.name
            for p in parameters[2:]
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }

    def fields_for(self, prompt: Prompt) -> dict:
        """The prompt row's fields this function takes by name (all of them with **kwargs)."""
        if self.takes_all_fields:
            return dict(prompt.fields)
        return {key: value for key, value in prompt.fields.items() if key in self.named_fields}

    def __call__(self, prompts: list[Prompt], responses: list[str]) -> list[float]:
        scores = []
        for prompt, response in zip(prompts, responses, strict=True):
            try:
                value = self.fn(prompt.text, response, **self.fields_for(prompt))
            except Exception as err:  # the user's code: say where
                raise UserError(
                    f"reward {self.name} raised {type(err).__name__}: {err} on prompt "
                    f"{prompt.text[:60]!r}; fix the function and rerun the same command"
                ) from err
            scores.append(checked_score(value, self.name, prompt.text))
        return scores

    def breakdown(self, prompts: list[Prompt], responses: list[str]) -> list[dict] | None:
        """Per reply, {category: met} from the function's own `breakdown(prompt, response, **fields)` when it has
        one (the instruction task's per-constraint-kind results), else None."""
        explain = getattr(self.fn, "breakdown", None)
        if not callable(explain):
            return None
        return [
            explain(prompt.text, response, **self.fields_for(prompt))
            for prompt, response in zip(prompts, responses, strict=True)
        ]


def checked_score(value, name: str, prompt: str) -> float:
    """A judge's score as a float, if it is a finite real number (a bool counts as 0/1); else one line naming it."""
    import numbers

    where = f"for prompt {prompt[:60]!r}"
    if not isinstance(value, numbers.Real):
        raise UserError(
            f"reward {name} returned {value!r} (a {type(value).__name__}), not a number, {where}; make it return "
            f"a float"
        )
    try:
        score = float(value)
    except OverflowError:
        score = math.inf
    if not math.isfinite(score):
        raise UserError(f"reward {name} returned {value!r} {where}; it must be a finite number")
    return score


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

    def __call__(self, prompts: list[Prompt], responses: list[str]) -> list[float]:
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
        return RewardModel(reward_model, batch_size=batch_size, trust_remote_code=trust_remote_code)
    return reward if isinstance(reward, (CallableReward, RewardModel)) else CallableReward(reward)
