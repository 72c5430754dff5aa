"""``latency_ms``: percentiles of the time ``Assistant.ask`` took."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    """numpy's ``q``-th percentile (linear interpolation), or None for no values; a bad ``q`` is a ValueError.

    Example::

        percentile([10, 20, 30, 40], 50)      # 25.0
        percentile([10, 20, 30, 40], 95)      # 38.5
    """
    if not 0 <= q <= 100:
        msg = f"Percentile must be between 0 and 100, got {q!r}."
        raise ValueError(msg)
    if not len(values):
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


class LatencyEvaluator:
    """The median and 95th percentile of per-question latencies, in milliseconds.

    Example::

        evaluator = LatencyEvaluator()
        result = evaluator.run(latencies_ms=[12.0, 15.0, 15.0, 200.0])
        print(result["p50"], round(result["p95"], 2))     # 15.0 172.25
    """

    def run(self, latencies_ms: Sequence[float]) -> dict:
        """Summarise the latencies (None values when there are none)."""
        return {"p50": percentile(latencies_ms, 50), "p95": percentile(latencies_ms, 95)}
