"""The limit: the model's FLOPs per token and this machine's measured matrix-multiply rate."""

from __future__ import annotations

import time


def matmul_gflops(dtype: str = "float32", n: int = 2048, repeats: int = 5, threads: int | None = None) -> float:
    """Best-of-``repeats`` GFLOP/s of an ``n``×``n`` by ``n``×``n`` torch.matmul."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def encoder_flops_per_token(config, seq_len: int) -> float:
    """Forward FLOPs per token of a BERT-style encoder: 2 × (matmul weights) + attention scores and mixing.

    Per layer: Q, K, V, output projections (4·d²) and the feed-forward (2·d·ffn) weights, each
    used once per token (2 FLOPs per multiply-add); attention adds QKᵀ and AV (2·2·seq·d).
    """
    d, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    weights = layers * (4 * d * d + 2 * d * ffn)
    attention = layers * 4 * seq_len * d
    return 2.0 * weights + attention
