"""Verifiable instruction following: everyday questions with format constraints that a program checks exactly.

    python -m trlrecipes.tasks.build_instructions     # rewrite instructions-train.jsonl / instructions-test.jsonl
    trlrecipes synth trlrecipes/tasks/instructions-train.jsonl --output pairs.jsonl --model smollm2-135m-offline \\
        --reward trlrecipes.tasks.instructions:reward --min-gap 0.3
    trlrecipes eval RUN --generate --prompts trlrecipes/tasks/instructions-test.jsonl \\
        --reward trlrecipes.tasks.instructions:verify

Written for trlrecipes in the manner of IFEval (Zhou et al. 2023): the kinds, wordings, questions and checkers are
this project's own.

Prompt rows (jsonl, one object a line)::

    {"prompt": "How do I keep fresh basil from wilting? Use no more than 20 words. Do not use any commas.",
     "constraints": [{"kind": "max_words", "n": 20}, {"kind": "no_commas"}],
     "question": "How do I keep fresh basil from wilting?", "id": "train-0001"}

`constraints` is the machine-readable truth (a list of objects, or that list as a JSON string); `prompt` is one
natural wording of it, and any wording works: the judges read `constraints`, never the prompt's words. `question`
and `id` are informative. Write your own prompt files in this schema; a constraint object holds `kind` and exactly
the parameters below (integers >= 1, non-empty strings):

    kind             parameters          holds when the reply ...
    max_words        n                   has at most n words
    min_words        n                   has at least n words
    sentences        n                   has exactly n sentences
    paragraphs       n                   has exactly n paragraphs
    bullets          n                   has exactly n bullet lines
    numbered         n                   has exactly n numbered-list lines
    bold             n                   has at least n **bold** spans
    starts_with      phrase              begins with phrase (exact characters)
    ends_with        phrase              ends with phrase (exact characters)
    include_keyword  word                contains word as a whole word (any letter case)
    exclude_keyword  word                does not contain word as a whole word (any letter case)
    no_commas        -                   contains no comma
    lowercase        -                   has letters, none of them capital
    uppercase        -                   has letters, none of them small
    title            -                   opens with a title line <<like this>>, then the answer
    json             -                   is one JSON object or array (optionally in one ```json fence)
    postscript       marker="P.S."       ends with a paragraph holding a line or sentence that starts with marker
    quoted           -                   is wrapped in double quotation marks

The exact rules (what a word, a sentence, a bullet line, a paragraph is) are in each `check_<kind>` docstring. Rules
shared by all: the reply is NFC-normalised (a composed and a decomposed "é" are the same text to a reader), line
ends are made "\\n", and leading and trailing whitespace is ignored; an empty or whitespace-only reply fails every
constraint (it answers nothing, and a judge that rewarded it would teach the model to say nothing).

Replies cut at the generation's token cap: the judges see only text, so a reply cut mid-sentence can still pass a
"no commas" or "at most 40 words" check. Callers that know a reply was cut (`decode_replies(...)["cut"]`) should
count it as failing: an unfinished reply has not followed the instruction. `benchmarks/instruction_base_rates.py`
does so.

Judges (the synth/eval signature fn(prompt, response, **row_fields) -> float):
  * `verify`: 1.0 when every constraint holds, else 0.0; its mean over prompts is the task accuracy.
  * `reward`: the share of the constraints met, for best-of-N pairs (a reply meeting two of three beats one
    meeting one).
Both take the row's `constraints` as a keyword; without it they look the prompt up among the shipped prompts. Both
carry `breakdown(prompt, response, **row_fields) -> {kind: met}`, for a per-kind table.

Base rates and the kinds shipped. SmolLM2-135M-Instruct (`smollm2-135m-offline`), 16 training-style prompts per
kind with that kind alone, one greedy reply and 4 sampled at temperature 0.7, at most 96 new tokens, a reply cut at
the cap counted as failing; 837 s on 2 shared CPU cores (figures in benchmarks/instruction_base_rates.json):

    OMP_NUM_THREADS=2 python benchmarks/instruction_base_rates.py

    kind             greedy  sampled  prompts with a met/unmet pair in best-of-4  replies cut
    max_words         5/16    16/64   0.56                                        0.23
    min_words         6/16    16/64   0.62                                        0.31
    sentences         6/16    25/64   0.38                                        0.04
    paragraphs        0/16     0/64   0.00                                        0.75   dropped
    bullets           1/16     3/64   0.19                                        0.26
    numbered          6/16    23/64   0.62                                        0.39
    bold              1/16     7/64   0.38                                        0.40
    starts_with       2/16     5/64   0.25                                        0.47
    ends_with         1/16     3/64   0.19                                        0.41
    include_keyword   1/16    12/64   0.44                                        0.65
    exclude_keyword   4/16     8/64   0.44                                        0.35
    no_commas         3/16     8/64   0.31                                        0.42
    lowercase         0/16     0/64   0.00                                        0.35   dropped
    uppercase         0/16     0/64   0.00                                        0.33   dropped
    title             7/16    19/64   0.62                                        0.36
    json              0/16     4/64   0.19                                        0.74
    postscript        1/16     6/64   0.31                                        0.30
    quoted            0/16     0/64   0.00                                        0.50   dropped

A kind is shipped when best-of-4 sampling gives a met/unmet pair on at least 1/8 of its prompts, since that pair is
what DPO learns from; no kind came near 100 %. bullets and ends_with (3/64, 4.7 %) sit just under a 5 % line but
give pairs as often as json (4/64), so all three are kept. The first, smaller run (8 prompts, 80 new tokens) agreed
within that noise.

Dropped kinds (build_instructions.DROPPED_KINDS; their checkers and tests stay, for prompt files of your own):
  * paragraphs: 0/64. Of the replies that ended within 96 tokens, 19 of 20 were one paragraph; every reply with two
    or more paragraphs ran past the cap. A larger model or a longer cap may make it learnable.
  * lowercase: 0/64. Of 80 replies (greedy and sampled) all but one held capitals (sentence and list-item starts,
    "I"); that one was digits only, which shows no casing and fails.
  * uppercase: 0/64. 3 % of the letters in its 80 replies were capitals; the two replies without a small letter had
    no letter at all (emoji, digits).
  * quoted: 0/64. No reply began with a quotation mark.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from trlrecipes.errors import UserError

HERE = Path(__file__).parent
TRAIN_FILE = HERE / "instructions-train.jsonl"
TEST_FILE = HERE / "instructions-test.jsonl"
# --demo's smaller task (build_instructions.build_demo): one constraint a prompt, six kinds a short reply can meet
DEMO_TRAIN_FILE = HERE / "instructions-demo-train.jsonl"
DEMO_TEST_FILE = HERE / "instructions-demo-test.jsonl"


class InstructionError(UserError, ValueError):
    """A malformed constraint or an unknown prompt: a ValueError for callers, a one-line UserError for the CLI."""


KINDS: dict[str, Callable[..., bool]] = {}

_ALNUM = re.compile(r"[^\W_]")  # a letter or a digit, in any script
# Scripts written without spaces between words (Han, kana): each character counts as one word.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def _checker(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Register `check_<kind>` under <kind>; normalise the reply and fail empty ones before the rule sees them."""

    @functools.wraps(fn)
    def wrapped(reply: str, **params) -> bool:
        if not isinstance(reply, str):
            raise TypeError(f"a reply must be a string, not {type(reply).__name__}")
        text = unicodedata.normalize("NFC", reply).replace("\r\n", "\n").replace("\r", "\n").strip()
        return bool(text) and fn(text, **params)

    KINDS[fn.__name__.removeprefix("check_")] = wrapped
    return wrapped


# --- counting -------------------------------------------------------------------------------------------------


def count_words(text: str) -> int:
    """Words: whitespace-separated tokens that hold a letter or a digit ("don't", "well-known", "3.5", "P.S." are
    one word each; a lone "-", "**" or emoji is none), and every Han or kana character on its own (those scripts
    put no spaces between words, so a 200-character Chinese reply is not one word). Markdown marks are not words."""
    total = 0
    for token in text.split():
        cjk = len(_CJK.findall(token))
        total += cjk + sum(1 for part in _CJK.sub(" ", token).split() if _ALNUM.search(part))
    return total


# Full stops that do not end a sentence: common abbreviations, masked before splitting.
_ABBREVIATIONS = re.compile(r"(?<!\w)(?:e\.g|i\.e|vs|mr|mrs|ms|dr|prof)\.", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]»]*(?=\s|$)|[。！？]+[」』）”]*")


def count_sentences(text: str) -> int:
    """Sentences: text ending in . ! ? or … followed by whitespace or the end (a run such as "?!" or "..." is one
    end; "3.5" and "e.g."/"i.e."/"vs."/"Mr."/"Dr." are not ends), or in 。！？ (no space follows them in Chinese and
    Japanese). A line break also ends one: a heading or a list item without a full stop is a sentence of its own.
    Text after the last end counts as a sentence when it holds a letter or digit; pieces without one do not count.
    Other abbreviations and initials ("J. R. R.") do split: the rule is simple on purpose."""
    total = 0
    for line in text.split("\n"):
        masked = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\x00"), line)
        total += sum(1 for piece in _SENTENCE_END.split(masked) if _ALNUM.search(piece))
    return total


def paragraphs_of(text: str) -> list[str]:
    """Paragraphs: blocks of lines separated by one or more blank (empty or whitespace-only) lines. A block with no
    letter or digit (a "---" or "***" rule) separates paragraphs rather than being one."""
    return [block for block in re.split(r"\n[ \t]*\n\s*", text) if _ALNUM.search(block)]


_BULLET = re.compile(r"^[ \t]*[-*+•‣◦▪][ \t]+\S", re.MULTILINE)
_NUMBERED = re.compile(r"^[ \t]*\d{1,3}[.)][ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_COMMAS = ",\u060c\u3001\ufe50\ufe51\uff0c\uff64"  # , and the Arabic, ideographic, small and full-width commas


def phrase_pattern(word: str) -> re.Pattern:
    """`word` as a whole word (or words: any whitespace between them), in any letter case."""
    parts = [re.escape(unicodedata.normalize("NFC", part)) for part in word.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


# --- the checkers ---------------------------------------------------------------------------------------------


@_checker
def check_max_words(reply: str, n: int) -> bool:
    """At most n words (see `count_words`). The strict reading of "fewer than 20 words" is n=19: a prompt file
    states the bound its wording means."""
    return count_words(reply) <= n


@_checker
def check_min_words(reply: str, n: int) -> bool:
    """At least n words (see `count_words`). A reply cut at the token cap can pass this one while unfinished: the
    caller should count cut replies as failing (see the module docstring)."""
    return count_words(reply) >= n


@_checker
def check_sentences(reply: str, n: int) -> bool:
    """Exactly n sentences (see `count_sentences`): "one sentence" with a heading line above it is two."""
    return count_sentences(reply) == n


@_checker
def check_paragraphs(reply: str, n: int) -> bool:
    """Exactly n paragraphs (see `paragraphs_of`): a single line break does not start a paragraph, a blank line
    does, as in markdown."""
    return len(paragraphs_of(reply)) == n


@_checker
def check_bullets(reply: str, n: int) -> bool:
    """Exactly n bullet lines: a line whose first non-blank character is one of - * + • ‣ ◦ ▪, then a space, then
    text. Indented (nested) bullets count too, since a reader counts every bullet mark; "**bold**", "-5 °C" and
    "---" are not bullets (no space after the mark), nor are numbered items ("1. ..."). Other lines (an
    introduction, a closing line) are allowed."""
    return len(_BULLET.findall(reply)) == n


@_checker
def check_numbered(reply: str, n: int) -> bool:
    """Exactly n numbered-list lines: a line whose first non-blank characters are a number of 1-3 digits, then "."
    or ")", a space and text ("1. Rinse", "2) Dry"). The numbers themselves are not checked (markdown renders
    "1. 1. 1." as 1, 2, 3); "1.5 cups" is no item (no space after the "."). Other lines are allowed."""
    return len(_NUMBERED.findall(reply)) == n


@_checker
def check_bold(reply: str, n: int) -> bool:
    """At least n markdown bold spans, **text** or __text__, with text that holds a letter or digit and does not
    start or end with a space. Single *italics* do not count."""
    return sum(1 for m in _BOLD.finditer(reply) if _ALNUM.search(m.group(1) or m.group(2))) >= n


@_checker
def check_starts_with(reply: str, phrase: str) -> bool:
    """The reply (leading whitespace ignored) begins with `phrase` character for character: letter case,
    punctuation and markdown count ("**Sure!**" does not begin with "Sure!", nor "sure!" or "Sure," ...)."""
    return reply.startswith(unicodedata.normalize("NFC", phrase).strip())


@_checker
def check_ends_with(reply: str, phrase: str) -> bool:
    """The reply (trailing whitespace ignored) ends with `phrase` character for character; anything after it (a
    closing quote, an emoji, a signature) fails."""
    return reply.endswith(unicodedata.normalize("NFC", phrase).strip())


@_checker
def check_include_keyword(reply: str, word: str) -> bool:
    """`word` occurs as a whole word, in any letter case: "Water" and "water's" have "water", "watering" and
    "waters" do not (a different word form is a near miss). A keyword of several words matches with any
    whitespace between them."""
    return phrase_pattern(word).search(reply) is not None


@_checker
def check_exclude_keyword(reply: str, word: str) -> bool:
    """`word` does not occur as a whole word, in any letter case (the mirror of include_keyword: "dog-friendly"
    uses "dog", "dogs" does not)."""
    return phrase_pattern(word).search(reply) is None


@_checker
def check_no_commas(reply: str) -> bool:
    """No comma of any script: "," and the Arabic "،", ideographic "、", small "﹐ ﹑" and full-width "， ､" ones
    (swapping in a look-alike is not following the instruction)."""
    return not any(c in _COMMAS for c in reply)


@_checker
def check_lowercase(reply: str) -> bool:
    """At least one letter with a letter case, and no capital (or title-case) letter in any script: "I", "É",
    "Ω" all fail. Digits, punctuation, emoji and uncased scripts (CJK) are neutral; a reply of those alone fails,
    since it shows nothing of the casing asked for."""
    return any(c.islower() for c in reply) and not any(c.isupper() or c.istitle() for c in reply)


@_checker
def check_uppercase(reply: str) -> bool:
    """At least one capital letter, and no small letter in any script ("ß" is small and fails; "SS" passes)."""
    return any(c.isupper() for c in reply) and not any(c.islower() for c in reply)


_TITLE = re.compile(r"<<[^<>\n]*[^\W_][^<>\n]*>>")


@_checker
def check_title(reply: str) -> bool:
    """The first line is a title and nothing else: "<<" + text with a letter or digit and no "<", ">" + ">>"
    (surrounding spaces on that line are ignored; "# <<Title>>" or "**<<Title>>**" fail). Then the answer: at
    least one more line with a letter or digit, since a bare title answers nothing."""
    first, _, rest = reply.partition("\n")
    return _TITLE.fullmatch(first.strip()) is not None and _ALNUM.search(rest) is not None


_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*)\n[ \t]*```", re.DOTALL | re.IGNORECASE)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


@_checker
def check_json(reply: str) -> bool:
    """The whole reply is one JSON object or array (strict JSON: no NaN/Infinity, no trailing commas, no
    comments). One markdown fence around all of it (```json ... ``` or ``` ... ```) is allowed, as chat models
    fence code by habit and the fence is not part of the data; any text outside the fence fails. A bare string or
    number is valid JSON but not an answer formatted as JSON, so it fails."""
    fenced = _FENCE.fullmatch(reply)
    body = fenced.group(1) if fenced else reply
    if fenced and "```" in body:
        return False
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except ValueError:
        return False
    return isinstance(value, (dict, list))


_AFTER_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*\s+$")


@_checker
def check_postscript(reply: str, marker: str = "P.S.") -> bool:
    """A postscript closes the reply: in its last paragraph, `marker` starts a line or a sentence (after . ! ? and
    a space), exactly as written ("P.S" without its last dot, "PS:", "p.s." or "*P.S.*" fail for "P.S."); text with
    a letter or digit follows it, and the answer comes before it (a reply that is only a postscript has no letter
    to add it to)."""
    marker = unicodedata.normalize("NFC", marker).strip()
    blocks = paragraphs_of(reply)
    if not blocks:
        return False
    last = blocks[-1]
    for found in re.finditer(re.escape(marker), last):
        head = last[: found.start()]
        starts = head.rsplit("\n", 1)[-1].strip() == "" or _AFTER_SENTENCE.search(head) is not None
        body = any(_ALNUM.search(block) for block in blocks[:-1]) or _ALNUM.search(head)
        if starts and body and _ALNUM.search(last[found.end() :]):
            return True
    return False


_QUOTES = (('"', '"'), ("“", "”"))


@_checker
def check_quoted(reply: str) -> bool:
    """The whole reply is wrapped in double quotation marks, straight "..." or curly “...”, with a letter or digit
    inside; single quotes, «guillemets» or a trailing full stop after the closing mark fail."""
    return any(
        len(reply) >= 2 and reply.startswith(a) and reply.endswith(b) and _ALNUM.search(reply[1:-1])
        for a, b in _QUOTES
    )


# --- constraints ----------------------------------------------------------------------------------------------


@functools.cache
def parameters(kind: str) -> dict[str, tuple[type, object]]:
    """{parameter: (type, default or inspect.Parameter.empty)} of a kind's checker."""
    signature = inspect.signature(KINDS[kind])
    types = {"int": int, "str": str}
    return {name: (types[str(p.annotation)], p.default) for name, p in list(signature.parameters.items())[1:]}


def _known() -> str:
    return ", ".join(KINDS)


def validate(constraint: object) -> tuple[str, dict]:
    """(kind, parameters) of a constraint object; InstructionError naming what is wrong otherwise."""
    if not isinstance(constraint, dict):
        raise InstructionError(
            f'a constraint must be an object like {{"kind": "max_words", "n": 20}}, not {constraint!r}'
        )
    kind = constraint.get("kind")
    if kind not in KINDS:
        raise InstructionError(f"unknown constraint kind {kind!r}; known kinds: {_known()}")
    spec = parameters(kind)
    params = {k: v for k, v in constraint.items() if k != "kind"}
    extra = sorted(set(params) - set(spec))
    if extra:
        raise InstructionError(f"constraint {kind!r} has no parameter {extra[0]!r}; it takes {sorted(spec) or 'none'}")
    for name, (kind_type, default) in spec.items():
        if name not in params:
            if default is inspect.Parameter.empty:
                raise InstructionError(f"constraint {kind!r} needs the parameter {name!r} ({kind_type.__name__})")
            continue
        value = params[name]
        if kind_type is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InstructionError(f"constraint {kind!r}: {name} must be an integer >= 1, not {value!r}")
        if kind_type is str and (not isinstance(value, str) or not _ALNUM.search(value)):
            raise InstructionError(
                f"constraint {kind!r}: {name} must be a string with a letter or digit, not {value!r}"
            )
    return kind, params


def check(constraint: dict, reply: str) -> bool:
    """Whether `reply` meets one constraint object; InstructionError (a ValueError) for an unknown kind or bad
    parameters."""
    kind, params = validate(constraint)
    return KINDS[kind](reply, **params)


def parse_constraints(constraints: object) -> list[dict]:
    """A row's constraints, given as a list of objects or as that list's JSON string, each one validated."""
    if isinstance(constraints, str):
        try:
            constraints = json.loads(constraints)
        except ValueError as err:
            raise InstructionError(f"constraints is a string but not JSON ({err}): {constraints[:80]!r}") from None
    if not isinstance(constraints, list) or not constraints:
        raise InstructionError(f"constraints must be a non-empty list of constraint objects, not {constraints!r:.80}")
    for constraint in constraints:
        validate(constraint)
    return constraints


@functools.cache
def shipped_constraints() -> dict[str, list[dict]]:
    """prompt text -> constraints for every prompt of the shipped files (both splits)."""
    table = {}
    for path in (TRAIN_FILE, TEST_FILE, DEMO_TRAIN_FILE, DEMO_TEST_FILE):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                table[row["prompt"].strip()] = row["constraints"]
    return table


def constraints_for(prompt: str, constraints: object = None) -> list[dict]:
    if constraints is None:
        found = shipped_constraints().get(prompt.strip()) if isinstance(prompt, str) else None
        if found is None:
            raise InstructionError(
                f"no constraints known for this prompt ({str(prompt)[:60]!r} is not one of the shipped "
                f"instruction prompts); give a .jsonl prompts file whose rows carry a 'constraints' list"
            )
        return found
    return parse_constraints(constraints)


def kind_results(constraints: object, response: str) -> dict[str, bool]:
    """{kind: met} for one reply; a kind listed twice in one row is met when both of its constraints are."""
    out: dict[str, bool] = {}
    for constraint in parse_constraints(constraints):
        out[constraint["kind"]] = out.get(constraint["kind"], True) and check(constraint, response)
    return out


def per_kind(constraint_lists: Iterable[object], responses: Iterable[str]) -> dict[str, dict]:
    """Per-kind breakdown over many rows: {kind: {"met": int, "total": int, "rate": float}}, kinds sorted."""
    met: dict[str, int] = {}
    total: dict[str, int] = {}
    for constraints, response in zip(constraint_lists, responses, strict=True):
        for kind, ok in kind_results(constraints, response).items():
            met[kind] = met.get(kind, 0) + ok
            total[kind] = total.get(kind, 0) + 1
    return {k: {"met": met[k], "total": total[k], "rate": round(met[k] / total[k], 4)} for k in sorted(total)}


def verify(prompt: str, response: str, constraints: object = None, truncated: bool = False, **row_fields) -> float:
    """1.0 when the reply meets every constraint of the prompt, else 0.0. `constraints`: the row's list (or its
    JSON string); without it, the shipped prompt's. `truncated`: the reply stopped at the generation's token cap
    before its end (trlrecipes passes it): an unfinished reply has not followed the instruction, so it scores 0.
    Other row fields are accepted and unused."""
    found = constraints_for(prompt, constraints)
    return 1.0 if not truncated and all(check(c, response) for c in found) else 0.0


def reward(prompt: str, response: str, constraints: object = None, truncated: bool = False, **row_fields) -> float:
    """The share of the prompt's constraints the reply meets (0.0-1.0), for best-of-N pairs; 0 for a reply cut at
    the token cap (a finished reply that meets one constraint beats an unfinished one that seems to meet two)."""
    found = constraints_for(prompt, constraints)
    return 0.0 if truncated else round(sum(check(c, response) for c in found) / len(found), 4)


def breakdown(prompt: str, response: str, constraints: object = None, truncated: bool = False, **row_fields):
    """{kind: met} for one reply, as `kind_results` (every kind unmet when the reply was cut at the token cap): the
    per-kind table `eval --generate` prints, read from the judges' `breakdown` attribute."""
    results = kind_results(constraints_for(prompt, constraints), response)
    return {kind: False for kind in results} if truncated else results


verify.breakdown = breakdown
reward.breakdown = breakdown
