"""Asking without the documents that answer (issue 28): the retriever's ``exclude``, the library's
per-call option, and ``virag eval --gold-removed``, which scores such questions as unanswerable."""

from __future__ import annotations

from pathlib import Path

from evals.loading import load_questions
from evals.runner import EvalRunner, without_gold

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"
GOLD = "004_67d702c3fe2dbdbb.txt"


def test_excluded_sources_are_searched_as_if_absent(seed_assistant):
    retriever = seed_assistant.retriever
    everything = retriever.run(QUESTION, 20)
    assert everything.passages[0].chunk.source == GOLD
    without = retriever.run(QUESTION, 5, exclude={GOLD})
    assert GOLD not in {p.chunk.source for p in without.passages}
    # the others keep their order and scores: a document's absence changes nothing else
    rest = [(p.chunk_id, round(p.score, 4)) for p in everything.passages if p.chunk.source != GOLD][:5]
    assert [(p.chunk_id, round(p.score, 4)) for p in without.passages] == rest
    assert [p.rank for p in without.passages] == [1, 2, 3, 4, 5]


def test_the_library_and_the_chain_take_it(seed_assistant):
    answer = seed_assistant.ask(QUESTION, answerer="reader", exclude=[GOLD])
    assert all(c.source != GOLD for c in answer.citations)
    assert all(p.chunk.source != GOLD for p in answer.passages)
    assert answer.abstained  # the reader: related text is there, the answer is not
    chained = seed_assistant.chain.invoke({"question": QUESTION, "answerer": "reader", "exclude": [GOLD]})
    assert chained.abstained and chained.text == answer.text


def test_eval_gold_removed_scores_answerable_questions_as_unanswerable(seed_assistant):
    questions = [q for q in load_questions(ROOT / "evals" / "seed_dev.jsonl").questions if GOLD in q.docs][:3]
    assert questions and all(q.answerable for q in questions)
    assert not without_gold(questions[0]).answerable and without_gold(questions[0]).docs == []
    result = EvalRunner(seed_assistant, k=5, gold_removed=True).run(questions)
    assert result.config["gold_removed"] is True
    for row in result.per_question:
        assert not row.question.answerable
        assert GOLD not in row.retrieved_documents
    abstained = sum(row.abstained for row in result.per_question)
    assert result.answer["abstention_recall"] == round(abstained / len(questions), 4)
