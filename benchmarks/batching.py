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
- shuffled_length_groups (trlrecipes.data.batching, the recipes' default since group_by_length=True): the same
  mega-batches and sorted groups, then the groups of the whole epoch are shuffled, so batch lengths are uncorrelated
  with time while each group stays homogeneous.
"""

from __future__ import annotations

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
        members = order[start : start + batch]
        seqs = [n for i in members for n in lengths[i]]
        stats.real += sum(seqs)
        stats.padded += len(seqs) * max(seqs)
        stats.batches += 1
    return stats


def descending_share(order: list[int], lengths: list[int], group_size: int) -> float:
    """Share of consecutive optimizer steps whose longest sequence is shorter than the previous step's:
    ~0.5 when step lengths are in random order, near 1.0 for a longest-first sort."""
    maxima = [max(lengths[i] for i in order[s : s + group_size]) for s in range(0, len(order), group_size)]
    pairs = [(a, b) for a, b in zip(maxima, maxima[1:], strict=False) if a != b]
    return sum(b < a for a, b in pairs) / len(pairs) if pairs else 0.5
