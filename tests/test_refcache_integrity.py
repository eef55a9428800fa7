"""Cache entries that prove themselves (trlrecipes.run.refcache): a replaced, truncated, byte-flipped or NaN file is
never trained on; it is computed again (one line says which file and why). A cache location that cannot be written
is one line (exit 2), and no temp file is left behind."""

import json
import math
import os

import pytest

from trlrecipes import api
from trlrecipes.errors import UserError
from trlrecipes.run import refcache
from trlrecipes.testing import tiny_overrides

KEY = "0" * 32
INPUTS = {"format": refcache.FORMAT, "data_hash": "d" * 32, "max_length": 96}


def _refs(values):
    import pyarrow as pa

    return pa.table(
        {refcache.COLUMNS[0]: pa.array(values, pa.float32()), refcache.COLUMNS[1]: pa.array(values, pa.float32())}
    )


def _write_refs(path, values, key=KEY, inputs=INPUTS):
    table = _refs(values)
    refcache.write_entry(path, [table], table.schema, kind="ref", key=key, inputs=inputs, rows=len(table))


def _overwrite(path, table):
    """Replace a cached file by another valid Arrow file, its record left as it was (what a stray copy does)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def _read(path, rows=3, key=KEY, inputs=INPUTS, kind="ref"):
    return refcache.read_entry(path, kind=kind, key=key, inputs=inputs, rows=rows)


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def test_a_written_entry_reads_back(tmp_path):
    path = tmp_path / f"{KEY}.ref.arrow"
    _write_refs(path, [-1.0, -2.0, -3.0])
    dataset, problem = _read(path)
    assert problem is None and dataset[refcache.COLUMNS[0]] == [-1.0, -2.0, -3.0]
    record = json.loads(refcache.record_path(path).read_text())
    assert record["rows"] == 3 and record["bytes"] == path.stat().st_size and record["inputs"] == INPUTS
    assert record["xxh3_128"] == refcache.file_digest(path)
    assert _leftovers(tmp_path) == []
    assert _read(tmp_path / "absent.ref.arrow") == (None, None)  # nothing cached: no complaint


def _flip_middle_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: _overwrite(p, _refs([-50.0, -50.0, -50.0])), "content hash differs"),  # same size, other values
        (lambda p: p.write_bytes(p.read_bytes()[:-40]), "truncated or replaced"),
        (_flip_middle_byte, "content hash differs"),
        (lambda p: refcache.record_path(p).unlink(), "no readable record"),
        (lambda p: refcache.record_path(p).write_text("{not json"), "no readable record"),
        (lambda p: _write_refs(p, [-1.0, -2.0, -3.0, -4.0]), "written for 4 pairs, the data has 3"),
        (lambda p: _write_refs(p, [-1.0, math.nan, -3.0]), "2 of its reference log-probs are NaN/inf"),  # both columns
        (lambda p: _write_refs(p, [-1.0, -2.0, -3.0], inputs={**INPUTS, "max_length": 40}), "other inputs"),
    ],
)
def test_a_damaged_entry_is_refused_with_its_reason(tmp_path, damage, reason):
    path = tmp_path / f"{KEY}.ref.arrow"
    _write_refs(path, [-1.0, -2.0, -3.0])
    damage(path)
    dataset, problem = _read(path)
    assert dataset is None and reason in problem


def test_another_entry_copied_under_this_key_is_refused(tmp_path):
    other = tmp_path / f"{'1' * 32}.ref.arrow"
    _write_refs(other, [-1.0, -2.0, -3.0], key="1" * 32)
    path = tmp_path / f"{KEY}.ref.arrow"
    path.write_bytes(other.read_bytes())
    refcache.record_path(path).write_bytes(refcache.record_path(other).read_bytes())
    assert _read(path) == (None, "its record belongs to another cache entry")


def test_a_tokens_file_must_hold_the_runs_tokens(tmp_path):
    from datasets import Dataset

    rows = {"prompt_ids": [[1, 2], [3]], "chosen_ids": [[4], [5, 6]], "rejected_ids": [[7], [8]]}
    data = Dataset.from_dict(rows)
    inputs = {**INPUTS, "data_hash": refcache.tokens_hash(data)}
    path = tmp_path / f"{KEY}.tokens.arrow"
    refcache._write_tokens(path, data, key=KEY, inputs=inputs)
    tokens, problem = _read(path, rows=2, inputs=inputs, kind="tokens")
    assert problem is None and tokens["chosen_ids"] == [[4], [5, 6]]
    # Other tokens with a record that matches them (e.g. written for another dataset under a colliding name): the
    # tokens are hashed again, not only the bytes.
    other = Dataset.from_dict({**rows, "chosen_ids": [[5, 6], [4]]})
    refcache._write_tokens(path, other, key=KEY, inputs=inputs)
    assert _read(path, rows=2, inputs=inputs, kind="tokens") == (None, "its tokens are not this run's")


def test_a_write_that_fails_leaves_no_temp_file_and_says_what_to_do(tmp_path, monkeypatch):
    import errno

    import pyarrow as pa

    real = pa.ipc.new_stream

    class Full:
        def __init__(self, sink, schema):
            self.writer = real(sink, schema)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.writer.close()

        def write_table(self, table):
            self.writer.write_table(table)  # part of the file is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pa.ipc, "new_stream", Full)
    path = tmp_path / "cache" / f"{KEY}.ref.arrow"
    with pytest.raises(UserError, match="No space left on device.*TRLRECIPES_CACHE"):
        _write_refs(path, [-1.0, -2.0, -3.0])
    assert _leftovers(tmp_path) == [] and not path.exists() and not refcache.record_path(path).exists()

    class Interrupted(Full):
        def write_table(self, table):
            self.writer.write_table(table)
            raise KeyboardInterrupt

    monkeypatch.setattr(pa.ipc, "new_stream", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write_refs(path, [-1.0, -2.0, -3.0])
    assert _leftovers(tmp_path) == [] and not path.exists()


def test_check_cache_location(tmp_path, monkeypatch):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "new" / "cache"))
    refcache.check_cache_location()  # may not exist yet; nothing is made by the check
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "file"))
    with pytest.raises(UserError, match="is a file.*TRLRECIPES_CACHE.*precompute_ref_log_probs=false"):
        refcache.check_cache_location()
    monkeypatch.setenv("TRLRECIPES_CACHE", "/proc/trlrecipes-cache")
    with pytest.raises(UserError, match="cannot write in /proc"):
        refcache.check_cache_location()
    if os.geteuid() != 0:  # root writes into a read-only folder; the /proc case above covers it there
        readonly = tmp_path / "readonly"
        readonly.mkdir()
        readonly.chmod(0o555)
        monkeypatch.setenv("TRLRECIPES_CACHE", str(readonly))
        with pytest.raises(UserError, match="cannot write in"):
            refcache.check_cache_location()


def test_only_runs_that_may_precompute_need_the_cache_location(monkeypatch):
    assert refcache.may_precompute("trl:DPOConfig", {})
    assert refcache.may_precompute("trl:DPOConfig", {"precompute_ref_log_probs": "true"})
    assert not refcache.may_precompute("trl:DPOConfig", {"precompute_ref_log_probs": "false"})
    assert not refcache.may_precompute("trl:SFTConfig", {}) and not refcache.may_precompute(None)
    assert not refcache.may_precompute("trl:DPOConfig", {"deepspeed": "ds.json"})
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not refcache.may_precompute("trl:DPOConfig", {})


def test_a_reference_pass_that_gives_nan_is_refused():
    import torch

    refcache._check_finite(torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -4.0]), "train")
    with pytest.raises(UserError, match="NaN/inf log-probs for 1 of 2 train pairs \\(first: row 1\\)"):
        refcache._check_finite(torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, math.inf]), "train")


# --- on the tiny model ----------------------------------------------------------------------------------------
def _run(tiny_model, hh_files, folder):
    overrides = tiny_overrides(tiny_model, *hh_files, folder) + [
        "max_steps=1",
        "eval_steps=0",
        "logging_steps=1",
        "save_steps=1",
        "trl.precompute_ref_log_probs=true",
    ]
    return api.run("hh-dpo", *overrides)


def _step_one(folder):
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return next(r for r in records if r.get("step") == 1 and "loss" in r)


def _entry(cache):
    (ref,) = sorted((cache / "reference-logps").glob("*.ref.arrow"))
    return ref, ref.with_name(ref.name.replace(".ref.arrow", ".tokens.arrow"))


def _rotated_tokens(path):
    """The tokens file rewritten with every row's tokens moved one row on: a valid file of the same row count."""
    import pyarrow as pa

    table = pa.ipc.open_stream(pa.OSFile(str(path))).read_all()
    rotated = pa.concat_tables([table.slice(1), table.slice(0, 1)])
    _overwrite(path, rotated)


def _nan_refs(path):
    """NaN in place of the first pair's reference, with a record that matches the file (an older trlrecipes could
    write that): only the NaN check catches it."""
    import pyarrow as pa

    table = pa.ipc.open_stream(pa.OSFile(str(path))).read_all()
    record = json.loads(refcache.record_path(path).read_text())
    chosen = table.column(0).to_pylist()
    chosen[0] = math.nan
    fixed = pa.table({refcache.COLUMNS[0]: pa.array(chosen, pa.float32()), refcache.COLUMNS[1]: table.column(1)})
    refcache.write_entry(
        path, [fixed], fixed.schema, kind="ref", key=record["key"], inputs=record["inputs"], rows=record["rows"]
    )


@pytest.mark.slow
def test_a_damaged_cache_is_computed_again_not_trained_on(tiny_model, hh_files, tmp_path, monkeypatch, capsys):
    """Before: a replaced tokens file trained on other tokens (step-1 margin 0.018 where the reference makes it 0),
    a replaced reference file trained against garbage (step-1 loss 50.05 instead of ln 2 = 0.693), a truncated or
    byte-flipped one stopped with ArrowInvalid (exit 1), NaN ended in "Lower learning_rate". Now each is refused
    with one line and computed again: step 1 is what a fresh reference gives."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRLRECIPES_CACHE", str(cache))
    fresh = _step_one(_run(tiny_model, hh_files, tmp_path / "fresh").dir)
    assert abs(fresh["rewards/margins"]) < 1e-5 and fresh["loss"] == pytest.approx(math.log(2), abs=1e-5)
    capsys.readouterr()
    ref, tokens = _entry(cache)
    cases = [
        ("tokens", _rotated_tokens, "content hash differs"),
        ("ref", lambda p: _overwrite(p, _refs([-50.0] * 24)), "content hash differs"),
        ("ref", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "truncated or replaced"),
        ("ref", _flip_middle_byte, "content hash differs"),
        ("ref", _nan_refs, "of its reference log-probs are NaN/inf"),
    ]
    for index, (which, damage, reason) in enumerate(cases):
        path = tokens if which == "tokens" else ref
        damage(path)
        folder = _run(tiny_model, hh_files, tmp_path / f"run{index}").dir
        out = capsys.readouterr().out
        assert f"reference log-probs: not using the cached {path} (" in out and reason in out, (which, out)
        step = _step_one(folder)
        assert abs(step["rewards/margins"]) < 1e-5 and step["loss"] == pytest.approx(fresh["loss"], abs=1e-5), index
        # replaced by a good entry: the next run reads it without a word
        assert refcache.read_entry(path, **_entry_args(path))[1] is None
        assert _leftovers(cache) == []
    _run(tiny_model, hh_files, tmp_path / "again")
    assert "reference log-probs: from the cache for 24 train pairs" in capsys.readouterr().out


def _entry_args(path):
    record = json.loads(refcache.record_path(path).read_text())
    return {"kind": record["kind"], "key": record["key"], "inputs": record["inputs"], "rows": record["rows"]}


@pytest.mark.slow
def test_a_cache_location_that_is_a_file_is_one_line_and_leaves_nothing(tiny_model, hh_files, tmp_path, monkeypatch):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("TRLRECIPES_CACHE", str(blocker))
    with pytest.raises(UserError, match="reference log-prob cache.*is a file"):
        _run(tiny_model, hh_files, tmp_path / "run")
    assert blocker.read_text() == "not a folder\n" and _leftovers(tmp_path) == []
