from evals.answer_length import AnswerLengthEvaluator


def test_docstring_example():
    result = AnswerLengthEvaluator().run(
        answers=["Hà Tĩnh. [1]", "28 điểm cầu. [1]", "Tài liệu không có…"], abstained=[False, False, True])
    assert result["score"] == 14.0
    assert result["individual_scores"] == [12, 16, None]


def test_odd_count_and_ties():
    assert AnswerLengthEvaluator().run(["aaa", "aaa", "a"], [False, False, False])["score"] == 3.0


def test_everything_abstained_gives_none():
    assert AnswerLengthEvaluator().run(["x"], [True])["score"] is None
