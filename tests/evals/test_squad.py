import json
import re

import pytest

from evals.loading import load_questions
from evals.questions import QuestionFileError
from evals.squad import check_corpus, doc_name, load_squad, parse_with_lines, slug, write_corpus

SQUAD = {
    "version": "1.1",
    "data": [
        {"title": "Hồ Chí Minh (thành phố)", "paragraphs": [
            {"context": "Thành phố Hồ Chí Minh là thành phố lớn nhất Việt Nam, nằm ở Nam Bộ bên sông Sài Gòn.",
             "qas": [
                 {"id": "hcm-1", "question": "Thành phố lớn nhất Việt Nam là thành phố nào?",
                  "answers": [{"text": "Thành phố Hồ Chí Minh", "answer_start": 0},
                              {"text": "Thành phố Hồ Chí Minh", "answer_start": 0}]},
                 {"id": "hcm-2", "question": "Thành phố Hồ Chí Minh nằm bên sông nào?",
                  "answers": [{"text": "sông Sài Gòn", "answer_start": 73}]},
             ]},
            {"context": "Chợ Bến Thành được xây dựng lại vào năm 1912 và là biểu tượng của thành phố.",
             "qas": [
                 {"id": "hcm-3", "question": "Chợ Bến Thành được xây dựng lại vào năm nào?",
                  "answers": [{"text": "1912", "answer_start": 36}]},
                 {"id": "hcm-4", "answers": [{"text": "1912"}]},
             ]},
        ]},
        {"title": "Hà Nội", "paragraphs": [
            {"context": "Hà Nội là thủ đô của Việt Nam, nằm bên bờ sông Hồng, có Hồ Gươm ở trung tâm.",
             "qas": [
                 {"id": "hn-1", "question": "Hà Nội nằm bên sông nào?",
                  "answers": [{"text": "sông Hồng", "answer_start": 42}]},
                 {"id": "hn-2", "question": "Dân số Hà Nội năm 2050 là bao nhiêu?", "answers": [],
                  "is_impossible": True},
             ]},
        ]},
    ],
}


@pytest.fixture
def squad_file(tmp_path):
    path = tmp_path / "tiny-squad.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_names():
    assert slug("Hồ Chí Minh (thành phố)") == "ho-chi-minh-thanh-pho"
    assert doc_name("Thành phố Hồ Chí Minh", 2) == "thanh-pho-ho-chi-minh-002.txt"
    assert slug("???") == "article"


def test_parse_with_lines():
    obj = parse_with_lines('{"a": [\n  {"b": 1},\n\n  {"c": {"d": 2}}]}')
    assert obj.line == 1 and obj["a"][0].line == 2 and obj["a"][1].line == 4 and obj["a"][1]["c"].line == 4


def test_load_squad(squad_file):
    qs = load_questions(squad_file)
    assert qs.format == "squad"
    assert [q.id for q in qs.questions] == ["hcm-1", "hcm-2", "hcm-3", "hn-1", "hn-2"]
    first = qs.questions[0]
    assert first.answers == ["Thành phố Hồ Chí Minh"] and first.evidence == first.answers  # duplicates merged
    assert first.docs == ["ho-chi-minh-thanh-pho-000.txt"] and first.match == "any" and first.answerable
    assert qs.questions[2].docs == ["ho-chi-minh-thanh-pho-001.txt"]
    impossible = qs.questions[-1]
    assert (impossible.match, impossible.answerable, impossible.docs) == ("none", False, [])
    assert sorted(qs.contexts) == ["ha-noi-000.txt", "ho-chi-minh-thanh-pho-000.txt", "ho-chi-minh-thanh-pho-001.txt"]
    lines = json.dumps(SQUAD, ensure_ascii=False, indent=1).splitlines()
    line = next(n for n, text in enumerate(lines) if '"hcm-4"' in text)  # 1-based: the line of its '{'
    assert lines[line - 1].strip() == "{"
    assert [str(i) for i in qs.issues] == [
        f"{squad_file}:{line}: data[0].paragraphs[1].qas[1]: missing field 'question'"]


def test_strict_and_broken_json(tmp_path, squad_file):
    with pytest.raises(QuestionFileError, match=re.escape("data[0].paragraphs[1].qas[1]: missing field 'question'")):
        load_squad(squad_file, strict=True)
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [\n  {"title": "x",,}\n]}', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=re.escape(f"{broken}:2: not valid JSON")):
        load_questions(broken)
    not_squad = tmp_path / "other.json"
    not_squad.write_text('{"questions": []}', encoding="utf-8")
    with pytest.raises(QuestionFileError, match="not a SQuAD file"):
        load_questions(not_squad)


def test_write_and_check_corpus(tmp_path, squad_file):
    qs = load_squad(squad_file)
    corpus = tmp_path / "corpus"
    assert check_corpus(qs.contexts, corpus) == sorted(qs.contexts, key=list(qs.contexts).index)
    assert write_corpus(qs.contexts, corpus) == 3
    assert (corpus / "ha-noi-000.txt").read_text(encoding="utf-8").startswith("Hà Nội là thủ đô")
    assert write_corpus(qs.contexts, corpus) == 0 and check_corpus(qs.contexts, corpus) == []
    (corpus / "ha-noi-000.txt").write_text("khác", encoding="utf-8")
    assert check_corpus(qs.contexts, corpus) == ["ha-noi-000.txt"]


def test_eval_over_a_squad_corpus(tmp_path, squad_file, settings, encoder):
    from evals.runner import EvalRunner
    from rag import Assistant

    qs = load_squad(squad_file)
    write_corpus(qs.contexts, tmp_path / "corpus")
    qa = Assistant.from_folder(tmp_path / "corpus", settings=settings.with_(top_k=10), index_dir=tmp_path / "idx",
                               encoder=encoder)
    result = EvalRunner(qa, k=10).run(qs.questions)
    assert result.n_questions == 5
    assert result.retrieval["doc_recall@10"] == 1.0  # three passages: all are retrieved
    assert result.retrieval["evidence_recall@5"] == 1.0
    assert result.retrieval["doc_recall@1"] >= 0.5
