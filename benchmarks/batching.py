"""Padding arithmetic of preference batches, and the length-grouped sampler the padding row proposes.

TRL's DataCollatorForPreference stacks a micro-batch of B pairs as one [2B, L] tensor (B chosen sequences, then B
rejected ones), each sequence = prompt + reply truncated to max_length, L = the longest of the 2B. Every position
costs compute; only the real tokens teach. `padding_stats` counts both for a sequence of micro-batches.

Samplers compared (each yields dataset indices; consecutive runs of B indices form the micro-batches):
- random: torch's RandomSampler, what the Trainer uses by default (train_sampling_strategy="random").
- transformers' LengthGroupedSampler (train_sampling_strategy="group_by_length"): shuffles, cuts the order into
  mega-batches of 50 groups of B x grad_accum, sorts each mega-batch by length, longest first. Within a mega-batch the
  groups therefore arrive longest to shortest: 50 optimizer steps of descending length, then a jump (a saw-tooth in
  every logged per-sequence quantity such as logps/* and rewards/*).
- shuffled_length_groups (below): the same mega-batches and sorted groups, then the groups of the whole epoch are
  shuffled, so batch lengths are uncorrelated with time while each group stays homogeneous.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class PaddingStats:
    real: int = 0
    padded: int = 0  # positions computed: 2B x L per micro-batch
    batches: int = 0

    @property
    def share(self) -> float:
        return self.real / self.padded if self.padded else 0.0


def pair_lengths(prompt: int, chosen: int, rejected: int, max_length: int) -> tuple[int, int]:
    return min(prompt + chosen, max_length), min(prompt + rejected, max_length)


def padding_stats(order: list[int], lengths: list[tuple[int, int]], batch: int) -> PaddingStats:
    """`lengths[i]` = (chosen sequence length, rejected sequence length) of pair i, already truncated."""
    stats = PaddingStats()
    for start in range(0, len(order), batch):
        members = order[start:start + batch]
        seqs = [n for i in members for n in lengths[i]]
        stats.real += sum(seqs)
        stats.padded += len(seqs) * max(seqs)
        stats.batches += 1
    return stats


def shuffled_length_groups(lengths: list[int], group_size: int, *, megabatch_groups: int = 50,
                           seed: int = 0) -> list[int]:
    """Indices in groups of `group_size` pairs of similar length, the groups in random order.

    Shuffle all indices; cut into mega-batches of `megabatch_groups` groups; sort each mega-batch by length and cut
    it into groups; shuffle the groups of the whole epoch. A group is one optimizer step (per-device batch x
    gradient accumulation), so every step still draws a fresh random mega-batch's worth of neighbours, and which
    length comes next is random. Pass a new seed per epoch.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = max(1, megabatch_groups) * group_size
    groups = []
    for start in range(0, len(order), size):
        mega = sorted(order[start:start + size], key=lengths.__getitem__, reverse=True)
        groups += [mega[i:i + group_size] for i in range(0, len(mega), group_size)]
    # Only whole groups are shuffled; the one short group (the epoch's remainder) goes last. Batches are cut from the
    # order every `per-device batch` indices, so a short group in the middle would misalign every batch after it.
    full = [group for group in groups if len(group) == group_size]
    rng.shuffle(full)
    return [i for group in full + [g for g in groups if len(g) < group_size] for i in group]


def descending_share(order: list[int], lengths: list[int], group_size: int) -> float:
    """Share of consecutive optimizer steps whose longest sequence is shorter than the previous step's:
    ~0.5 when step lengths are in random order, near 1.0 for a longest-first sort."""
    maxima = [max(lengths[i] for i in order[s:s + group_size]) for s in range(0, len(order), group_size)]
    pairs = [(a, b) for a, b in zip(maxima, maxima[1:]) if a != b]
    return sum(b < a for a, b in pairs) / len(pairs) if pairs else 0.5


# --- the proposed integration (to move into trlrecipes; exercised by plain_trl_dpo.py --length-groups) ------------
def pair_token_lengths(dataset) -> list[int]:
    """Longest sequence of each tokenized pair (prompt + the longer reply), read from the Arrow columns directly."""
    import pyarrow.compute as pc

    table = dataset.with_format("arrow")[:]
    prompt = pc.list_value_length(table.column("prompt_ids")).to_pylist()
    chosen = pc.list_value_length(table.column("chosen_ids")).to_pylist()
    rejected = pc.list_value_length(table.column("rejected_ids")).to_pylist()
    return [p + max(c, r) for p, c, r in zip(prompt, chosen, rejected)]


def make_sampler(lengths: list[int], group_size: int, seed: int, megabatch_groups: int = 50):
    import torch

    class ShuffledLengthGroupsSampler(torch.utils.data.Sampler):
        """`shuffled_length_groups` with a new seed each epoch; the same order on every process."""

        def __init__(self):
            self.epoch = 0

        def __len__(self):
            return len(lengths)

        def __iter__(self):
            order = shuffled_length_groups(lengths, group_size, megabatch_groups=megabatch_groups,
                                           seed=seed + self.epoch)
            self.epoch += 1
            return iter(order)

    return ShuffledLengthGroupsSampler()


def use_length_groups(trainer) -> None:
    """Make `trainer` (a TRL preference trainer, after construction, before train()) draw length-grouped batches in
    shuffled order. A group is one optimizer step across all processes (accelerate hands consecutive micro-batches
    to the ranks in turn), so every step's micro-batches are alike in length."""
    args = trainer.args
    group = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
    sampler = make_sampler(pair_token_lengths(trainer.train_dataset), group, seed=args.seed)
    trainer._get_train_sampler = lambda train_dataset=None: sampler
