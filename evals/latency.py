"""``latency_ms``: percentiles of the time ``Assistant.ask`` took."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation between closest ranks (numpy's default).

    Example::

        percentile([10, 20, 30, 40], 50)      # 25.0
        percentile([10, 20, 30, 40], 95)      # 38.5
    """
    if not 0 <= q <= 100:
        msg = f"Percentile must be between 0 and 100, got {q!r}."
        raise ValueError(msg)
    if not values:
        return None
    ordered = sorted(float(v) for v in values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


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
