"""The scale of DPO's `sft` loss term at the start of a run: the hh-rpo preset's weight comes from this.

TRL's `loss_type=[..., "sft"]` adds the mean negative log-likelihood per token of the chosen reply. This prints that
value for the embedded SmolLM2-135M-Instruct on the chosen replies of real hh-rlhf pairs (the shared 300-row sample,
first N pairs, split into prompt and reply as DPOTrainer splits them, max_length 512), next to the sigmoid DPO
loss at the start (ln 2). Measured: mean 2.37, median 2.33 nats/token on 40 pairs (3.4x ln 2; weight 0.2 -> 0.47).

    python benchmarks/sft_term_scale.py [--pairs 40] [--data ../shared/data/hh-rlhf-sample.jsonl]
"""

import argparse
import math
import statistics
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hh-rlhf-sample.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trlrecipes.data import load_pairs
    from trlrecipes.models import DEMO_MODEL, resolve_model
    from trlrecipes.tools.eval.pairs import _sequence_logps, tokenize_pair

    path = resolve_model(DEMO_MODEL)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()
    rows, _ = load_pairs("hh-rlhf", args.data)
    rows = list(rows.select(range(min(args.pairs, len(rows)))))
    per_token = []
    for start in range(0, len(rows), 8):
        sequences = [
            (prompt, chosen)
            for prompt, chosen, _ in (tokenize_pair(tokenizer, row, 512) for row in rows[start : start + 8])
        ]
        for (_, chosen), logp in zip(
            sequences, _sequence_logps(model, sequences, tokenizer.pad_token_id or 0), strict=True
        ):
            per_token.append(-logp / max(len(chosen), 1))
    mean = statistics.mean(per_token)
    print(
        f"{len(per_token)} chosen replies: NLL per token mean {mean:.2f}, median {statistics.median(per_token):.2f} "
        f"nats; sigmoid DPO loss at the start ln 2 = {math.log(2):.2f}; ratio {mean / math.log(2):.1f}x; "
        f"x 0.2 = {0.2 * mean:.2f}"
    )


if __name__ == "__main__":
    main()
