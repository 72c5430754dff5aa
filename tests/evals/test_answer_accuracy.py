import re

import pytest

from evals.answer_accuracy import AnswerAccuracyEvaluator


def test_docstring_example():
    result = AnswerAccuracyEvaluator().run(
        answers=["Tỉnh Thanh Hoá và Nghệ An. [1]", "Nghệ An. [1]", "Hà Tĩnh [1]"],
        ground_truth_answers=[["Thanh Hóa", "Nghệ An"], ["Thanh Hóa", "Nghệ An"], ["Hà Tĩnh"]],
        matches=["all", "all", "any"],
        abstained=[False, False, True],
    )
    assert round(result["score"], 4) == 0.3333
    assert result["individual_scores"] == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("answer", [
    "Đồng chí TRƯƠNG THỊ MAI chủ trì. [1]",          # case
    "Đồng chí Trương  Thị\nMai chủ trì. [1]",         # whitespace
    "Đồng chí Trương Thi\u0323 Mai chủ trì. [1]",     # decomposed (NFD) tone mark
])
def test_normalised_matching(answer):
    assert AnswerAccuracyEvaluator().run([answer], [["Trương Thị Mai"]], ["any"], [False])["score"] == 1.0


def test_tone_placement_variants_match():
    run = AnswerAccuracyEvaluator().run
    assert run(["Khánh Hoà, Thừa Thiên Huế [1]"], [["Khánh Hòa"]], ["any"], [False])["score"] == 1.0
    assert run(["thuỷ điện [1]"], [["thủy điện"]], ["any"], [False])["score"] == 1.0


def test_any_needs_one_and_all_needs_every_one():
    run = AnswerAccuracyEvaluator().run
    gold = [["28", "hai mươi tám"]]
    assert run(["tại 28 điểm cầu"], gold, ["any"], [False])["score"] == 1.0
    assert run(["tại 28 điểm cầu"], gold, ["all"], [False])["score"] == 0.0


def test_unanswerable_questions_are_refused():
    with pytest.raises(ValueError, match=re.escape("got match ['none']")):
        AnswerAccuracyEvaluator().run(["…"], [[]], ["none"], [True])


def test_no_question_gives_none():
    assert AnswerAccuracyEvaluator().run([], [], [], [])["score"] is None
