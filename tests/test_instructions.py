"""The verifiable instruction task (trlrecipes.tasks.instructions): every checker on hand-written replies that meet
and narrowly miss its rule, the constraint schema's errors, the judges, and the shipped prompt files."""

import itertools
import json
import re
from pathlib import Path

import pytest

from trlrecipes.errors import UserError
from trlrecipes.tasks import build_instructions as builder
from trlrecipes.tasks import instruction_content as content
from trlrecipes.tasks import instructions as ins
from trlrecipes.tasks.instructions import check

# (constraint, reply, expected); every kind has replies that pass and near misses that fail.
CASES = [
    # max_words: whitespace tokens with a letter or digit; Han/kana characters one word each
    ({"kind": "max_words", "n": 20}, " ".join(["word"] * 20), True),
    ({"kind": "max_words", "n": 19}, " ".join(["word"] * 20), False),
    ({"kind": "max_words", "n": 3}, "Well-known, don't — stop.", True),  # "—" is no word
    ({"kind": "max_words", "n": 3}, "**Rinse** - the rice 🍚", True),  # "-", "🍚" and markdown marks are no words
    ({"kind": "max_words", "n": 3}, "Café déjà vu naïve", False),
    ({"kind": "max_words", "n": 4}, "我喜欢猫", True),
    ({"kind": "max_words", "n": 3}, "我喜欢猫", False),  # four characters, four words
    ({"kind": "max_words", "n": 3}, "hello世界", True),
    ({"kind": "max_words", "n": 2}, "hello世界", False),
    # min_words
    ({"kind": "min_words", "n": 5}, "one two three four five", True),
    ({"kind": "min_words", "n": 5}, "one two three four -", False),
    ({"kind": "min_words", "n": 2}, "  3.5   cups\n", True),
    # sentences
    ({"kind": "sentences", "n": 1}, "Rinse the rice until the water runs clear.", True),
    ({"kind": "sentences", "n": 1}, "Rinse the rice. Then cook it.", False),
    ({"kind": "sentences", "n": 1}, "Use 1.5 cups of water, e.g. from the tap, and ask Dr. Lee!", True),
    ({"kind": "sentences", "n": 1}, "Really?! Yes", False),  # "?!" ends one, "Yes" is a second
    ({"kind": "sentences", "n": 2}, "Really?! Yes", True),
    ({"kind": "sentences", "n": 1}, "Tips\nRinse the rice.", False),  # a line break ends a sentence
    ({"kind": "sentences", "n": 2}, '"Wait." Then go.', True),  # the closing quote belongs to the first
    ({"kind": "sentences", "n": 2}, "我喜欢猫。我也喜欢狗。", True),
    ({"kind": "sentences", "n": 1}, "Wait... then go.", False),
    ({"kind": "sentences", "n": 1}, "Done. 🙂", True),  # a piece without a letter or digit is no sentence
    # paragraphs
    ({"kind": "paragraphs", "n": 2}, "First part.\n\nSecond part.", True),
    ({"kind": "paragraphs", "n": 2}, "First part.\nSecond part.", False),  # one line break is no paragraph
    ({"kind": "paragraphs", "n": 2}, "First.\n   \n\n\nSecond.\n\n", True),  # blank lines may hold spaces
    ({"kind": "paragraphs", "n": 2}, "First.\n\n---\n\nSecond.", True),  # a rule separates, it is no paragraph
    ({"kind": "paragraphs", "n": 3}, "First.\r\n\r\nSecond.\r\n\r\nThird.", True),
    ({"kind": "paragraphs", "n": 3}, "First.\n\nSecond.", False),
    # bullets
    ({"kind": "bullets", "n": 3}, "Pack:\n- sunscreen\n- a towel\n- water", True),
    ({"kind": "bullets", "n": 3}, "* one\n+ two\n• three\nThanks.", True),
    ({"kind": "bullets", "n": 3}, "- one\n- two", False),
    ({"kind": "bullets", "n": 2}, "- one\n  - nested counts too", True),  # leading spaces: still a bullet
    ({"kind": "bullets", "n": 2}, "1. one\n2. two", False),  # numbered items are not bullets
    ({"kind": "bullets", "n": 1}, "- one\n**Bold** line\n---\n-5 degrees", True),
    ({"kind": "bullets", "n": 1}, "-\n- real", True),  # a mark with no text after it is no bullet
    # numbered
    ({"kind": "numbered", "n": 3}, "Steps:\n1. Rinse\n2. Boil\n3) Rest", True),
    ({"kind": "numbered", "n": 3}, "1. Rinse\n2. Boil", False),
    ({"kind": "numbered", "n": 2}, "1. Rinse\n1.5 cups of water\n2. Boil", True),  # "1.5 cups" is no item
    ({"kind": "numbered", "n": 2}, "- Rinse\n- Boil", False),
    # bold
    ({"kind": "bold", "n": 2}, "Use **cold water** and __a lid__.", True),
    ({"kind": "bold", "n": 2}, "Use **cold water** and *a lid*.", False),  # italics do not count
    ({"kind": "bold", "n": 1}, "Use ** cold ** water", False),  # spaces inside the marks: not bold
    ({"kind": "bold", "n": 1}, "Use **** water", False),
    # starts_with
    ({"kind": "starts_with", "phrase": "Sure!"}, "  Sure! Rinse the rice.", True),
    ({"kind": "starts_with", "phrase": "Sure!"}, "sure! Rinse the rice.", False),
    ({"kind": "starts_with", "phrase": "Sure!"}, "**Sure!** Rinse the rice.", False),
    ({"kind": "starts_with", "phrase": "Sure!"}, '"Sure!" Rinse the rice.', False),
    ({"kind": "starts_with", "phrase": "Café:"}, "Cafe\u0301: open at nine.", True),  # decomposed é is é
    # ends_with
    ({"kind": "ends_with", "phrase": "Hope this helps!"}, "Rinse it. Hope this helps!  \n", True),
    ({"kind": "ends_with", "phrase": "Hope this helps!"}, "Rinse it. Hope this helps.", False),
    ({"kind": "ends_with", "phrase": "Hope this helps!"}, "Rinse it. Hope this helps! 😊", False),
    ({"kind": "ends_with", "phrase": "Hope this helps!"}, '"Rinse it. Hope this helps!"', False),
    # include_keyword / exclude_keyword: whole words, any case
    ({"kind": "include_keyword", "word": "water"}, "Add WATER slowly.", True),
    ({"kind": "include_keyword", "word": "water"}, "The water's edge.", True),
    ({"kind": "include_keyword", "word": "water"}, "Keep watering it.", False),
    ({"kind": "include_keyword", "word": "water"}, "Two waters.", False),
    ({"kind": "include_keyword", "word": "jet lag"}, "Beat jet\nlag early.", True),
    ({"kind": "include_keyword", "word": "café"}, "Meet at the CAFÉ.", True),
    ({"kind": "exclude_keyword", "word": "dog"}, "Dogs love walks.", True),
    ({"kind": "exclude_keyword", "word": "dog"}, "A dog-friendly park.", False),
    ({"kind": "exclude_keyword", "word": "dog"}, "Your DOG needs walks.", False),
    # no_commas
    ({"kind": "no_commas"}, "Rinse the rice then cook it.", True),
    ({"kind": "no_commas"}, "Rinse the rice, then cook it.", False),
    ({"kind": "no_commas"}, "先洗米，再煮。", False),  # a full-width comma is a comma
    ({"kind": "no_commas"}, "苹果、香蕉", False),
    # lowercase / uppercase
    ({"kind": "lowercase"}, "rinse the rice. 2 cups! 🍚", True),
    ({"kind": "lowercase"}, "rinse the rice. I think so.", False),
    ({"kind": "lowercase"}, "café au lait", True),
    ({"kind": "lowercase"}, "cafÉ au lait", False),
    ({"kind": "lowercase"}, "123 🍚!", False),  # no cased letter shows nothing of the casing
    ({"kind": "lowercase"}, "我喜欢猫", False),
    ({"kind": "uppercase"}, "RINSE THE RICE. 2 CUPS!", True),
    ({"kind": "uppercase"}, "RINSE THE RICe.", False),
    ({"kind": "uppercase"}, "STRASSE", True),
    ({"kind": "uppercase"}, "STRAßE", False),
    ({"kind": "uppercase"}, "P.S. ÇA VA", True),
    # title
    ({"kind": "title"}, "<<Fresh Basil>>\nKeep it in water.", True),
    ({"kind": "title"}, "  <<Fresh Basil>>  \n\nKeep it in water.", True),
    ({"kind": "title"}, "<<Fresh Basil>>", False),  # a bare title answers nothing
    ({"kind": "title"}, "# <<Fresh Basil>>\nKeep it in water.", False),
    ({"kind": "title"}, "Keep it in water.\n<<Fresh Basil>>", False),
    ({"kind": "title"}, "<Fresh Basil>\nKeep it in water.", False),
    ({"kind": "title"}, "<< >>\nKeep it in water.", False),
    ({"kind": "title"}, "<<Fresh Basil>> Keep it in water.", False),  # the title line holds the title only
    # json
    ({"kind": "json"}, '{"answer": "Rinse the rice", "steps": 2}', True),
    ({"kind": "json"}, '["rinse", "boil"]', True),
    ({"kind": "json"}, '```json\n{"answer": "Rinse"}\n```', True),  # one fence around all of it is allowed
    ({"kind": "json"}, '```\n{"answer": "Rinse"}\n```', True),
    ({"kind": "json"}, 'Here you go:\n```json\n{"answer": "Rinse"}\n```', False),
    ({"kind": "json"}, '{"answer": "Rinse",}', False),
    ({"kind": "json"}, '{"value": NaN}', False),
    ({"kind": "json"}, '"just a string"', False),
    ({"kind": "json"}, "42", False),
    ({"kind": "json"}, "{'answer': 'Rinse'}", False),
    ({"kind": "json"}, '{"a": 1}\n{"b": 2}', False),
    # postscript
    ({"kind": "postscript"}, "Rinse the rice.\n\nP.S. Use a lid.", True),
    ({"kind": "postscript"}, "Rinse the rice.\nP.S. Use a lid.", True),
    ({"kind": "postscript"}, "Rinse the rice.\n\nP.S Use a lid.", False),
    ({"kind": "postscript"}, "Rinse the rice.\n\nPS: Use a lid.", False),
    ({"kind": "postscript"}, "Rinse the rice.\n\np.s. Use a lid.", False),
    ({"kind": "postscript"}, "Rinse the rice. P.S. Use a lid.", True),  # a sentence may start it
    ({"kind": "postscript"}, "Rinse the rice, P.S. use a lid.", False),
    ({"kind": "postscript"}, "Rinse the riceP.S. Use a lid.", False),
    ({"kind": "postscript"}, "Rinse the rice. *P.S.* Use a lid.", False),
    ({"kind": "postscript"}, "P.S. Use a lid.", False),  # no answer before it
    ({"kind": "postscript"}, "Rinse the rice.\n\nP.S.", False),  # nothing after the marker
    ({"kind": "postscript"}, "Rinse.\n\nP.S. Use a lid.\n\nAnd more.", False),  # not at the end
    ({"kind": "postscript", "marker": "P.P.S."}, "Rinse.\n\nP.P.S. Lid.", True),
    # quoted
    ({"kind": "quoted"}, '"Rinse the rice, then cook it."', True),
    ({"kind": "quoted"}, "“Rinse the rice.”", True),
    ({"kind": "quoted"}, '"Rinse the rice."\n', True),
    ({"kind": "quoted"}, '"Rinse the rice".', False),
    ({"kind": "quoted"}, "'Rinse the rice.'", False),
    ({"kind": "quoted"}, '""', False),
    ({"kind": "quoted"}, '"', False),
    ({"kind": "quoted"}, "«Rinse the rice.»", False),
]


@pytest.mark.parametrize(
    "constraint,reply,expected", CASES, ids=[f"{c['kind']}-{i}" for i, (c, *_) in enumerate(CASES)]
)
def test_checker(constraint, reply, expected):
    assert check(constraint, reply) is expected


def test_every_kind_has_cases_both_ways_and_a_reasoned_docstring():
    for kind in ins.KINDS:
        outcomes = {expected for c, _, expected in CASES if c["kind"] == kind}
        assert outcomes == {True, False}, kind
        assert len(ins.KINDS[kind].__doc__ or "") > 60, kind
    assert len(ins.KINDS) >= 12


def _example(kind):
    return next(c for c, _, expected in CASES if c["kind"] == kind and expected)


@pytest.mark.parametrize("reply", ["", " ", "\n\t  \n", "\u3000"])
def test_empty_and_whitespace_replies_fail_every_kind(reply):
    for kind in ins.KINDS:
        assert check(_example(kind), reply) is False, kind


def test_checkers_are_callable_directly_with_parameters():
    assert ins.check_max_words("one two", n=2) is True
    assert ins.KINDS["exclude_keyword"]("no pets here", word="dog") is True
    with pytest.raises(TypeError, match="string"):
        ins.check_no_commas(None)


@pytest.mark.parametrize(
    "constraint,message",
    [
        ({"kind": "shout"}, r"unknown constraint kind 'shout'; known kinds: max_words, min_words"),
        ({"n": 3}, "unknown constraint kind None"),
        ("max_words", "must be an object"),
        ({"kind": "max_words"}, "needs the parameter 'n'"),
        ({"kind": "max_words", "n": 0}, "integer >= 1"),
        ({"kind": "max_words", "n": "20"}, "integer >= 1"),
        ({"kind": "max_words", "n": True}, "integer >= 1"),
        ({"kind": "max_words", "n": 20.0}, "integer >= 1"),
        ({"kind": "max_words", "n": 20, "words": 3}, "no parameter 'words'"),
        ({"kind": "lowercase", "n": 1}, "no parameter 'n'; it takes none"),
        ({"kind": "starts_with", "phrase": "  "}, "phrase must be a string"),
        ({"kind": "include_keyword", "word": 5}, "word must be a string"),
    ],
)
def test_check_rejects_bad_constraints_naming_the_problem(constraint, message):
    with pytest.raises(ValueError, match=message) as caught:
        check(constraint, "a reply")
    assert isinstance(caught.value, UserError)  # the CLI prints it as one line


def test_verify_and_reward_take_constraints_as_list_or_json_string():
    constraints = [{"kind": "max_words", "n": 5}, {"kind": "lowercase"}, {"kind": "no_commas"}]
    prompt = "Any question at all"
    assert ins.verify(prompt, "short and lower", constraints=constraints) == 1.0
    assert ins.reward(prompt, "short and lower", constraints=constraints) == 1.0
    assert ins.verify(prompt, "Short, and Upper", constraints=constraints) == 0.0
    assert ins.reward(prompt, "Short, and Upper", constraints=constraints) == pytest.approx(0.3333)
    assert ins.reward(prompt, "short, and lower", constraints=json.dumps(constraints)) == pytest.approx(0.6667)
    assert ins.verify(prompt, "short and lower", constraints=constraints, question="q", id="x-1") == 1.0
    with pytest.raises(ValueError, match="not JSON"):
        ins.verify(prompt, "x", constraints="[{kind")
    with pytest.raises(ValueError, match="non-empty list"):
        ins.verify(prompt, "x", constraints=[])
    with pytest.raises(ValueError, match="unknown constraint kind"):
        ins.reward(prompt, "x", constraints=[{"kind": "rhyme"}])


def test_judges_look_shipped_prompts_up_and_refuse_unknown_ones():
    row = json.loads(ins.TEST_FILE.read_text(encoding="utf-8").splitlines()[0])
    replies = ["", "Sure.", "a b c"]
    for reply in replies:
        assert ins.verify(row["prompt"], reply) == ins.verify("x", reply, constraints=row["constraints"])
        assert ins.reward(" " + row["prompt"] + "\n", reply) == ins.reward("x", reply, constraints=row["constraints"])
    with pytest.raises(ValueError, match="no constraints known for this prompt .*'constraints' list"):
        ins.verify("What is the capital of France?", "Paris")


def test_kind_results_and_per_kind():
    constraints = [{"kind": "max_words", "n": 3}, {"kind": "include_keyword", "word": "rice"}]
    assert ins.kind_results(constraints, "rinse the rice") == {"max_words": True, "include_keyword": True}
    assert ins.kind_results(constraints, "rinse the beans") == {"max_words": True, "include_keyword": False}
    twice = [{"kind": "include_keyword", "word": "rice"}, {"kind": "include_keyword", "word": "lid"}]
    assert ins.kind_results(twice, "rice") == {"include_keyword": False}  # a kind twice: both must hold
    assert ins.verify.breakdown("q", "rinse the beans", constraints=json.dumps(constraints)) == {
        "max_words": True,
        "include_keyword": False,
    }
    assert ins.reward.breakdown is ins.verify.breakdown
    table = ins.per_kind([constraints, json.dumps(constraints[:1])], ["rinse the rice", "far too many words here"])
    assert table == {
        "include_keyword": {"met": 1, "total": 1, "rate": 1.0},
        "max_words": {"met": 1, "total": 2, "rate": 0.5},
    }


# --- the shipped files ---------------------------------------------------------------------------------------


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def shipped():
    return {"train": read(ins.TRAIN_FILE), "test": read(ins.TEST_FILE)}


def test_files_are_the_builder_output(shipped):
    assert shipped == builder.build()
    for path in (ins.TRAIN_FILE, ins.TEST_FILE):
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n") and "\r" not in text


def test_sizes_ids_and_well_formed_rows(shipped):
    train, test = shipped["train"], shipped["test"]
    assert len(train) >= 600 and len(test) >= 200
    rows = train + test
    assert len({r["id"] for r in rows}) == len(rows) and len({r["prompt"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"prompt", "constraints", "question", "id"}
        assert 1 <= len(row["constraints"]) <= 3 and row["question"] in row["prompt"]
        kinds = [c["kind"] for c in row["constraints"]]
        assert set(kinds) <= set(builder.SHIPPED_KINDS) and builder.compatible(kinds), row
        assert builder.consistent(row["constraints"]), row
        for constraint in row["constraints"]:
            ins.validate(constraint)


def test_every_prompt_states_its_constraints(shipped):
    """Each constraint is one of its kind's wordings with this constraint's own parameters, verbatim."""
    for row in shipped["train"] + shipped["test"]:
        for constraint in row["constraints"]:
            trained, held = content.WORDINGS[constraint["kind"]]
            wordings = trained + held
            if constraint.get("phrase") == row["question"]:
                wordings = content.REPEAT_WORDINGS[0] + content.REPEAT_WORDINGS[1]
            rendered = [builder.render(w, constraint) for w in wordings]
            assert any(text in row["prompt"] for text in rendered), (constraint, row["prompt"])
            for value in (constraint.get("phrase"), constraint.get("word"), constraint.get("marker")):
                assert value is None or value in row["prompt"]
            if "n" in constraint:  # the number itself, in digits or words, as a whole number
                n = constraint["n"]
                spelled = content.NUMBER_WORDS.get(n, str(n))
                assert re.search(rf"(?<!\d){n}(?!\d)|\b{spelled}\b", row["prompt"]), row["prompt"]


def test_the_test_set_is_held_out(shipped):
    train, test = shipped["train"], shipped["test"]
    assert not {r["question"] for r in train} & {r["question"] for r in test}

    def used(wording, rows):
        pattern = re.escape(wording)
        for name in ("n", "n_word", "s", "phrase", "word", "marker"):
            pattern = pattern.replace(re.escape("{" + name + "}"), ".*?")
        return any(re.search(pattern, r["prompt"]) for r in rows)

    held_wordings = [w for _, held in list(content.WORDINGS.values()) + [content.REPEAT_WORDINGS] for w in held]
    shipped_kinds = set(builder.SHIPPED_KINDS)
    for kind, (_, held) in content.WORDINGS.items():
        for wording in held:
            assert not used(wording, train), wording
        if kind in shipped_kinds:
            assert any(used(w, test) for w in held), kind
    assert sum(any(used(w, [r]) for w in held_wordings) for r in test) > len(test) / 3

    def combos(rows):
        return {frozenset(c["kind"] for c in r["constraints"]) for r in rows if len(r["constraints"]) > 1}

    only_test = combos(test) - combos(train)
    assert len(only_test) >= 10
    held_pairs = builder.test_only_pairs()
    for row in train:
        kinds = [c["kind"] for c in row["constraints"]]
        assert not any(frozenset(p) in held_pairs for p in itertools.combinations(kinds, 2)), row


def test_shipped_kinds_are_the_measured_ones_and_dropped_kinds_are_explained(shipped):
    used = {c["kind"] for rows in shipped.values() for r in rows for c in r["constraints"]}
    assert used == set(builder.SHIPPED_KINDS)
    assert set(builder.DROPPED_KINDS) == set(ins.KINDS) - set(builder.SHIPPED_KINDS)
    measured = json.loads((Path(__file__).parents[1] / "benchmarks" / "instruction_base_rates.json").read_text())
    assert set(measured["keep"]) == set(builder.SHIPPED_KINDS) and set(measured["kinds"]) == set(ins.KINDS)
    dropped_section = ins.__doc__.split("Dropped kinds", 1)[1]
    for kind, figures in measured["kinds"].items():  # the docstring's table is the measurement's
        table = ins.__doc__.split("Base rates and the kinds shipped", 1)[1].splitlines()
        line = next(line for line in table if line.strip().startswith(kind + " "))
        assert line.split()[1:3] == [figures["greedy_met"], figures["sampled_met"]], line
        assert (f"* {kind}:" in dropped_section) is (kind in builder.DROPPED_KINDS)


def test_single_kind_rows_for_base_rates_are_training_style():
    rows = builder.single_kind_rows("json", 5)
    assert rows == builder.single_kind_rows("json", 5)  # fixed seed
    train_questions = {q for q, _, _ in content.TRAIN_QUESTIONS}
    for row in rows:
        assert [c["kind"] for c in row["constraints"]] == ["json"] and row["question"] in train_questions


def test_demo_files_are_the_builder_output_and_hold_out_questions_and_wordings():
    """--demo's task: one constraint a prompt of the demo kinds; no held-out question or wording is in training."""
    demo = {"train": read(ins.DEMO_TRAIN_FILE), "test": read(ins.DEMO_TEST_FILE)}
    assert demo == builder.build_demo()
    assert (len(demo["train"]), len(demo["test"])) == (builder.DEMO_TRAIN_SIZE, builder.DEMO_TEST_SIZE)
    assert not {r["question"] for r in demo["train"]} & {r["question"] for r in demo["test"]}
    for split, rows in demo.items():
        for row in rows:
            (constraint,) = row["constraints"]
            assert constraint["kind"] in builder.DEMO_KINDS
            trained, held = content.WORDINGS[constraint["kind"]]
            wordings = held if split == "test" else trained
            assert any(builder.render(w, constraint) in row["prompt"] for w in wordings), row
            assert not any(
                builder.render(w, constraint) in row["prompt"] for w in (trained if split == "test" else held)
            )
    assert ins.verify(demo["test"][0]["prompt"], "x") in (0.0, 1.0)  # the shipped demo prompts are looked up too
