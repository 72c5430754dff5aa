"""Legal texts: their structure, chunks that follow it, citations that name the article, questions by reference.

Over excerpts of a law, a code and a decree (tests/data/legal/), indexed with the real model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.ingest.structure import outline
from rag.search.sections import parse_reference
from tests.conftest import SEEDS

LEGAL = Path(__file__).resolve().parents[1] / "data" / "legal"
CODE = "bo-luat-lao-dong-2019-trich.txt"
RESIDENCE = "luat-cu-tru-2020-trich.txt"
DECREE = "nghi-dinh-12-2022-trich.txt"



def is_content(found, offset: int) -> bool:
    """Is ``text[offset]`` in the outline's content (not the heading block, preamble or sign-off)?"""
    return any(a <= offset < b for a, b in found.content)

def text_of(name: str) -> str:
    return (LEGAL / name).read_text(encoding="utf-8")


# -- structure ---------------------------------------------------------------
@pytest.mark.parametrize(("name", "title", "number"), [
    (CODE, "Bộ luật Lao động 2019", "45/2019/QH14"),
    (RESIDENCE, "Luật Cư trú 2020", "68/2020/QH14"),
    (DECREE, "Nghị định 12/2022/NĐ-CP", "12/2022/NĐ-CP"),
])
def test_the_title_and_number_come_from_the_heading_block(name, title, number):
    found = outline(text_of(name))
    assert (found.title, found.number) == (title, number)


def test_paths_go_from_the_chapter_down_to_the_point():
    text = text_of(CODE)
    found = outline(text)
    at = text.index("b) Ít nhất 30 ngày nếu làm việc theo hợp đồng lao động xác định thời hạn")
    assert [u.label for u in found.path(at)] == ["Chương III", "Mục 3", "Điều 35", "khoản 1", "điểm b"]
    assert found.citation_label(at, at + 20) == "Điều 35, khoản 1, điểm b"
    assert [u.number for u in found.articles()] == ["1", "2", "34", "35", "36", "37"]
    chapter = next(u for u in found.units if u.kind == "chuong" and u.number == "III")
    assert chapter.title == "HỢP ĐỒNG LAO ĐỘNG"
    decree = text_of(DECREE)
    at = decree.index("Phạt tiền đối với người sử dụng lao động có một trong các hành vi")
    labels = [u.label for u in outline(decree).path(at)]
    assert labels[:2] == ["Chương II", "Điều 12"] and labels[2].startswith("khoản")


def test_the_preamble_and_the_sign_off_are_not_content():
    for name, outside in [(CODE, "Căn cứ Hiến pháp"), (DECREE, "Căn cứ Luật Tổ chức Chính phủ"),
                          (DECREE, "TM. CHÍNH PHỦ"), (RESIDENCE, "CHỦ TỊCH QUỐC HỘI")]:
        text = text_of(name)
        assert not is_content(outline(text), text.index(outside)), (name, outside)
    text = text_of(RESIDENCE)
    assert is_content(outline(text), text.index("Luật này được Quốc hội"))  # the closing line says when it passed


def test_prose_has_no_outline():
    assert all(outline(p.read_text(encoding="utf-8")) is None for p in SEEDS.glob("*.txt"))


@pytest.mark.parametrize(("question", "article", "clause", "document"), [
    ("Điều 35 Bộ luật Lao động quy định gì?", "35", None, ("bo", "luat", "lao", "dong")),
    ("theo khoan 1 dieu 35 bo luat lao dong thi bao truoc may ngay", "35", "1", ("bo", "luat", "lao", "dong")),
    ("Khoản 2 Điều 12 Nghị định 12/2022/NĐ-CP phạt bao nhiêu?", "12", "2", ("nghi", "dinh", "12/2022/nd-cp", "phat")),
    ("Điều kiện đăng ký thường trú là gì?", None, None, ()),
])
def test_a_question_names_an_article_with_or_without_diacritics(question, article, clause, document):
    ref = parse_reference(question)
    assert (ref.article, ref.clause, ref.document) == (article, clause, document)


# -- chunks ------------------------------------------------------------------
def test_chunks_follow_the_articles_and_leave_out_the_preamble(encoder, settings):
    from rag.ingest.chunking import Chunker
    from rag.types import Document

    chunker = Chunker(encoder.count_tokens, max_tokens=settings.chunking.chunk_tokens,
                      overhead=encoder.prompt_overhead(settings.embedding.document_prompt))
    for name in (CODE, DECREE, RESIDENCE):
        text = text_of(name)
        found = outline(text)
        chunks = chunker.run(Document(source=name, text=text, sha256=""))
        for c in chunks:
            assert c.section and c.heading.startswith(found.title)
            assert all(is_content(found, a) for a, _ in c.sentences)
            assert c.text == " ".join(text[a:b] for a, b in c.sentences)
            assert encoder.count_tokens(c.indexed_text) <= settings.chunking.chunk_tokens
        sections = [c.section for c in chunks]
        if name == CODE:
            assert "Chương I › Điều 2" in sections  # a whole article in one chunk
            assert any(s.startswith("Chương III › Mục 3 › Điều 35 › khoản") for s in sections)  # split by khoản
            split = next(c for c in chunks if c.section.startswith("Chương III › Mục 3 › Điều 35 › khoản 2"))
            assert "Điều 35. Quyền đơn phương chấm dứt" in split.heading  # the article's heading travels with it
        if name == DECREE:
            assert sections[0] == "Chương I › Điều 1"
            assert any(s.startswith("Chương II › Điều 12 › khoản") for s in sections)


# -- asking ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def legal_qa(tmp_path_factory, settings, encoder):
    from rag import Assistant

    corpus = tmp_path_factory.mktemp("legal") / "corpus"
    shutil.copytree(LEGAL, corpus, ignore=shutil.ignore_patterns("*.md"))
    return Assistant.from_folder(corpus, settings=settings.with_(answerer="reader"),
                                 index_dir=corpus.parent / "index", encoder=encoder)


def assert_exact_and_content(qa, answer):
    for c in answer.citations:
        text = qa.index.texts[c.source]
        assert text[c.start:c.end] == c.quote
        assert is_content(outline(text), c.start), f"cited a preamble or signature: {c.quote!r}"


@pytest.mark.parametrize(("question", "source", "article"), [
    ("Điều 35 Bộ luật Lao động quy định gì?", CODE, "Điều 35"),
    ("dieu 35 bo luat lao dong", CODE, "Điều 35"),
    ("Điều 2 Luật Cư trú quy định gì?", RESIDENCE, "Điều 2"),  # three documents have an Điều 2
    ("Điều 12 Nghị định 12/2022/NĐ-CP quy định về vấn đề gì?", DECREE, "Điều 12"),
])
def test_what_an_article_says_is_answered_from_that_article(legal_qa, question, source, article):
    answer = legal_qa.ask(question)
    assert not answer.abstained
    assert {c.source for c in answer.citations} == {source}
    assert all(c.section.split(",")[0] == article for c in answer.citations)
    heading = legal_qa.index.texts[source]
    assert answer.short_answer.text.startswith(f"{article}. ")
    assert heading[answer.short_answer.start:answer.short_answer.end] == answer.short_answer.text
    assert answer.citations[0].document == outline(heading).title
    assert_exact_and_content(legal_qa, answer)


def test_a_question_answered_by_one_clause_cites_that_clause(legal_qa):
    answer = legal_qa.ask("Theo khoản 1 Điều 35 Bộ luật Lao động, người lao động làm việc theo hợp đồng "
                          "không xác định thời hạn phải báo trước bao nhiêu ngày?")
    assert "45 ngày" in answer.short_answer.text
    assert answer.citations[0].section == "Điều 35, khoản 1, điểm a"
    assert answer.citations[0].location == "Điều 35, khoản 1, điểm a — Bộ luật Lao động 2019"
    assert_exact_and_content(legal_qa, answer)
    unnamed = legal_qa.ask("Người lao động làm việc theo hợp đồng lao động không xác định thời hạn muốn "
                           "đơn phương chấm dứt hợp đồng thì phải báo trước bao nhiêu ngày?")
    assert "45 ngày" in unnamed.short_answer.text and unnamed.citations[0].section.startswith("Điều 35, khoản 1")


def test_the_preamble_is_never_cited(legal_qa):
    for question in ("Nghị định 12/2022/NĐ-CP được ban hành căn cứ vào những luật nào?",
                     "Bộ luật Lao động được ban hành căn cứ vào đâu?", "Ai ký Nghị định 12/2022/NĐ-CP?"):
        assert_exact_and_content(legal_qa, legal_qa.ask(question))


def test_the_cli_and_json_name_the_article(legal_qa):
    from ui.cli import render_answer

    answer = legal_qa.ask("Điều 36 Bộ luật Lao động quy định gì?")
    assert "[1] Điều 36 — Bộ luật Lao động 2019: bo-luat-lao-dong-2019-trich.txt (" in render_answer(answer)
    cited = answer.to_dict()["citations"][0]
    assert (cited["section"], cited["document"]) == ("Điều 36", "Bộ luật Lao động 2019")


def test_an_article_the_named_law_lacks_is_not_taken_from_another_law(legal_qa):
    answer = legal_qa.ask("Điều 36 Luật Cư trú quy định gì?")  # the excerpt of Luật Cư trú stops at Điều 12
    assert not any(c.section and c.section.startswith("Điều 36") for c in answer.citations)


def test_the_structure_is_read_the_same_from_word_and_html():
    import html
    import io

    import docx

    from rag.ingest.formats import read

    text = text_of(DECREE)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    page = "<html><body><article>" + "".join(f"<p>{html.escape(line)}</p>" for line in lines) + "</article></body></html>"
    expected = outline(text)
    for raw, suffix in ((buffer.getvalue(), ".docx"), (page.encode(), ".html")):
        found = outline(read(raw, f"nd{suffix}", suffix).text)
        assert (found.title, found.number) == (expected.title, expected.number), suffix
        assert [(u.kind, u.number) for u in found.units] == [(u.kind, u.number) for u in expected.units], suffix


def test_the_structure_survives_a_pdf():
    """PDF lines are rejoined into paragraphs; a line opening a khoản or điểm must start one."""
    from fpdf import FPDF

    from benchmarks.ocr_cer import FONT
    from rag.ingest.formats import read

    if not Path(FONT).exists():
        pytest.skip(f"needs the DejaVu font ({FONT}; apt-get install fonts-dejavu-core)")
    text = text_of(DECREE)
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("dejavu", "", FONT)
    pdf.set_font("dejavu", size=10)
    for line in (line.strip() for line in text.split("\n")):
        if line:
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    found, expected = outline(read(bytes(pdf.output()), "nd.pdf", ".pdf").text), outline(text)
    assert found.title == expected.title
    assert [(u.kind, u.number) for u in found.units] == [(u.kind, u.number) for u in expected.units]
