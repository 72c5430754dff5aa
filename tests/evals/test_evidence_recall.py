from evals.evidence_recall import EvidenceRecallEvaluator


def test_docstring_example():
    result = EvidenceRecallEvaluator(k=1).run(hits=[[True, False], [False, True], []])
    assert round(result["score"], 4) == 0.3333
    assert result["individual_scores"] == [1.0, 0.0, 0.0]


def test_several_hits_count_once():
    assert EvidenceRecallEvaluator(k=5).run([[True, True, True]])["score"] == 1.0


def test_hit_beyond_k_misses():
    assert EvidenceRecallEvaluator(k=5).run([[False] * 5 + [True]])["score"] == 0.0
    assert EvidenceRecallEvaluator(k=6).run([[False] * 5 + [True]])["score"] == 1.0


def test_empty_retrieval_and_no_question():
    assert EvidenceRecallEvaluator().run([[]])["score"] == 0.0
    assert EvidenceRecallEvaluator().run([]) == {"score": None, "individual_scores": []}
