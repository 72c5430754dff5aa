from evals.abstention import AbstentionEvaluator


def test_docstring_example():
    result = AbstentionEvaluator().run(answerable=[True, True, True, True, False, False],
                                       abstained=[False, True, False, False, True, False])
    assert result["abstention_recall"] == 0.5
    assert result["false_abstention_rate"] == 0.25
    assert result["individual_scores"] == [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]


def test_a_missing_kind_of_question_gives_none():
    result = AbstentionEvaluator().run(answerable=[True, True], abstained=[False, False])
    assert result["abstention_recall"] is None
    assert result["false_abstention_rate"] == 0.0
