"""Tables stay whole: a row is never split, a table that fits is one chunk, a longer one is cut between
rows with its header row carried along; a question about one row cites that row."""

from __future__ import annotations

import pytest

PROVINCES = ["Hà Nội", "Hải Phòng", "Quảng Ninh", "Bắc Ninh", "Thái Nguyên", "Nam Định", "Thanh Hóa", "Nghệ An",
             "Hà Tĩnh", "Quảng Bình", "Huế", "Đà Nẵng", "Quảng Nam", "Khánh Hòa", "Đắk Lắk", "Lâm Đồng",
             "Bình Dương", "Đồng Nai", "Cần Thơ"]
HEADER = ["STT", "Tỉnh, thành phố", "Số doanh nghiệp mới", "Vốn đăng ký (tỷ đồng)"]


def rows() -> list[list[str]]:
    return [[str(i + 1), name, f"{1200 + 37 * i:,}".replace(",", "."), f"{8150 + 413 * i:,}".replace(",", ".")]
            for i, name in enumerate(PROVINCES)]


@pytest.fixture(scope="module")
def table_qa(tmp_path_factory, settings, encoder):
    import docx

    from rag import Assistant

    corpus = tmp_path_factory.mktemp("tables") / "corpus"
    corpus.mkdir()
    document = docx.Document()
    document.add_heading("Báo cáo doanh nghiệp thành lập mới năm 2025", level=1)
    document.add_paragraph("Bảng dưới đây thống kê số doanh nghiệp thành lập mới và vốn đăng ký của 19 tỉnh, "
                           "thành phố trong năm 2025, theo số liệu của Cục Quản lý đăng ký kinh doanh.")
    table = document.add_table(rows=1 + len(PROVINCES), cols=len(HEADER))
    for r, values in enumerate([HEADER, *rows()]):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    document.add_paragraph("Số liệu được tổng hợp đến hết ngày 31 tháng 12 năm 2025.")
    document.save(corpus / "doanh-nghiep-2025.docx")
    return Assistant.from_folder(corpus, settings=settings.with_(answerer="reader"), index_dir=corpus.parent / "index",
                                 encoder=encoder)


def test_rows_are_never_split_and_long_tables_carry_their_header(table_qa):
    text = table_qa.index.texts["doanh-nghiep-2025.docx"]
    lines = [line for line in text.split("\n") if " | " in line]
    assert len(lines) == 20 and lines[0] == " | ".join(HEADER)
    chunks = table_qa.index.chunks
    for line in lines:
        start = text.index(line)
        holding = [c for c in chunks if any(a <= start < b for a, b in c.sentences)]
        assert holding and all((start, start + len(line)) in c.sentences for c in holding), line
    pieces = [c for c in chunks if any(" | " in text[a:b] for a, b in c.sentences)]
    assert all(c.text.startswith(HEADER[0]) or c.heading == " | ".join(HEADER) for c in pieces)


def test_a_question_about_one_row_cites_that_row(table_qa):
    answer = table_qa.ask("Năm 2025 Đà Nẵng có bao nhiêu doanh nghiệp thành lập mới?")
    danang = next(r for r in rows() if r[1] == "Đà Nẵng")
    assert answer.short_answer.text == danang[2]
    c = answer.citations[0]
    assert c.quote == " | ".join(danang) == table_qa.index.texts[c.source][c.start:c.end]
