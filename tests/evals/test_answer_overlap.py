from evals.answer_overlap import SpanOverlapEvaluator, exact_match, f1, normalise


def test_normalisation_ignores_case_tone_placement_punctuation_and_markers():
    assert normalise("Thanh Hoá, [1]") == normalise("thanh hóa") == "thanh hoá"


def test_exact_match_and_f1_take_the_best_gold():
    assert exact_match("14 tỉnh", ["14", "14 tỉnh"]) == 1.0
    assert f1("tỉnh Nghệ An", ["Nghệ An", "Hà Tĩnh"]) == 0.8
    assert f1("Huế", ["Nghệ An"]) == 0.0


def test_abstentions_score_zero():
    r = SpanOverlapEvaluator().run(["Thanh Hoá", "tỉnh Nghệ An", "Huế"], [["Thanh Hóa"], ["Nghệ An"], ["Huế"]],
                                   [False, False, True])
    assert r["individual_em"] == [1.0, 0.0, 0.0] and round(r["answer_f1"], 4) == 0.6
