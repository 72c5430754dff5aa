import copy
import json

from evals.plots import recall_curve, write_plots
from evals.questions import Question
from evals.report import compare, failure_reasons, markdown_report, read_json, summary_table, write_json
from evals.runner import EvalResult, compute_metrics, judge
from tests.evals.test_runner import DOCS, Q_A, Q_NONE, answer, cite, passage


def synthetic_result():
    q_kind = Question("q4", "Ai chủ trì?", ["Trương Thị Mai"], "any", ["a.txt"], ["Trương Thị Mai"], True,
                      kind="no-diacritics")
    rows = [judge(Q_A, answer(Q_A, [passage("c.txt", 1, 0.3), passage("a.txt", 2, 0.2)],
                              [cite(1, "a.txt", 34, 76)]), 12.0, DOCS),
            judge(q_kind, answer(q_kind, [passage("c.txt", 1, 0.3)], abstained=True, text="Không có."), 20.0, DOCS),
            judge(Q_NONE, answer(Q_NONE, [passage("a.txt", 1, 0.1)], [cite(1, "a.txt", 0, 33)]), 30.0, DOCS)]
    m = compute_metrics(rows)
    config = {"corpus": "docs", "questions": "q.jsonl", "k": 10, "model_fingerprint": "builtin:x",
              "invalid_lines": ["q.jsonl:3: missing field 'docs'"]}
    return EvalResult(m["retrieval"], m["answer"], m["latency_ms"], config, rows)


def test_failure_reasons():
    rows = synthetic_result().per_question
    assert failure_reasons(rows[0]) == []
    assert failure_reasons(rows[1]) == ["abstained on an answerable question",
                                        "no gold document in the top 1 passages"]
    assert failure_reasons(rows[2]) == ["answered a question the documents do not answer"]


def test_markdown_report():
    md = markdown_report(synthetic_result())
    assert "| doc_recall@5 | 0.500 |" in md and "| latency_ms p50 | 20.0 |" in md
    assert "| no-diacritics | 1 | 0.000 |" in md and "| (no kind) | 2 | 1.000 |" in md
    assert "1 invalid line skipped." in md and "- `q.jsonl:3: missing field 'docs'`" in md
    assert "## Failures (2)" in md and "### q4: Ai chủ trì?" in md
    assert "- **gold** (any): Trương Thị Mai — in a.txt" in md
    assert "1. `c.txt` (0–22, 0.3000): Thời tiết hôm nay đẹp.…" in md


def test_summary_table_of_none_values():
    table = summary_table({"n_questions": 0, "retrieval": {}, "answer": {}, "latency_ms": {}})
    assert "| doc_ndcg@10 | — |" in table


def test_json_round_trip_and_compare(tmp_path):
    result = synthetic_result()
    a = read_json(write_json(result, tmp_path / "a.json"))
    b = copy.deepcopy(a)
    b["retrieval"]["doc_ndcg@10"] = a["retrieval"]["doc_ndcg@10"] + 0.25
    b["latency_ms"]["p50"] = 35.5
    b["config"]["k"] = 5
    out = compare(a, b, names=("a.json", "b.json"))
    lines = out.splitlines()
    assert lines[0].split() == ["metric", "a.json", "b.json", "Δ", "(B", "−", "A)"]
    row = next(line for line in lines if line.startswith("doc_ndcg@10"))
    assert row.split()[-1] == "+0.250"
    assert next(line for line in lines if line.startswith("latency_ms p50")).split()[-1] == "+15.5"
    assert "Config differences:" in out and "  k: 10 → 5" in out


def test_read_json_errors(tmp_path):
    import pytest

    from evals.report import ReportError

    with pytest.raises(ReportError, match="not found"):
        read_json(tmp_path / "none.json")
    (tmp_path / "x.json").write_text(json.dumps({"n_questions": 1}), encoding="utf-8")
    with pytest.raises(ReportError, match="missing 'retrieval', 'answer', 'latency_ms'"):
        read_json(tmp_path / "x.json")


def test_plots(tmp_path, seed_eval):
    curve = recall_curve(seed_eval.per_question, 10)
    assert len(curve["doc_recall"]) == 10 and round(curve["doc_recall"][4], 4) == seed_eval.retrieval["doc_recall@5"]
    assert curve["doc_recall"] == sorted(curve["doc_recall"])
    paths = write_plots(seed_eval, tmp_path / "plots")
    assert [p.name for p in paths] == ["recall_at_k.png", "latency_ms.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
