"""Sentence evidence features, on the seed index's keyword statistics."""

import pytest

from rag.answer.evidence import FEATURES, WEIGHTS, Question
from rag.vietnamese import syllables


@pytest.fixture(scope="module")
def question(seed_assistant):
    query = seed_assistant.retriever.analyse("Ai chủ trì hội nghị giao ban công tác xây dựng Đảng?")
    return Question.of(query, seed_assistant.retriever.keywords)


def test_words_in_the_question_order_score_higher_than_the_same_words_shuffled(question):
    ordered = "Đồng chí Mai chủ trì hội nghị giao ban công tác xây dựng Đảng."
    shuffled = "Đảng xây dựng công tác giao ban, hội nghị do đồng chí Mai chủ trì."
    assert question.coverage(question.terms, set(syllables(ordered))) == \
        question.coverage(question.terms, set(syllables(shuffled)))
    assert question.in_order(syllables(ordered)) == pytest.approx(1.0)
    assert 0.0 < question.in_order(syllables(shuffled)) < 0.5
    assert question.in_order(syllables("Hôm nay trời đẹp.")) == 0.0


def test_every_feature_has_a_weight():
    assert len(FEATURES) == len(WEIGHTS) and FEATURES[-1] == "order"
