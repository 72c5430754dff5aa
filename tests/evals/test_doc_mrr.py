import pytest

from evals.doc_mrr import DocumentMRREvaluator


def test_docstring_example():
    result = DocumentMRREvaluator(k=10).run(
        ground_truth_documents=[["a.txt"], ["b.txt", "c.txt"], ["d.txt"]],
        retrieved_documents=[["x.txt", "a.txt"], ["y.txt", "y.txt", "c.txt", "b.txt"], ["x.txt"]],
    )
    assert round(result["score"], 4) == 0.2778
    assert result["individual_scores"] == pytest.approx([0.5, 1 / 3, 0.0])


def test_duplicates_of_a_wrong_document_still_take_ranks():
    score = DocumentMRREvaluator().run([["a.txt"]], [["x.txt", "x.txt", "a.txt", "a.txt"]])["score"]
    assert score == pytest.approx(1 / 3)


def test_first_of_two_gold_documents_counts():
    assert DocumentMRREvaluator().run([["a.txt", "b.txt"]], [["x.txt", "b.txt", "a.txt"]])["score"] == 0.5


def test_beyond_k_scores_zero():
    assert DocumentMRREvaluator(k=2).run([["a.txt"]], [["x.txt", "y.txt", "a.txt"]])["score"] == 0.0


def test_empty_retrieval_scores_zero():
    assert DocumentMRREvaluator().run([["a.txt"]], [[]])["score"] == 0.0
