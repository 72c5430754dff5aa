from evals.citation_precision import CitationPrecisionEvaluator


def test_docstring_example():
    result = CitationPrecisionEvaluator().run(supported=[[True, False], [], [True]])
    assert round(result["score"], 4) == 0.6667
    assert result["individual_scores"] == [0.5, None, 1.0]


def test_micro_average_weights_each_citation():
    # per-question mean would be (1 + 0) / 2 = 0.5; per citation it is 3 / 4
    assert CitationPrecisionEvaluator().run([[True, True, True], [False]])["score"] == 0.75


def test_no_citation_at_all_gives_none():
    assert CitationPrecisionEvaluator().run([[], []])["score"] is None
