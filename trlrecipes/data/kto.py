"""Preference pairs to KTO's unpaired format, and KTO loss weights for the resulting class balance.

TRL's KTOTrainer takes conversational rows {"prompt": [messages], "completion": [assistant message], "label": bool}
(label True: desirable). Each pair gives one desirable row (its chosen reply) and one undesirable row (its rejected
reply), next to each other; other columns are copied to both.
"""

from __future__ import annotations

from trlrecipes.errors import UserError


def _unpair(batch: dict) -> dict:
    out = {
        name: [value for value in values for _ in range(2)]
        for name, values in batch.items()
        if name not in ("chosen", "rejected")
    }
    out["completion"] = [reply for pair in zip(batch["chosen"], batch["rejected"], strict=False) for reply in pair]
    out["label"] = [True, False] * len(batch["chosen"])
    return out


def to_unpaired(pairs):
    """Return (unpaired datasets.Dataset, {"desirable": n, "undesirable": n})."""
    from datasets import Features, Value

    features = {name: feat for name, feat in pairs.features.items() if name not in ("chosen", "rejected")}
    features = Features({**features, "completion": pairs.features["chosen"], "label": Value("bool")})
    unpaired = pairs.map(
        _unpair, batched=True, remove_columns=pairs.column_names, features=features, desc="Unpairing for KTO"
    )
    desirable = sum(unpaired["label"])
    return unpaired, {"desirable": desirable, "undesirable": len(unpaired) - desirable}


def kto_weights(balance: dict) -> tuple[float, float]:
    """(desirable_weight, undesirable_weight) for KTOConfig.

    The KTO paper (Ethayarajh et al., 2024, eq. 8) recommends desirable_weight * n_desirable /
    (undesirable_weight * n_undesirable) in [1, 4/3]. We keep the majority class at 1 and raise the minority's
    weight to match it (ratio 1), so the majority's loss scale is untouched; the weight is rounded to 2 decimals
    in the direction that keeps the ratio >= 1, which also passes TRL's own 2-decimal range check.
    """
    n_d, n_u = balance["desirable"], balance["undesirable"]
    if n_d <= 0 or n_u <= 0:
        raise UserError(f"KTO needs desirable and undesirable examples; got {n_d} desirable and {n_u} undesirable")
    if n_d < n_u:
        return -(-100 * n_u // n_d) / 100, 1.0  # ceil: ratio just above 1
    if n_u < n_d:
        return 1.0, (100 * n_d // n_u) / 100  # floor: ratio just above 1
    return 1.0, 1.0


def check_batch(per_device_train_batch_size: int) -> None:
    """With one row per device batch, KTO's KL estimate would be the row's own reward."""
    if per_device_train_batch_size < 2:
        raise UserError(
            f"per_device_train_batch_size={per_device_train_batch_size}: KTO needs at least 2 rows per "
            f"device batch (its KL estimate pairs each prompt with another row's reply); use 2 or more "
            f"and lower gradient_accumulation_steps to keep the effective batch"
        )
