"""Prompts and callable judges: what `synth` (best-of-N pairs), `eval --generate` (trained vs reference) and the
online trainers (GRPO/RLOO reward functions) share. Pure Python: a judge here loads no model (tools/eval/judges.py
adds the reward-model judge).

A judge is called with a batch of prompts and one reply each and returns one float per reply. `CallableReward`
wraps a Python function `module:function` with signature `fn(prompt: str, response: str) -> float` (the module may
live in the current directory, or be given as a file path `path/to/file.py:function`). `prompt` is the prompt text:
the line of a text file, the `prompt` string of a JSONL row, or, for a message-list prompt, the content of its last
user message. The prompt row's other fields reach the function as keyword arguments when it takes them by name or
has `**kwargs` (`fn(prompt, response, constraints=None)` gets a row's `constraints`), as TRL hands dataset columns
to GRPO reward functions, and so does `truncated` (the reply stopped at the token cap) where it is known. A function
that returns something other than a finite real number (a string such as "0.5", None, inf, nan, 10**400) is an
error naming the value, never a silent conversion.
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

    def fields_for(self, prompt: Prompt, truncated: bool | None = None) -> dict:
        """The prompt row's fields this function takes by name (all of them with **kwargs), and `truncated` (the
        reply stopped at the token cap) when it takes that."""
        fields = dict(prompt.fields)
        if truncated is not None:
            fields["truncated"] = truncated
        if self.takes_all_fields:
            return fields
        return {key: value for key, value in fields.items() if key in self.named_fields}

    def __call__(
        self, prompts: list[Prompt], responses: list[str], truncated: list[bool] | None = None
    ) -> list[float]:
        scores = []
        cuts = truncated if truncated is not None else [None] * len(responses)
        for prompt, response, cut in zip(prompts, responses, cuts, strict=True):
            try:
                value = self.fn(prompt.text, response, **self.fields_for(prompt, cut))
            except Exception as err:  # the user's code: say where
                raise UserError(
                    f"reward {self.name} raised {type(err).__name__}: {err} on prompt "
                    f"{prompt.text[:60]!r}; fix the function and rerun the same command"
                ) from err
            scores.append(checked_score(value, self.name, prompt.text))
        return scores

    def breakdown(self, prompts: list[Prompt], responses: list[str], truncated: list[bool] | None = None):
        """Per reply, {category: met} from the function's own `breakdown(prompt, response, **fields)` when it has
        one (the instruction task's per-constraint-kind results), else None."""
        explain = getattr(self.fn, "breakdown", None)
        if not callable(explain):
            return None
        cuts = truncated if truncated is not None else [None] * len(responses)
        return [
            explain(prompt.text, response, **self.fields_for(prompt, cut))
            for prompt, response, cut in zip(prompts, responses, cuts, strict=True)
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
