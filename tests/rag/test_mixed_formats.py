"""Acceptance: the seed articles saved as .docx, .pdf, .html and Windows-1258 .txt answer the seed dev questions.

``tests/data/seeds_mixed/`` holds seeds 000–003 in those four formats (``make_fixtures.py``);
seed 004 is the UTF-8 original. Every gold document is therefore in another format than the
text it was written in, and citations must still quote the indexed text exactly.
"""

import json
import shutil
from pathlib import PurePosixPath

import pytest

from evals.matching import answer_matches, evidence_hit
from rag import Assistant
from tests.conftest import DATA, SEED_DEV, SEEDS

QUESTIONS = [json.loads(line) for line in SEED_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
ANSWERABLE = [q for q in QUESTIONS if q["answerable"]]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, settings, encoder):
    corpus = tmp_path_factory.mktemp("mixed")
    for path in (DATA / "seeds_mixed").iterdir():
        shutil.copy(path, corpus / path.name)
    shutil.copy(SEEDS / "004_67d702c3fe2dbdbb.txt", corpus)
    qa = Assistant.from_folder(corpus, settings=settings, index_dir=tmp_path_factory.mktemp("mixed-index"),
                               encoder=encoder)
    # the sentence answerer: what is under test is reading each format, and it answers in milliseconds
    return qa, {q["id"]: qa.ask(q["question"], answerer="sentences") for q in QUESTIONS}


def stem(name: str) -> str:
    return PurePosixPath(name).stem


def test_every_format_is_indexed(mixed):
    qa, _ = mixed
    assert sorted(PurePosixPath(s).suffix for s in qa.index.texts) == [".docx", ".html", ".pdf", ".txt", ".txt"]
    assert qa.report.skipped == []


def test_evidence_in_top_5_across_formats(mixed):
    qa, answers = mixed
    hits = []
    for q in ANSWERABLE:
        docs = [s for s in qa.index.texts if stem(s) in {stem(d) for d in q["docs"]}]
        if any(evidence_hit(p.chunk.text, p.chunk.source, p.chunk.start, p.chunk.end, q["evidence"], docs,
                            qa.index.texts[p.chunk.source]) for p in answers[q["id"]].passages[:5]):
            hits.append(q["id"])
    assert len(hits) >= 27, sorted({q["id"] for q in ANSWERABLE} - set(hits))


def test_answers_across_formats(mixed):
    _, answers = mixed
    right = [q["id"] for q in ANSWERABLE
             if not answers[q["id"]].abstained and answer_matches(answers[q["id"]].text, q["answers"], q["match"])]
    assert len(right) >= 25, sorted({q["id"] for q in ANSWERABLE} - set(right))  # as from plain text


def test_citations_point_into_each_format_and_quote_exactly(mixed):
    qa, answers = mixed
    cited = set()
    for a in answers.values():
        for c in a.citations:
            assert qa.index.texts[c.source][c.start : c.end] == c.quote
            cited.add(c.source)
    assert {PurePosixPath(s).suffix for s in cited} == {".docx", ".pdf", ".html", ".txt"}
    assert "003_5072486995dc572e.txt" in cited  # the Windows-1258 file


def test_pdf_citations_know_their_page(mixed):
    qa, answers = mixed
    pages = {qa.index.page_of(c.source, c.start) for a in answers.values() for c in a.citations
             if c.source.endswith(".pdf")}
    assert pages and pages <= {1, 2} and None not in pages
    assert qa.index.page_of("004_67d702c3fe2dbdbb.txt", 0) is None
