import re

import pytest

from evals.doc_recall import DocumentRecallEvaluator


def test_docstring_example():
    result = DocumentRecallEvaluator(k=2).run(
        ground_truth_documents=[["a.txt"], ["b.txt", "c.txt"], ["d.txt"]],
        retrieved_documents=[["x.txt", "a.txt"], ["b.txt", "b.txt", "c.txt"], []],
    )
    assert result["score"] == pytest.approx(0.5)
    assert result["individual_scores"] == [1.0, 0.5, 0.0]


def test_two_gold_documents_count_as_halves():
    run = DocumentRecallEvaluator(k=5).run
    assert run([["a.txt", "b.txt"]], [["a.txt", "x.txt", "b.txt"]])["score"] == 1.0
    assert run([["a.txt", "b.txt"]], [["a.txt", "x.txt", "y.txt"]])["score"] == 0.5


def test_duplicate_passages_keep_their_positions():
    # a.txt counts once (rank 1); its other passages still push b.txt to rank 4
    run = DocumentRecallEvaluator(k=3).run
    assert run([["b.txt"]], [["a.txt", "a.txt", "a.txt", "b.txt"]])["score"] == 0.0
    assert DocumentRecallEvaluator(k=4).run([["b.txt"]], [["a.txt", "a.txt", "a.txt", "b.txt"]])["score"] == 1.0


def test_duplicate_gold_documents_count_once():
    assert DocumentRecallEvaluator(k=1).run([["a.txt", "a.txt"]], [["a.txt"]])["score"] == 1.0


def test_empty_retrieval_scores_zero():
    assert DocumentRecallEvaluator(k=10).run([["a.txt"]], [[]]) == {"score": 0.0, "individual_scores": [0.0]}


def test_no_question_gives_none():
    assert DocumentRecallEvaluator().run([], []) == {"score": None, "individual_scores": []}


def test_mismatched_lengths_name_both():
    with pytest.raises(ValueError, match=re.escape("ground_truth_documents (2), retrieved_documents (1)")):
        DocumentRecallEvaluator().run([["a"], ["b"]], [["a"]])


def test_question_without_gold_documents_is_refused():
    with pytest.raises(ValueError, match=re.escape("Question 1 has no ground-truth documents")):
        DocumentRecallEvaluator().run([["a"], []], [["a"], ["b"]])


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        DocumentRecallEvaluator(k)
