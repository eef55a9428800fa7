"""TRL's fused log-prob head on CPU with TRL's own torch folds of each logits tile vs trlrecipes' lean ones
(`trlrecipes._compat.lean_head_folds_on_cpu`), side by side in one process, at SmolLM2-135M's head shape
(hidden 576, vocabulary 49152, 4096-column tiles) and the outputs DPOTrainer asks for (log-probs, entropy, mean
logit, top-1). Rows = scored (reply) positions of one forward: ~250-420 in a demo step, thousands with long replies.

Usage: python benchmarks/head_folds.py [--positions 256 1024 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time


def timed(apply, hidden, repeat: int) -> tuple[float, float, list]:
    best_forward = best_backward = float("inf")
    for _ in range(repeat):
        h = hidden.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        out = apply(h)
        middle = time.perf_counter()
        out[0].sum().backward()
        best_forward = min(best_forward, middle - start)
        best_backward = min(best_backward, time.perf_counter() - middle)
    return best_forward, best_backward, [x.detach() for x in out if x is not None] + [h.grad]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from types import SimpleNamespace

    import torch
    import trl.kernels.chunked_logprob as kernels

    from trlrecipes._compat import _FOLD_ATTRS, lean_head_folds_on_cpu

    own = {name: getattr(kernels, name) for name in _FOLD_ATTRS}
    lean_head_folds_on_cpu(SimpleNamespace(args=SimpleNamespace(device=SimpleNamespace(type="cpu"))))
    lean = {name: getattr(kernels, name) for name in _FOLD_ATTRS}
    torch.manual_seed(0)
    hidden_size, vocab = 576, 49152
    weight = torch.randn(vocab, hidden_size) * 0.05
    outputs = ("log_probs", "entropy", "mean_logits", "is_top1")
    print(f"{torch.get_num_threads()} threads; seconds are the best of {args.repeat}")
    print(
        f"{'positions':>9}  {'TRL fwd':>8} {'lean fwd':>8}  {'TRL bwd':>8} {'lean bwd':>8}  {'saved':>6}  max |diff|"
    )
    for n in args.positions:
        hidden = torch.randn(n, hidden_size)
        targets = torch.randint(0, vocab, (n,))

        def apply(h, targets=targets):
            return kernels.ChunkedLogProbFunction.apply(h, weight, None, targets, 1.0, 4096, None, 1.0, outputs)

        results = {}
        for label, folds in (("trl", own), ("lean", lean)):
            for name, fold in folds.items():
                setattr(kernels, name, fold)
            results[label] = timed(apply, hidden, args.repeat)
        (tf, tb, want), (lf, lb, got) = results["trl"], results["lean"]
        diff = max(float((a.float() - b.float()).abs().max()) for a, b in zip(want, got, strict=True))
        print(f"{n:>9}  {tf:>8.3f} {lf:>8.3f}  {tb:>8.3f} {lb:>8.3f}  {tf + tb - lf - lb:>6.3f}  {diff:.1e}")


if __name__ == "__main__":
    main()
