"""The data a run trains and evaluates on: converted splits, their printed summaries and their fingerprints.

`Splits.load(cfg)` returns (train, eval) as the settings name them: `eval_dataset` when set; else the format's
held-out split of the same Hub dataset, or test*.jsonl beside a local train*.jsonl; for a format with no held-out
split (EVAL_SPLIT None: orca-dpo, custom) `eval_share` of the converted pairs held out with the seed, before the
row caps, so held-out pairs are never trained on; else eval is None. Row caps take the first rows, or a seeded
sample for formats whose rows are grouped (SAMPLE_CAPS). Every split's summary (rows read / converted / skipped
by reason) is printed and kept for data_summary.json, and its content hash for run.json: a resume of a run whose
data changed is refused (`check_same_data`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trlrecipes.errors import UserError
from trlrecipes.hardware import is_main_process
from trlrecipes.run.record import RunRecord


def _say(message: str) -> None:
    if is_main_process():
        print(message, flush=True)


class Splits:
    def __init__(self, record: RunRecord, *, resuming: bool = False):
        self.record = record
        self.resuming = resuming
        self.summaries: dict[str, Any] = {}
        # {split: {"rows": n, "sha256": ...}} of the converted rows each split trains or evaluates on
        self.fingerprints: dict[str, dict] = {}
        self.on_change = None  # called after a split is added (the Run writes data_summary.json once it started)

    @property
    def train_rows(self) -> int:
        return self.summaries.get("train", {}).get("used", 0)

    def load(self, cfg):
        from trlrecipes.data import get_format
        from trlrecipes.data.common import default_eval_source, is_local_source

        if not cfg.dataset:
            raise UserError(
                f"no training data: set dataset=path/to/file.jsonl (or .json, .csv, .parquet), or a Hub id "
                f"(data_format={cfg.data_format})"
            )
        fmt = get_format(cfg.data_format)
        if getattr(fmt, "NOTICE", None):
            _say(fmt.NOTICE)
        sample = getattr(fmt, "SAMPLE_CAPS", False)
        common = {"subset": cfg.subset, "options": cfg.data_options}
        has_eval_split = bool(getattr(fmt, "EVAL_SPLIT", None))
        if cfg.eval_dataset:
            eval_source = cfg.eval_dataset
        elif not has_eval_split:
            eval_source = ""
        else:
            eval_source = default_eval_source(cfg.dataset) if is_local_source(cfg.dataset) else cfg.dataset
        if not eval_source and not has_eval_split:
            pairs = self.convert("train", cfg.data_format, cfg.dataset, split=cfg.split, **common)
            return self.hold_out(
                pairs,
                cfg.eval_share,
                seed=cfg.seed,
                max_train_rows=cfg.max_train_rows,
                max_eval_rows=cfg.max_eval_rows,
            )
        loaded = [None, None]
        sources = [
            ("train", cfg.dataset, cfg.split, cfg.max_train_rows),
            ("eval", eval_source, cfg.eval_split, cfg.max_eval_rows),
        ]
        for index, (name, source, split, cap) in enumerate(sources):
            if not source:
                continue
            pairs = self.convert(name, cfg.data_format, source, split=split, max_rows=0 if sample else cap, **common)
            loaded[index] = self.sample(name, pairs, cap, seed=cfg.seed) if sample else pairs
        return tuple(loaded)

    def convert(
        self,
        name: str,
        data_format: str,
        source: str,
        *,
        split: str = "train",
        subset: str | None = None,
        max_rows: int = 0,
        options: dict | None = None,
    ):
        """Convert one dataset, print its summary (rows read / converted / skipped by reason) and keep it."""
        from trlrecipes.data import explanations, get_format, load_pairs

        dataset, summary = load_pairs(data_format, source, split=split, subset=subset or None, options=options)
        text = summary.format(explanations(get_format(data_format)))
        _say(f"[{name}] {source}" + (f" ({subset}, {split})" if subset else "") + "\n" + text)
        return self.add(name, dataset, summary.to_dict(), source=source, split=split, subset=subset, max_rows=max_rows)

    def add(
        self,
        name: str,
        dataset,
        summary: dict,
        *,
        source: str,
        split: str = "train",
        subset: str | None = None,
        max_rows: int = 0,
    ):
        """Keep a converted split's summary and fingerprint (a program that converts its own data calls this)."""
        digest = fingerprint(dataset)  # row count and content hash of all converted rows, before any row cap
        if max_rows and len(dataset) > max_rows:
            dataset = dataset.select(range(max_rows))
            _say(f"[{name}] using the first {max_rows} converted rows (max rows setting)")
        self.summaries[name] = {
            "source": source,
            "subset": subset,
            "split": split,
            "used": len(dataset),
            **summary,
            "sha256": digest["sha256"],
        }
        self.fingerprints[name] = digest
        if self.resuming:  # refuse now, before the model loads (the Run checks every split again at its start)
            check_same_data(self.record, self.fingerprints, splits=[name])
        self._changed()
        return dataset

    def load_prompts(self, cfg):
        """(train, eval) prompts of a program that samples its own replies (iterative DPO, GRPO): a prompt file
        (data_format=prompts: .jsonl with a `prompt` field, its other fields kept for the judge, or .txt), a
        prompt-only format (gsm8k) or the prompts of a preference format; summarised and fingerprinted like pairs.
        Eval: `eval_dataset` when set, else the format's held-out split of the same Hub dataset, else None."""
        if not cfg.dataset:
            raise UserError("no prompts: set dataset=path/to/prompts.jsonl (a 'prompt' field a line) or .txt")
        from trlrecipes.data import get_format
        from trlrecipes.data.common import default_eval_source, is_local_source

        train = self.convert_prompts("train", cfg, cfg.dataset, cfg.split, cfg.max_train_rows)
        if cfg.eval_dataset:
            source = cfg.eval_dataset
        elif is_local_source(cfg.dataset):
            source = default_eval_source(cfg.dataset)  # test*.jsonl beside a train*.jsonl, when there is one
        else:
            source = cfg.dataset if getattr(get_format(cfg.data_format), "EVAL_SPLIT", None) else ""
        evaluation = self.convert_prompts("eval", cfg, source, cfg.eval_split, cfg.max_eval_rows) if source else None
        return train, evaluation

    def convert_prompts(self, name: str, cfg, source: str, split: str, max_rows: int):
        from trlrecipes.data.prompts import explanations_for, load_prompts

        dataset, summary = load_prompts(
            source,
            data_format=cfg.data_format,
            split=split or None,
            subset=cfg.subset or None,
            options=cfg.data_options,
        )
        _say(f"[{name} prompts] {source}\n" + summary.format(explanations_for(cfg.data_format)))
        return self.add(name, dataset, summary.to_dict(), source=source, split=split, max_rows=max_rows)

    @staticmethod
    def round_prompts(prompts, number: int, size: int, path: Path, *, seed: int = 0) -> Path:
        """Round `number`'s share of the prompts, written to `path` as a prompts file: one seeded order of all the
        prompts, cut into consecutive blocks of `size` (round 1 the first block, round 2 the next, wrapping round),
        so rounds see different prompts until all were seen. `size` 0: all of them."""
        import json

        from trlrecipes import files

        order = list(range(len(prompts)))
        if size and size < len(prompts):
            import random

            random.Random(seed).shuffle(order)
            start = (number - 1) * size
            order = [order[(start + i) % len(order)] for i in range(size)]
        rows = [prompts[i] for i in order]
        return files.write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def sample(self, name: str, pairs, max_rows: int, *, seed: int):
        """A seeded random `max_rows` of `pairs` (all of them when 0), recorded as `used` in the data summary. For
        sources sorted in some way (by topic, date or score) where the first rows would not be representative."""
        if not max_rows or len(pairs) <= max_rows:
            return pairs
        pairs = pairs.shuffle(seed=seed).select(range(max_rows))
        self.summaries[name].update(used=max_rows, sampled_with_seed=seed)
        _say(f"[{name}] using a random {max_rows} of the converted rows (seed {seed}; max rows setting)")
        self._changed()
        return pairs

    def hold_out(self, pairs, share: float, *, seed: int, max_train_rows: int = 0, max_eval_rows: int = 0):
        """(train, eval): `share` of the converted training pairs split off for evaluation (seeded), for sources
        without an eval split. The split comes before the row caps, so held-out pairs are never trained on whatever
        max_train_rows is."""
        import math

        train_summary = self.summaries["train"]
        held = math.ceil(share * len(pairs)) if share > 0 else 0
        if held and len(pairs) - held < 1:
            raise UserError(
                f"{train_summary['source']}: {len(pairs)} converted pair(s) are too few to hold out "
                f"eval_share={share}; pass eval_dataset=path/to/eval.jsonl or eval_share=0"
            )
        train, evaluation = pairs, None
        if held:
            parts = pairs.train_test_split(test_size=held, seed=seed)
            train, evaluation = parts["train"], parts["test"]
            if max_eval_rows and len(evaluation) > max_eval_rows:
                evaluation = evaluation.select(range(max_eval_rows))
        if max_train_rows and len(train) > max_train_rows:
            train = train.select(range(max_train_rows))
        train_summary.update(used=len(train), held_out_for_eval=held)
        if evaluation is not None:
            self.summaries["eval"] = {
                "source": train_summary["source"],
                "subset": train_summary["subset"],
                "split": f"held out from {train_summary['split']}",
                "eval_share": share,
                "seed": seed,
                "held_out": held,
                "used": len(evaluation),
            }
        _say(
            f"[eval] held out {held} of {len(pairs)} converted pairs (eval_share {share}, seed {seed}); training on "
            f"{len(train)}, evaluating on {len(evaluation) if evaluation is not None else 0}"
        )
        self._changed()
        return train, evaluation


def fingerprint(dataset) -> dict:
    """Row count and a SHA-256 of the converted rows, in order (datasets' own fingerprint is private and also
    changes with how a dataset was made, not only with what it holds). Measured: 5-7 s for 43,835 short pairs on
    the busy 2-core test machine, where converting them took 17 s."""
    from trlrecipes.data.common import content_sha256

    return {"rows": len(dataset), "sha256": content_sha256(dataset)}


def check_same_data(record: RunRecord | Path, now: dict[str, dict], splits: list[str] | None = None) -> None:
    """A resume continues from a checkpoint trained on the data recorded in run.json: refuse when a split changed
    (a run recorded before fingerprints existed is not checked). `splits`: only these (default: all)."""
    record = record if isinstance(record, RunRecord) else RunRecord(record)
    before = record.info().get("data_fingerprints")
    if not isinstance(before, dict):
        return
    for split in splits if splits is not None else sorted(set(before) | set(now)):
        old, new = before.get(split) or {}, now.get(split) or {}
        if old.get("sha256") != new.get("sha256"):
            counts = f"{old.get('rows', 'no')} rows then, {new.get('rows', 'no')} rows now"
            same = " (same count, different content)" if old.get("rows") == new.get("rows") else ""
            raise UserError(
                f"--resume: the {split} data changed since {record.dir} was trained ({counts}{same}); "
                f"restore it, or train anew with --overwrite or another output_dir=..."
            )
