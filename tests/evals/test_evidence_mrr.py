import pytest

from evals.evidence_mrr import EvidenceMRREvaluator


def test_docstring_example():
    result = EvidenceMRREvaluator(k=10).run(hits=[[True, True], [False, False, False, True], [False]])
    assert round(result["score"], 4) == 0.4167
    assert result["individual_scores"] == [1.0, 0.25, 0.0]


def test_first_hit_counts_and_k_cuts():
    assert EvidenceMRREvaluator(k=10).run([[False, True, True]])["score"] == 0.5
    assert EvidenceMRREvaluator(k=1).run([[False, True]])["score"] == 0.0


def test_empty_retrieval():
    assert EvidenceMRREvaluator().run([[]])["score"] == pytest.approx(0.0)
