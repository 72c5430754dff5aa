import math

import pytest

from evals.doc_ndcg import DocumentNDCGEvaluator


def test_docstring_example():
    result = DocumentNDCGEvaluator(k=10).run(
        ground_truth_documents=[["a.txt"], ["a.txt", "b.txt"]],
        retrieved_documents=[["a.txt", "a.txt"], ["x.txt", "a.txt", "a.txt", "b.txt"]],
    )
    assert round(result["score"], 4) == 0.8255
    assert [round(s, 4) for s in result["individual_scores"]] == [1.0, 0.6509]


def test_dcg_and_idcg_by_hand():
    assert DocumentNDCGEvaluator.calculate_dcg([1, 3]) == pytest.approx(1 + 1 / math.log2(4))
    assert DocumentNDCGEvaluator.calculate_idcg(2, 10) == pytest.approx(1 + 1 / math.log2(3))
    assert DocumentNDCGEvaluator.calculate_idcg(5, 2) == pytest.approx(1 + 1 / math.log2(3))


def test_duplicate_passages_gain_once():
    # a at 1 (its second passage at 2 gains nothing), b at 3: (1 + 1/2) / (1 + 1/log2 3)
    score = DocumentNDCGEvaluator().run([["a.txt", "b.txt"]], [["a.txt", "a.txt", "b.txt"]])["score"]
    assert score == pytest.approx(0.9197, abs=1e-4)


def test_one_of_two_gold_documents_found():
    score = DocumentNDCGEvaluator().run([["a.txt", "b.txt"]], [["a.txt"]])["score"]
    assert score == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ideal_ranking_is_capped_at_k():
    assert DocumentNDCGEvaluator(k=2).run([["a.txt", "b.txt", "c.txt"]], [["b.txt", "a.txt", "c.txt"]])["score"] == 1.0


def test_empty_retrieval_and_no_question():
    assert DocumentNDCGEvaluator().run([["a.txt"]], [[]])["score"] == 0.0
    assert DocumentNDCGEvaluator().run([], [])["score"] is None
