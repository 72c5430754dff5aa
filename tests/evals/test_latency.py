import pytest

from evals.latency import LatencyEvaluator, percentile


def test_docstring_examples():
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    result = LatencyEvaluator().run(latencies_ms=[12.0, 15.0, 15.0, 200.0])
    assert result["p50"] == 15.0
    assert round(result["p95"], 2) == 172.25


def test_order_does_not_matter_and_ties_are_kept():
    assert percentile([40, 10, 30, 20], 50) == 25.0
    assert percentile([5, 5, 5], 95) == 5.0
    assert percentile([7], 95) == 7.0


def test_empty_and_bad_percentile():
    assert LatencyEvaluator().run([]) == {"p50": None, "p95": None}
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
