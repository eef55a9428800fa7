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

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
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
    assert hh_rlhf.convert_row(row) == {"prompt": [user("Hi there")], "chosen": [assistant("Hello!")],
                                        "rejected": [assistant("Go away.")]}


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


def test_consecutive_same_role_turns_merge():
    prompt = "\n\nHuman: Recipe?\n\nAssistant: Step one.\n\nAssistant: Step two.\n\nHuman: Thanks"
    out = hh_rlhf.convert_row(pair(prompt, "\n\nAssistant: Welcome.", "\n\nAssistant: Bye."))
    assert out["prompt"] == [user("Recipe?"), assistant("Step one.\n\nStep two."), user("Thanks")]
    assert out[NOTES_KEY] == ["merged_turns"]


def test_final_reply_continuing_with_assistant_label_stays_one_reply():
    row = {"chosen": "\n\nHuman: Key?\n\nAssistant: Here:\n\nAssistant:  let me try.",
           "rejected": "\n\nHuman: Key?\n\nAssistant: No."}
    out = convert(row)
    assert out["prompt"] == [user("Key?")]
    assert out["chosen"] == [assistant("Here:\n\nlet me try.")]


def test_empty_nonfinal_turn_is_dropped_and_neighbours_merge():
    prompt = "\n\nHuman: Ideas?\n\nAssistant: \n\nHuman: Any ideas?"
    out = hh_rlhf.convert_row(pair(prompt, "\n\nAssistant: Books.", "\n\nAssistant: None."))
    assert out["prompt"] == [user("Ideas?\n\nAny ideas?")]
    assert out[NOTES_KEY] == ["dropped_empty_turn", "merged_turns"]


@pytest.mark.parametrize("row, reason", [
    ({"chosen": "just some text", "rejected": "\n\nHuman: a\n\nAssistant: b"}, "not_hh_format"),
    ({"chosen": "Preface\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}, "not_hh_format"),
    ({"chosen": "\n\nAssistant: b\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"},
     "not_hh_format"),
    ({"chosen": None, "rejected": "\n\nHuman: a\n\nAssistant: c"}, "not_hh_format"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: more?", "rejected": "\n\nHuman: a\n\nAssistant: c"},
     "no_final_assistant_reply"),
    (pair("\n\nHuman: a", "\n\nAssistant: ", "\n\nAssistant: c"), "empty_reply"),
    (pair("\n\nHuman: a", "\n\nAssistant: b", "\n\nAssistant:"), "empty_reply"),
    (pair("\n\nHuman:  ", "\n\nAssistant: b", "\n\nAssistant: c"), "empty_prompt"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: made up\n\nAssistant: d",
      "rejected": "\n\nHuman: a\n\nAssistant: c"}, "prompt_mismatch"),
    (pair("\n\nHuman: a", "\n\nAssistant: same", "\n\nAssistant: same"), "identical_replies"),
    (pair("\n\nHuman: a", "\n\nAssistant: same  words \n", "\n\nAssistant: same words"), "identical_replies"),
])
def test_skip_reasons(row, reason):
    assert skip_reason(row) == reason


def test_every_skip_reason_is_documented():
    assert set(hh_rlhf.SKIP_REASONS) == {"not_hh_format", "no_final_assistant_reply", "empty_reply", "empty_prompt",
                                         "prompt_mismatch", "identical_replies"}
    assert set(hh_rlhf.NOTE_REASONS) == {"merged_turns", "dropped_empty_turn"}
    for reason in [*hh_rlhf.SKIP_REASONS, *hh_rlhf.NOTE_REASONS]:
        assert reason in hh_rlhf.__doc__


# --- the 300-row real sample -------------------------------------------------------------------------------------

def expected_split(text):
    """An independent split: group the transcript by Human turn with str.split instead of a regex over markers.

    Returns (prompt messages, final reply text). The assistant pieces of a group are joined with a blank line; an
    empty assistant piece before the final reply makes the next Human text continue the same user message.
    """
    assert text.startswith("\n\nHuman:")
    groups = []
    for piece in text.split("\n\nHuman:")[1:]:
        human, *replies = piece.split("\n\nAssistant:")
        reply = "\n\n".join(part.strip() for part in replies if part.strip())
        if groups and not groups[-1][1]:
            groups[-1] = [groups[-1][0] + "\n\n" + human.strip(), reply]
        else:
            groups.append([human.strip(), reply])
    prompt = [message for human, reply in groups[:-1] for message in (user(human), assistant(reply))]
    return prompt + [user(groups[-1][0])], groups[-1][1]


def expected_reason(row):
    chosen_prompt, chosen = expected_split(row["chosen"])
    rejected_prompt, rejected = expected_split(row["rejected"])
    if not chosen or not rejected:
        return "empty_reply"
    if chosen_prompt != rejected_prompt:
        return "prompt_mismatch"
    if " ".join(chosen.split()) == " ".join(rejected.split()):
        return "identical_replies"
    return None


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
    assert summary.notes == {"merged_turns": 8}


def test_sample_notes_match_manifest_tags(sample):
    rows, tags = sample
    for lineno, (row, tag) in enumerate(zip(rows, tags), start=1):
        if expected_reason(row) is None:
            notes = hh_rlhf.convert_row(row).get(NOTES_KEY, [])
            assert ("merged_turns" in notes) == ("consecutive_same_role" in tag), lineno


def test_sample_rows_match_independent_expectation(sample):
    rows, tags = sample
    for lineno, (row, tag) in enumerate(zip(rows, tags), start=1):
        reason = expected_reason(row)
        empty_tags = {"empty_final_response_chosen", "empty_final_response_rejected"}
        assert (reason == "empty_reply") == bool(tag & empty_tags), lineno
        if "chosen_eq_rejected" in tag:
            assert reason == "identical_replies", lineno
        if reason:
            assert skip_reason(row) == reason, lineno
            continue
        out = convert(row)
        prompt, chosen = expected_split(row["chosen"])
        assert out["prompt"] == prompt and out["chosen"] == [assistant(chosen)], lineno
        assert out["rejected"] == [assistant(expected_split(row["rejected"])[1])], lineno
        assert out["prompt"][-1]["role"] == "user" and out["chosen"] != out["rejected"], lineno


def test_sample_transcripts_split_like_independent_expectation(sample):
    # Every transcript on its own, including those of skipped rows (e.g. the chosen side of line 285, whose prompt
    # has an empty assistant turn).
    rows, _ = sample
    for row in rows:
        for text in (row["chosen"], row["rejected"]):
            prompt, reply = expected_split(text)
            if reply:
                assert hh_rlhf.split_transcript(text)[:2] == (prompt, assistant(reply))


def test_sample_rows_tagged_prompt_mismatch_keep_one_final_reply(sample):
    # The manifest compares characters up to the last "\n\nAssistant:"; in these rows the extra turns are
    # "\n\nAssistant:" labels inside one side's final reply, which stays one reply.
    rows, tags = sample
    tagged = [row for row, tag in zip(rows, tags) if "prompt_mismatch" in tag]
    assert len(tagged) == 6
    for row in tagged:
        out = convert(row)
        for side in ("chosen", "rejected"):
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


@pytest.mark.parametrize("content, expected", [
    (GOOD_LINE + "\n{not json\n", ":2: not valid JSON"),
    (GOOD_LINE + "\n" + json.dumps({"rejected": "x"}) + "\n", ":2: missing field(s) 'chosen'"),
])
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
    for row, tag in zip(rows, tags):
        if expected_reason(row) is not None:
            continue
        ours = hh_rlhf.convert_row(row)
        assert ours["prompt"][-1]["role"] == "user"
        trl_prompt = extract_prompt({"chosen": row["chosen"], "rejected": row["rejected"]})["prompt"]
        if not trl_prompt.rstrip().endswith("Assistant:"):
            cut_mid_reply += 1
            assert "responses_share_leading_text" in tag
    assert cut_mid_reply == 61
