import json

import pytest

from evals.matching import answer_matches
from evals.questions import Question
from evals.runner import ANSWER_KEYS, RETRIEVAL_KEYS, compute_metrics, judge
from rag.types import Answer, Citation
from rag.types import Chunk
from rag.types import Retrieved

DOCS = {
    "a.txt": "Hội nghị diễn ra tại 28 điểm cầu. Đồng chí Trương Thị Mai chủ trì hội nghị.",
    "b.txt": "Cụm thi đua số 2 gồm 14 tỉnh, thành phố, từ Lạng Sơn đến Hà Tĩnh.",
    "c.txt": "Thời tiết hôm nay đẹp.",
}
Q_A = Question("q1", "Ai chủ trì hội nghị?", ["Trương Thị Mai"], "any", ["a.txt"],
               ["Đồng chí Trương Thị Mai chủ trì hội nghị"], True)
Q_AB = Question("q2", "Hội nghị và cụm thi đua?", ["28", "14"], "all", ["a.txt", "b.txt"],
                ["28 điểm cầu", "14 tỉnh"], True)
Q_NONE = Question("q3", "Giá vàng hôm nay?", [], "none", [], [], False)


def passage(source, rank, score, start=0, end=None):
    end = len(DOCS[source]) if end is None else end
    chunk = Chunk(source=source, start=start, end=end, text=DOCS[source][start:end], sentences=())
    return Retrieved(chunk=chunk, chunk_id=rank, rank=rank, score=score)


def cite(n, source, start, end):
    return Citation(n=n, source=source, start=start, end=end, quote=DOCS[source][start:end], score=0.9)


def answer(q, passages, citations=(), abstained=False, text=None):
    text = text if text is not None else " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(question=q.question, text=text, citations=list(citations), abstained=abstained,
                  passages=list(passages), confidence=0.7)


def test_ties_keep_the_retriever_order():
    # equal scores: the rank the retriever gave decides, whatever order the list is in
    row = judge(Q_A, answer(Q_A, [passage("a.txt", 2, 0.5), passage("c.txt", 1, 0.5)]), 10.0, DOCS)
    assert row.retrieved_documents == ["c.txt", "a.txt"]
    assert row.doc_ranks == {"a.txt": 2} and row.evidence_rank == 2
    assert row.hits() == {"doc@1": False, "doc@5": True, "doc@10": True,
                          "evidence@1": False, "evidence@5": True, "evidence@10": True}


def test_duplicates_and_two_gold_documents():
    passages = [passage("a.txt", 1, 0.9, 0, 33), passage("a.txt", 2, 0.8, 34), passage("c.txt", 3, 0.5),
                passage("b.txt", 4, 0.4)]
    row = judge(Q_AB, answer(Q_AB, passages, [cite(1, "a.txt", 0, 33), cite(2, "c.txt", 0, 10)]), 5.0, DOCS)
    assert row.doc_ranks == {"a.txt": 1, "b.txt": 4}
    assert [p.evidence_hit for p in row.passages] == [True, False, False, True]
    assert [c.supported for c in row.citations] == [True, False]
    assert not row.correct  # "14" is missing from the answer
    m = compute_metrics([row])
    assert m["retrieval"]["doc_recall@1"] == 0.5 and m["retrieval"]["doc_recall@5"] == 1.0
    assert m["retrieval"]["doc_ndcg@10"] == pytest.approx((1 + 1 / 2.321928) / (1 + 1 / 1.584963), abs=1e-4)
    assert m["answer"]["citation_precision"] == 0.5 and m["answer"]["accuracy"] == 0.0


def test_empty_retrieval_and_unanswerable_questions():
    rows = [judge(Q_A, answer(Q_A, [], abstained=True, text="Tài liệu không có thông tin."), 3.0, DOCS),
            judge(Q_NONE, answer(Q_NONE, [passage("c.txt", 1, 0.1)], abstained=True, text="…"), 7.0, DOCS),
            judge(Q_NONE, answer(Q_NONE, [passage("a.txt", 1, 0.1)], [cite(1, "a.txt", 0, 33)]), 9.0, DOCS)]
    assert rows[0].doc_ranks == {"a.txt": None} and rows[0].evidence_rank is None
    assert rows[1].hits() is None and rows[1].correct and not rows[2].correct
    m = compute_metrics(rows)
    assert m["retrieval"] == {k: 0.0 for k in RETRIEVAL_KEYS}  # only the answerable question counts
    assert m["answer"] == {"accuracy": 0.0, "exact_match": 0.0, "answer_f1": 0.0, "abstention_recall": 0.5,
                           "false_abstention_rate": 1.0, "citation_precision": 0.0, "section_precision": None,
                           "median_answer_chars": 37.0}
    assert m["latency_ms"] == {"p50": 7.0, "p95": 8.8}


def test_only_unanswerable_questions_leave_retrieval_undefined():
    m = compute_metrics([judge(Q_NONE, answer(Q_NONE, [], abstained=True, text="…"), 1.0, DOCS)])
    assert set(m["retrieval"].values()) == {None}
    assert m["answer"]["accuracy"] is None and m["answer"]["abstention_recall"] == 1.0


def test_seed_dev_eval(seed_eval, seed_assistant):
    d = json.loads(json.dumps(seed_eval.to_dict(), ensure_ascii=False))
    assert list(d) == ["n_questions", "retrieval", "answer", "latency_ms", "config", "per_question"]
    assert d["n_questions"] == 30 == len(d["per_question"])
    assert list(d["retrieval"]) == list(RETRIEVAL_KEYS) and list(d["answer"]) == list(ANSWER_KEYS)
    assert list(d["latency_ms"]) == ["p50", "p95"] and 0 < d["latency_ms"]["p50"] <= d["latency_ms"]["p95"]
    assert set(seed_assistant.settings.to_dict()) <= set(d["config"])
    assert d["config"]["top_k"] == d["config"]["k"] == 10 and d["config"]["model_fingerprint"].startswith("builtin:")
    r = d["retrieval"]
    assert 0 <= r["doc_recall@1"] <= r["doc_recall@5"] <= r["doc_recall@10"] <= 1
    rows = d["per_question"]
    answerable = [row for row in rows if row["answerable"]]
    for row in answerable:  # rows and summary agree with the format's rules
        assert row["correct"] == (not row["abstained"] and answer_matches(row["answer"], row["answers"], row["match"]))
    assert d["answer"]["accuracy"] == round(sum(row["correct"] for row in answerable) / len(answerable), 4)
    hits5 = [row["hits"]["evidence@5"] for row in answerable]
    assert r["evidence_recall@5"] == round(sum(hits5) / len(hits5), 4)
    n_chunks = len(seed_assistant.index.chunks)
    for row in rows:
        assert {"id", "question", "answer", "abstained", "correct", "doc_ranks", "evidence_rank", "hits",
                "citations", "passages", "latency_ms"} <= set(row)
        assert len(row["passages"]) == min(10, n_chunks)
        assert (row["hits"] is None) == (not row["answerable"])
        for c in row["citations"]:
            assert seed_assistant.index.texts[c["source"]][c["start"]:c["end"]] == c["quote"]
            assert isinstance(c["supported"], bool)


def test_section_precision_counts_citations_naming_the_gold_article():
    from evals.section_precision import SectionPrecisionEvaluator, article_of

    assert article_of("Điều 35, khoản 2, điểm a") == "35" and article_of(None) is None
    result = SectionPrecisionEvaluator().run(
        ["Điều 35", "Điều 8, khoản 1", None, "Điều 2"],
        [["luat.txt"], ["hon-nhan.txt"], [], ["cu-tru.txt"]],
        [[("luat.txt", "Điều 35, khoản 1"), ("luat.txt", "Điều 34")], [("hon-nhan.txt", "Điều 8")],
         [("x.txt", "Điều 1")], [("luat.txt", "Điều 2")]])  # the right article of the wrong law is wrong
    assert result["individual_scores"] == [0.5, 1.0, None, 0.0]
    assert result["score"] == 2 / 4
