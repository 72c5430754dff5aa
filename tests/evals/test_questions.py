import json
import re

import pytest

from evals.loading import load_questions
from evals.questions import QuestionFileError, select
from tests.conftest import SEED_DEV

GOOD = {"id": "q1", "question": "Ai chủ trì hội nghị?", "answers": ["Trương Thị Mai"], "match": "any",
        "docs": ["001.txt"], "evidence": ["Trương Thị Mai chủ trì"], "answerable": True}
NONE = {"id": "q2", "question": "Giá vàng hôm nay?", "answers": [], "match": "none", "docs": [], "evidence": [],
        "answerable": False, "kind": "unanswerable"}


def write(tmp_path, lines, name="q.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def test_seed_dev_loads_clean():
    qs = load_questions(SEED_DEV)
    assert len(qs.questions) == 30 and qs.issues == [] and qs.format == "jsonl"
    assert sum(q.answerable for q in qs.questions) == 28
    assert qs.questions[0].line == 1 and qs.questions[-1].line == 30


def test_malformed_lines_are_reported_with_file_and_line(tmp_path):
    path = write(tmp_path, [
        GOOD,
        '{"id": "q3", "question": "Thiếu dấu phẩy" "answers": []}',
        {k: v for k, v in GOOD.items() if k not in ("answers", "docs")} | {"id": "q4"},
        GOOD | {"id": "q5", "answers": "Trương Thị Mai"},
        "",
        GOOD | {"id": "q6", "match": "some"},
        GOOD | {"id": "q7", "answerable": "yes"},
        GOOD | {"id": "q8", "match": "none"},
        GOOD,
        '["q9"]',
        NONE,
        GOOD | {"id": "q10", "evidence": [], "docs": [1]},
    ])
    qs = load_questions(path)
    assert [q.id for q in qs.questions] == ["q1", "q2"]
    assert [str(i) for i in qs.issues] == [
        f"{path}:2: not valid JSON: Expecting ',' delimiter (column 43)",
        f"{path}:3: missing fields 'answers', 'docs'",
        f"{path}:4: field 'answers' must be a list of strings, got a string",
        f"{path}:6: field 'match' must be one of 'any', 'all', 'none', got \"some\"",
        f"{path}:7: field 'answerable' must be true or false, got a string",
        f"{path}:8: 'answerable' is true but 'match' is 'none' ('answerable' is false exactly when 'match' is 'none')",
        f"{path}:9: duplicate id 'q1' (first on line 1)",
        f"{path}:10: expected a JSON object, got a list",
        f"{path}:12: field 'docs' must be a list of strings, got a list holding a number",
    ]


def test_answerable_question_needs_gold_data(tmp_path):
    qs = load_questions(write(tmp_path, [GOOD, GOOD | {"id": "q3", "evidence": [" "]}]))
    assert [str(i).split(": ", 1)[1] for i in qs.issues] == ["answerable question with empty 'evidence'"]


def test_strict_stops_at_the_first_bad_line(tmp_path):
    path = write(tmp_path, [GOOD, "{oops", GOOD | {"id": 3}])
    with pytest.raises(QuestionFileError, match=re.escape(f"{path}:2: not valid JSON")):
        load_questions(path, strict=True)


def test_no_valid_question_is_an_error(tmp_path):
    expected = re.escape("No valid question in") + r".*\(2 invalid entries\):\n  .*q.jsonl:1: not valid JSON"
    with pytest.raises(QuestionFileError, match=expected):
        load_questions(write(tmp_path, ["{oops", "[]"]))
    with pytest.raises(QuestionFileError, match="No valid question"):
        load_questions(write(tmp_path, ["", "  "]))


def test_missing_file_and_bad_utf8(tmp_path):
    with pytest.raises(QuestionFileError, match="Question file '.*none.jsonl' not found"):
        load_questions(tmp_path / "none.jsonl")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD, ensure_ascii=False).encode() + b"\n" + '{"id": "Hà"}'.encode("latin-1") + b"\n")
    qs = load_questions(path)
    assert [str(i) for i in qs.issues] == [f"{path}:2: not valid UTF-8 (byte 10 of the line)"]


def test_bom_and_kind_and_limit(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_text("\ufeff" + json.dumps(GOOD) + "\n" + json.dumps(NONE) + "\n", encoding="utf-8")
    qs = load_questions(path)
    assert len(qs.questions) == 2 and qs.kinds == ["unanswerable"]
    assert [q.id for q in select(qs.questions, kind="unanswerable")] == ["q2"]
    assert [q.id for q in select(qs.questions, limit=1)] == ["q1"]
