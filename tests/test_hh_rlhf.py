import gzip
import json
import os
import re
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

from trlrecipes.data import hh_rlhf, load_pairs
from trlrecipes.data.common import NOTES_KEY, Skip, convert_records
from trlrecipes.errors import UserError

# The shared data folder beside the checkout; TRLRECIPES_SHARED_DATA names another (e.g. from a git worktree).
DATA = Path(os.environ.get("TRLRECIPES_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
SAMPLE = DATA / "hh-rlhf-sample.jsonl"
MANIFEST = DATA / "hh-rlhf-sample.manifest.json"


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def pair(prompt, chosen, rejected):
    return {"chosen": prompt + chosen, "rejected": prompt + rejected}


def convert(row):
    """convert_row without its repair notes."""
    out = hh_rlhf.convert_row(row)
    out.pop(NOTES_KEY, None)
    return out


def skip_reason(row):
    with pytest.raises(Skip) as caught:
        hh_rlhf.convert_row(row)
    assert caught.value.reason in hh_rlhf.SKIP_REASONS
    return caught.value.reason


# --- hand-written rows -------------------------------------------------------------------------------------------


def test_single_turn():
    row = pair("\n\nHuman: Hi there", "\n\nAssistant: Hello! ", "\n\nAssistant: Go away.")
    assert hh_rlhf.convert_row(row) == {
        "prompt": [user("Hi there")],
        "chosen": [assistant("Hello!")],
        "rejected": [assistant("Go away.")],
    }


def test_multi_turn_prompt_keeps_every_turn():
    prompt = "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?"
    out = convert(pair(prompt, "\n\nAssistant: 6.", "\n\nAssistant: 7."))
    assert out["prompt"] == [user("What is 2+2?"), assistant("4."), user("And 3+3?")]
    assert out["chosen"] == [assistant("6.")] and out["rejected"] == [assistant("7.")]


def test_marker_spacing_and_start_of_text():
    row = pair("Human:Hi\n\n\nAssistant:   Yo\n\nHuman:  Bye", "\n\nAssistant:See you", "\n\nAssistant:    Whatever")
    out = convert(row)
    assert out["prompt"] == [user("Hi"), assistant("Yo"), user("Bye")]
    assert out["chosen"] == [assistant("See you")] and out["rejected"] == [assistant("Whatever")]


def test_inline_labels_are_content():
    row = pair("\n\nHuman: Quote me", "\n\nAssistant: Human: hello\nAssistant: hi", "\n\nAssistant: No.")
    out = convert(row)
    assert out["prompt"] == [user("Quote me")]
    assert out["chosen"] == [assistant("Human: hello\nAssistant: hi")]


def test_prompt_stops_at_turn_boundary_when_replies_share_leading_text():
    row = pair("\n\nHuman: Can you help?", "\n\nAssistant: I can help with that.", "\n\nAssistant: I cannot.")
    out = convert(row)
    assert out["prompt"] == [user("Can you help?")]
    assert out["chosen"][0]["content"] == "I can help with that."
    assert out["rejected"][0]["content"] == "I cannot."


# The shape of sample lines 43 and 288: the reply goes on with an inline Human turn (no blank line before it), then
# a second Assistant turn answers it.
LOST_BOUNDARY = (
    "\n\nAssistant: DVT is a blood clot in a deep vein.  Human:  How serious is it?"
    "\n\nAssistant: It can be life threatening."
)


def test_inline_human_turn_in_the_final_reply_is_cut_there():
    row = pair("\n\nHuman: What is DVT?", LOST_BOUNDARY, "\n\nAssistant: A clot.")
    out = hh_rlhf.convert_row(row)
    assert out == {
        "prompt": [user("What is DVT?")],
        "chosen": [assistant("DVT is a blood clot in a deep vein.")],
        "rejected": [assistant("A clot.")],
        NOTES_KEY: ["cut_inline_human_turn"],
    }
    with pytest.raises(Skip, match="inline_human_turn"):
        hh_rlhf.convert_row(row, inline_human_turn="skip")
    before = "\n\nAssistant: Here:\n\nAssistant: DVT is a clot.\nHuman: Is it bad?\n\nAssistant: Yes."
    out = hh_rlhf.convert_row(pair("\n\nHuman: What is DVT?", before, "\n\nAssistant: A clot."))
    assert out["chosen"] == [assistant("Here:\n\nDVT is a clot.")]  # the Assistant turns before the marker merge
    assert out[NOTES_KEY] == ["cut_inline_human_turn", "merged_turns"]


def test_inline_human_turn_inside_the_prompt_becomes_its_own_user_turn():
    # The conversation went on past the lost boundary (a real Human turn follows): the inline "Human:" text is the
    # turn the data lost, so it becomes a user turn between the two Assistant turns (this pair used to be skipped).
    prompt = "\n\nHuman: What is DVT?" + LOST_BOUNDARY + "\n\nHuman: Thanks"
    row = pair(prompt, "\n\nAssistant: Welcome.", "\n\nAssistant: Bye.")
    assert hh_rlhf.convert_row(row) == {
        "prompt": [
            user("What is DVT?"),
            assistant("DVT is a blood clot in a deep vein."),
            user("How serious is it?"),
            assistant("It can be life threatening."),
            user("Thanks"),
        ],
        "chosen": [assistant("Welcome.")],
        "rejected": [assistant("Bye.")],
        NOTES_KEY: ["split_inline_human_turn"],
    }
    with pytest.raises(Skip, match="inline_human_turn"):
        hh_rlhf.convert_row(row, inline_human_turn="skip")


def test_inline_human_turns_in_the_prompt_and_in_the_reply_are_both_repaired():
    prompt = "\n\nHuman: What is DVT?" + LOST_BOUNDARY + "\n\nHuman: Thanks"
    reply = "\n\nAssistant: Welcome.  Human: Bye!\n\nAssistant: Bye."
    out = hh_rlhf.convert_row(pair(prompt, reply, "\n\nAssistant: No problem."))
    assert len(out["prompt"]) == 5 and out["chosen"] == [assistant("Welcome.")]
    assert out[NOTES_KEY] == ["cut_inline_human_turn", "split_inline_human_turn"]


def test_split_inline_human_turn_with_nothing_after_the_label_merges_the_assistant_turns():
    prompt = "\n\nHuman: Hi\n\nAssistant: Hello.  Human:\n\nAssistant: Still there?\n\nHuman: Yes"
    out = hh_rlhf.convert_row(pair(prompt, "\n\nAssistant: Good.", "\n\nAssistant: Bad."))
    assert out["prompt"] == [user("Hi"), assistant("Hello.\n\nStill there?"), user("Yes")]
    assert out[NOTES_KEY] == ["dropped_empty_turn", "merged_turns", "split_inline_human_turn"]


def test_split_inline_human_turn_is_counted(tmp_path):
    prompt = "\n\nHuman: What is DVT?" + LOST_BOUNDARY + "\n\nHuman: Thanks"
    path = tmp_path / "split.jsonl"
    line = json.dumps(pair(prompt, "\n\nAssistant: Welcome.", "\n\nAssistant: Bye."))
    path.write_text(line + "\n" + GOOD_LINE + "\n")
    _, summary = load_pairs("hh-rlhf", str(path))
    assert summary.to_dict() == {"read": 2, "converted": 2, "skipped": {}, "notes": {"split_inline_human_turn": 1}}
    _, summary = load_pairs("hh-rlhf", str(path), options={"inline_human_turn": "skip"})
    assert summary.to_dict() == {"read": 2, "converted": 1, "skipped": {"inline_human_turn": 1}}


def test_inline_human_label_without_a_second_assistant_turn_stays_content():
    for reply in ("\n\nAssistant: Say this:  Human: hello", "\n\nAssistant: Human: hi\n\nAssistant: there"):
        out = convert(pair("\n\nHuman: Quote me", reply, "\n\nAssistant: No."))
        assert "Human: h" in out["chosen"][0]["content"]


def test_inline_human_turn_option_is_typed(tmp_path):
    from trlrecipes.data import check_options

    assert check_options("hh-rlhf", {}) == {"inline_human_turn": "cut"}
    path = tmp_path / "lost.jsonl"
    path.write_text(
        json.dumps(pair("\n\nHuman: What is DVT?", LOST_BOUNDARY, "\n\nAssistant: A clot.")) + "\n" + GOOD_LINE + "\n"
    )
    _, summary = load_pairs("hh-rlhf", str(path), options={"inline_human_turn": "skip"})
    assert summary.to_dict() == {"read": 2, "converted": 1, "skipped": {"inline_human_turn": 1}}
    _, summary = load_pairs("hh-rlhf", str(path))
    assert summary.to_dict() == {"read": 2, "converted": 2, "skipped": {}, "notes": {"cut_inline_human_turn": 1}}


def test_consecutive_same_role_turns_merge():
    prompt = "\n\nHuman: Recipe?\n\nAssistant: Step one.\n\nAssistant: Step two.\n\nHuman: Thanks"
    out = hh_rlhf.convert_row(pair(prompt, "\n\nAssistant: Welcome.", "\n\nAssistant: Bye."))
    assert out["prompt"] == [user("Recipe?"), assistant("Step one.\n\nStep two."), user("Thanks")]
    assert out[NOTES_KEY] == ["merged_turns"]


def test_final_reply_continuing_with_assistant_label_stays_one_reply():
    row = {
        "chosen": "\n\nHuman: Key?\n\nAssistant: Here:\n\nAssistant:  let me try.",
        "rejected": "\n\nHuman: Key?\n\nAssistant: No.",
    }
    out = convert(row)
    assert out["prompt"] == [user("Key?")]
    assert out["chosen"] == [assistant("Here:\n\nlet me try.")]


def test_empty_nonfinal_turn_is_dropped_and_neighbours_merge():
    prompt = "\n\nHuman: Ideas?\n\nAssistant: \n\nHuman: Any ideas?"
    out = hh_rlhf.convert_row(pair(prompt, "\n\nAssistant: Books.", "\n\nAssistant: None."))
    assert out["prompt"] == [user("Ideas?\n\nAny ideas?")]
    assert out[NOTES_KEY] == ["dropped_empty_turn", "merged_turns"]


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"chosen": "just some text", "rejected": "\n\nHuman: a\n\nAssistant: b"}, "not_hh_format"),
        (
            {"chosen": "Preface\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"},
            "not_hh_format",
        ),
        (
            {"chosen": "\n\nAssistant: b\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"},
            "not_hh_format",
        ),
        ({"chosen": None, "rejected": "\n\nHuman: a\n\nAssistant: c"}, "not_text"),
        ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": 42}, "not_text"),
        ({"chosen": ["\n\nHuman: a\n\nAssistant: b"], "rejected": "\n\nHuman: a\n\nAssistant: c"}, "not_text"),
        (
            {"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: more?", "rejected": "\n\nHuman: a\n\nAssistant: c"},
            "no_final_assistant_reply",
        ),
        (pair("\n\nHuman: a", "\n\nAssistant: ", "\n\nAssistant: c"), "empty_reply"),
        (pair("\n\nHuman: a", "\n\nAssistant: b", "\n\nAssistant:"), "empty_reply"),
        (pair("\n\nHuman:  ", "\n\nAssistant: b", "\n\nAssistant: c"), "empty_prompt"),
        (
            {
                "chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: made up\n\nAssistant: d",
                "rejected": "\n\nHuman: a\n\nAssistant: c",
            },
            "prompt_mismatch",
        ),
        (pair("\n\nHuman: a", "\n\nAssistant: same", "\n\nAssistant: same"), "identical_replies"),
        (pair("\n\nHuman: a", "\n\nAssistant: same  words \n", "\n\nAssistant: same words"), "identical_replies"),
    ],
)
def test_skip_reasons(row, reason):
    assert skip_reason(row) == reason


def test_every_skip_reason_is_documented():
    assert set(hh_rlhf.SKIP_REASONS) == {
        "not_text",
        "not_hh_format",
        "inline_human_turn",
        "no_final_assistant_reply",
        "empty_reply",
        "empty_prompt",
        "prompt_mismatch",
        "identical_replies",
    }
    assert set(hh_rlhf.NOTE_REASONS) == {
        "cut_inline_human_turn",
        "split_inline_human_turn",
        "merged_turns",
        "dropped_empty_turn",
    }
    for reason in [*hh_rlhf.SKIP_REASONS, *hh_rlhf.NOTE_REASONS]:
        assert reason in hh_rlhf.__doc__


# --- the 300-row real sample -------------------------------------------------------------------------------------


def inline_human(piece):
    """(text before, text after) the first "Human:" of an Assistant piece that follows text and whitespace, else
    None."""
    start = 0
    while (pos := piece.find("Human:", start)) != -1:
        before = piece[:pos]
        if before.strip() and before[-1].isspace():
            return before.strip(), piece[pos + len("Human:") :].strip()
        start = pos + 1
    return None


def expected_split(text, inline_human_turn="cut"):
    """An independent split: group the transcript by Human turn with str.split instead of a regex over markers.

    Returns (prompt messages, final reply text, repairs): the assistant pieces of a group are joined with a blank
    line; an empty assistant piece before the final reply makes the next Human text continue the same user message.
    An assistant piece with an inline "Human:" that another assistant piece follows is a lost turn boundary: in the
    last group the reply ends there ("cut" in repairs); in an earlier group the text after the label starts a group
    of its own ("split"); with inline_human_turn="skip" the reply is None.
    """
    assert text.startswith("\n\nHuman:")
    pieces = text.split("\n\nHuman:")[1:]
    chunks, repairs = [], set()
    for number, piece in enumerate(pieces, start=1):
        human, *replies = piece.split("\n\nAssistant:")
        while True:
            lost = [(i, inline_human(r.strip())) for i, r in enumerate(replies[:-1]) if inline_human(r.strip())]
            if not lost:
                chunks.append((human, replies))
                break
            index, found = lost[0]
            if inline_human_turn != "cut":
                return None, None, set()
            if number == len(pieces):
                chunks.append((human, replies[:index] + [found[0]]))
                repairs.add("cut")
                break
            chunks.append((human, replies[:index] + [found[0]]))
            human, replies = found[1], replies[index + 1 :]
            repairs.add("split")
    groups = []
    for human, replies in chunks:
        reply = "\n\n".join(part.strip() for part in replies if part.strip())
        if groups and not groups[-1][1]:
            groups[-1] = [(groups[-1][0] + "\n\n" + human.strip()).strip(), reply]
        else:
            groups.append([human.strip(), reply])
    prompt = [message for human, reply in groups[:-1] for message in (user(human), assistant(reply))]
    return prompt + [user(groups[-1][0])], groups[-1][1], repairs


def expected_reason(row, inline_human_turn="cut"):
    chosen_prompt, chosen, _ = expected_split(row["chosen"], inline_human_turn)
    rejected_prompt, rejected, _ = expected_split(row["rejected"], inline_human_turn)
    if chosen is None or rejected is None:
        return "inline_human_turn"
    if not chosen or not rejected:
        return "empty_reply"
    if chosen_prompt != rejected_prompt:
        return "prompt_mismatch"
    if " ".join(chosen.split()) == " ".join(rejected.split()):
        return "identical_replies"
    return None


def expected_cut(row):
    return any("cut" in expected_split(row[side])[2] for side in ("chosen", "rejected"))


def expected_split_turn(row):
    return any("split" in expected_split(row[side])[2] for side in ("chosen", "rejected"))


@pytest.fixture(scope="module")
def sample():
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} not present")
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    tags = [set(entry["edge_cases"]) for entry in json.loads(MANIFEST.read_text())[SAMPLE.name]["rows"]]
    assert len(rows) == len(tags) == 300
    return rows, tags


def test_sample_counts(sample):
    rows, _ = sample
    _, summary = convert_records(rows, hh_rlhf.convert_row)
    assert summary.read == summary.converted + sum(summary.skipped.values()) == 300
    # Checked by hand: lines 95 and 189 have an empty chosen reply, 276 and 285 an empty rejected one, and line 154
    # has chosen == rejected.
    assert summary.converted == 295
    assert summary.skipped == {"empty_reply": 4, "identical_replies": 1}
    # Lines 43 and 288: a reply goes on with "  Human: ..." and a second Assistant turn; cut there, they stay pairs.
    assert summary.notes == {"merged_turns": 6, "cut_inline_human_turn": 2}
    assert [lineno for lineno, row in enumerate(rows, start=1) if expected_cut(row)] == [43, 288]
    # No sample row has a lost boundary before the final reply (the case split_inline_human_turn repairs).
    assert not any(expected_split_turn(row) for row in rows)


def test_sample_lost_boundaries_inside_a_prompt_are_split(sample):
    """Lines 43 and 288 continued by one more Human turn: their lost boundary is then inside the prompt, the shape
    of the 4 real transcripts outside the sample that were skipped. Each converts, split as the independent
    expectation splits it; with inline_human_turn=skip it is skipped."""
    rows, _ = sample
    for lineno in (43, 288):
        row = rows[lineno - 1]
        side = next(side for side in ("chosen", "rejected") if "cut" in expected_split(row[side])[2])
        prompt = row[side] + "\n\nHuman: Thanks, that helps."
        continued = pair(prompt, "\n\nAssistant: Glad to help.", "\n\nAssistant: Whatever.")
        out = hh_rlhf.convert_row(continued)
        assert "split_inline_human_turn" in out[NOTES_KEY], lineno
        expected_prompt, reply, repairs = expected_split(continued["chosen"])
        assert repairs == {"split"} and reply == "Glad to help.", lineno
        assert out["prompt"] == expected_prompt, lineno
        roles = [turn["role"] for turn in out["prompt"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"], lineno
        assert roles.count("user") == prompt.count("\n\nHuman:") + 1, lineno  # the lost turn is a user turn again
        assert skip_reason_with(continued, "skip") == "inline_human_turn", lineno


def skip_reason_with(row, inline_human_turn):
    with pytest.raises(Skip) as caught:
        hh_rlhf.convert_row(row, inline_human_turn=inline_human_turn)
    return caught.value.reason


def test_sample_inline_human_turn_skip_keeps_fewer_pairs(sample):
    """The measurement behind the default: skipping the two lost-boundary rows keeps 293 pairs, cutting keeps 295,
    and the 293 other pairs are the same either way."""
    rows, _ = sample
    cut, _ = convert_records(rows, hh_rlhf.convert_row)
    skipped, summary = convert_records(rows, hh_rlhf.convert_row, inline_human_turn="skip")
    assert (len(cut), len(skipped)) == (295, 293)
    assert summary.skipped == {"empty_reply": 4, "identical_replies": 1, "inline_human_turn": 2}
    for row in rows:
        assert (expected_reason(row, "skip") == "inline_human_turn") == expected_cut(row)
    assert [pair for pair in cut if pair not in skipped] == [convert(rows[42]), convert(rows[287])]


def test_sample_notes_match_manifest_tags(sample):
    rows, tags = sample
    for lineno, (row, tag) in enumerate(zip(rows, tags, strict=False), start=1):
        if expected_reason(row) is None:
            notes = hh_rlhf.convert_row(row).get(NOTES_KEY, [])
            assert ("cut_inline_human_turn" in notes) == expected_cut(row), lineno
            if expected_cut(row):  # the cut drops the second Assistant turn, so nothing merges
                assert {"inline_Human_label", "consecutive_same_role"} <= tag and "merged_turns" not in notes, lineno
            else:
                assert ("merged_turns" in notes) == ("consecutive_same_role" in tag), lineno


def test_sample_rows_match_independent_expectation(sample):
    rows, tags = sample
    for lineno, (row, tag) in enumerate(zip(rows, tags, strict=False), start=1):
        reason = expected_reason(row)
        empty_tags = {"empty_final_response_chosen", "empty_final_response_rejected"}
        assert (reason == "empty_reply") == bool(tag & empty_tags), lineno
        if "chosen_eq_rejected" in tag:
            assert reason == "identical_replies", lineno
        if reason:
            assert skip_reason(row) == reason, lineno
            continue
        out = convert(row)
        prompt, chosen, _ = expected_split(row["chosen"])
        assert out["prompt"] == prompt and out["chosen"] == [assistant(chosen)], lineno
        assert out["rejected"] == [assistant(expected_split(row["rejected"])[1])], lineno
        assert out["prompt"][-1]["role"] == "user" and out["chosen"] != out["rejected"], lineno


def test_sample_transcripts_split_like_independent_expectation(sample):
    # Every transcript on its own, including those of skipped rows (e.g. the chosen side of line 285, whose prompt
    # has an empty assistant turn).
    rows, _ = sample
    for row in rows:
        for text in (row["chosen"], row["rejected"]):
            prompt, reply, _ = expected_split(text)
            if reply:
                assert hh_rlhf.split_transcript(text)[:2] == (prompt, assistant(reply))


def test_sample_rows_tagged_prompt_mismatch_keep_one_final_reply(sample):
    # The manifest compares characters up to the last "\n\nAssistant:"; in these rows the extra turns are
    # "\n\nAssistant:" labels inside one side's final reply, which stays one reply (or, in lines 43 and 288, a lost
    # turn boundary: the reply is cut before its inline "Human:").
    rows, tags = sample
    tagged = [row for row, tag in zip(rows, tags, strict=False) if "prompt_mismatch" in tag]
    assert len(tagged) == 6
    for row in tagged:
        out = convert(row)
        for side in ("chosen", "rejected"):
            if "cut" in expected_split(row[side])[2]:
                assert out[side][0]["content"] == expected_split(row[side])[1]
                continue
            last_piece = row[side].rsplit("\n\nAssistant:", 1)[1].strip()
            assert out[side][0]["content"].endswith(last_piece)


# --- loading through datasets ------------------------------------------------------------------------------------


def test_load_pairs_sample_end_to_end(sample):
    dataset, summary = load_pairs("hh-rlhf", str(SAMPLE))
    assert len(dataset) == summary.converted == 295
    assert summary.skipped == {"empty_reply": 4, "identical_replies": 1}
    assert dataset.column_names == ["prompt", "chosen", "rejected"]
    rows, _ = sample
    assert dataset[0] == convert(rows[0])


def test_load_pairs_gzip_copy(sample, tmp_path):
    target = tmp_path / "hh.jsonl.gz"
    with open(SAMPLE, "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    dataset, summary = load_pairs("hh-rlhf", str(target))
    assert (summary.read, summary.converted) == (300, 295)


GOOD_LINE = json.dumps(pair("\n\nHuman: a", "\n\nAssistant: b", "\n\nAssistant: c"))


@pytest.mark.parametrize(
    "content, expected",
    [
        (GOOD_LINE + "\n{not json\n", ":2: not valid JSON"),
        (GOOD_LINE + "\n" + json.dumps({"rejected": "x"}) + "\n", ":2: missing field(s) 'chosen'"),
    ],
)
def test_load_pairs_bad_lines_name_file_and_line(tmp_path, content, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=re.escape(str(path) + expected)):
        load_pairs("hh-rlhf", str(path))


def test_load_pairs_missing_file(tmp_path):
    path = tmp_path / "nope.jsonl"
    with pytest.raises(UserError, match="nope.jsonl: file not found"):
        load_pairs("hh-rlhf", str(path))


def test_load_pairs_all_rows_skipped(tmp_path):
    path = tmp_path / "same.jsonl"
    path.write_text(json.dumps(pair("\n\nHuman: a", "\n\nAssistant: b", "\n\nAssistant: b")) + "\n")
    with pytest.raises(UserError, match="no usable rows.*identical_replies"):
        load_pairs("hh-rlhf", str(path))


def test_trl_extract_prompt_cuts_rows_mid_reply_where_we_do_not(sample):
    """README's figure: TRL's character-level implicit prompt ends inside the reply on 61 of the 295 well-formed
    sample rows (those whose replies share leading text); our split always ends at the final Assistant marker."""
    from trl.data_utils import extract_prompt

    rows, tags = sample
    cut_mid_reply = 0
    for row, tag in zip(rows, tags, strict=False):
        if expected_reason(row) is not None:
            continue
        ours = hh_rlhf.convert_row(row)
        assert ours["prompt"][-1]["role"] == "user"
        trl_prompt = extract_prompt({"chosen": row["chosen"], "rejected": row["rejected"]})["prompt"]
        if not trl_prompt.rstrip().endswith("Assistant:"):
            cut_mid_reply += 1
            assert "responses_share_leading_text" in tag
    assert cut_mid_reply == 61
