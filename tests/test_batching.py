"""Length-grouped batches in shuffled order (the recipes' group_by_length=True default) and the CPU head chunks."""

import random

import pytest

from trlrecipes.data.batching import shuffled_length_groups, training_lengths, use_length_groups


def skewed_lengths(count: int, seed: int = 0) -> list[int]:
    """hh-rlhf-like: mostly short pairs and a long tail."""
    rng = random.Random(seed)
    return [int(min(1024, 40 + rng.expovariate(1 / 150))) for _ in range(count)]


def real_share(order: list[int], lengths: list[int], batch: int) -> float:
    real = padded = 0
    for start in range(0, len(order), batch):
        members = [lengths[i] for i in order[start : start + batch]]
        real += sum(members)
        padded += len(members) * max(members)
    return real / padded


def test_every_index_once_and_far_less_padding_than_random():
    lengths = skewed_lengths(1003)
    order = shuffled_length_groups(lengths, group_size=8, seed=1)
    assert sorted(order) == list(range(len(lengths)))
    shuffled = list(range(len(lengths)))
    random.Random(1).shuffle(shuffled)
    assert real_share(order, lengths, 8) >= 0.9 > real_share(shuffled, lengths, 8) + 0.2


def test_groups_in_random_order_new_each_epoch_and_reproducible():
    lengths = skewed_lengths(2000)
    group = 4
    order = shuffled_length_groups(lengths, group, seed=3)
    maxima = [max(lengths[i] for i in order[s : s + group]) for s in range(0, len(order), group)]
    falls = [b < a for a, b in zip(maxima, maxima[1:], strict=False) if a != b]
    # transformers' LengthGroupedSampler sorts each mega-batch longest first (a fall at ~98 % of steps)
    assert 0.35 < sum(falls) / len(falls) < 0.65
    assert order == shuffled_length_groups(lengths, group, seed=3)  # resume replays the same epoch
    assert order != shuffled_length_groups(lengths, group, seed=4)


def test_the_short_remainder_group_comes_last_so_batches_stay_aligned():
    lengths = skewed_lengths(10)
    order = shuffled_length_groups(lengths, group_size=4, megabatch_groups=1, seed=0)
    groups = [order[0:4], order[4:8], order[8:]]
    assert len(groups[-1]) == 2 and sorted(order) == list(range(10))
    for group in groups:  # megabatch of one group: each group is sorted longest first
        assert [lengths[i] for i in group] == sorted((lengths[i] for i in group), reverse=True)


@pytest.mark.parametrize(
    "columns, expected",
    [
        ({"prompt_ids": [[1, 2], [1]], "chosen_ids": [[3], [3, 4, 5]], "rejected_ids": [[4, 5, 6], [6]]}, [5, 4]),
        ({"chosen_input_ids": [[1, 2, 3], [1]], "rejected_input_ids": [[1], [1, 2]]}, [3, 2]),
        ({"prompt_ids": [[1, 2], [1]], "completion_ids": [[3], [3, 4, 5]], "label": [True, False]}, [3, 4]),
        ({"prompt": ["a", "b"], "chosen": ["c", "d"]}, None),
    ],
)
def test_training_lengths_per_trainer_layout(columns, expected):
    from datasets import Dataset

    assert training_lengths(Dataset.from_dict(columns)) == expected


def test_a_real_dpo_trainer_draws_length_grouped_batches(tiny_model, tmp_path):
    """Installed on TRL's DPOTrainer, the training dataloader yields every pair once, in batches of alike length."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    rng = random.Random(0)
    words = ["tea", "rain", "bread", "river", "stone", "light"]
    rows = []
    for i in range(48):
        prompt = [{"role": "user", "content": f"question {i}"}]
        reply = " ".join(rng.choice(words) for _ in range(rng.choice([2, 3, 40, 60])))
        rows.append(
            {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": reply}],
                "rejected": [{"role": "assistant", "content": reply + " no"}],
            }
        )
    args = DPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        use_cpu=True,
        bf16=False,
        report_to=[],
        max_length=256,
        seed=5,
        activation_checkpointing=False,
    )
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(tiny_model),
        peft_config=LoraConfig(r=4, target_modules="all-linear"),
    )
    lengths = training_lengths(trainer.train_dataset)

    def real_token_share() -> tuple[float, int]:
        real = computed = seen = 0
        for batch in trainer.get_train_dataloader():
            mask = batch["attention_mask"]
            real, computed, seen = real + int(mask.sum()), computed + mask.numel(), seen + mask.shape[0] // 2
        return real / computed, seen

    random_share, random_seen = real_token_share()
    assert use_length_groups(trainer) is True
    grouped_share, grouped_seen = real_token_share()
    assert random_seen == grouped_seen == len(lengths) == 48
    assert grouped_share > 0.85 and grouped_share > random_share + 0.15


def test_tokenizer_processes_only_for_large_training_sets(tmp_path, monkeypatch):
    from trlrecipes.data.common import PARALLEL_MIN_ROWS
    from trlrecipes.run.lifecycle import Run
    from trlrecipes.run.trl_args import tokenizer_processes

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    run = Run(dir=tmp_path / "run", resume_command="")
    assert tokenizer_processes(run.data.train_rows) is None  # no data loaded yet
    run.data_summaries["train"] = {"used": PARALLEL_MIN_ROWS - 1}
    assert tokenizer_processes(run.data.train_rows) is None
    run.data_summaries["train"] = {"used": PARALLEL_MIN_ROWS}
    assert tokenizer_processes(run.data.train_rows) == 8
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert tokenizer_processes(run.data.train_rows) is None
