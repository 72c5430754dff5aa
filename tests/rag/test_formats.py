"""The extractor of each format, on the real files in tests/data/ (see make_fixtures.py) and small hostile ones."""

import io
import re
import zipfile

import pytest

from rag.ingest.documents import load_document
from rag.types import page_at
from rag.errors import DocumentError
from rag.ingest.formats import read
from rag.ingest.formats.pdf import _Line, unwrap
from tests.conftest import DATA
from tests.data.make_fixtures import cp1258

TITLE = "Thư viện tỉnh mở cửa phục vụ ban đêm"
LEAD = ("Từ ngày 1 tháng 6 năm 2024, Thư viện tỉnh Quảng Trị mở cửa phục vụ bạn đọc đến 21 giờ mỗi ngày, "
        "kể cả thứ Bảy và Chủ nhật.")
WRAPPED = ("Theo bà Nguyễn Thị Hoà, Giám đốc thư viện, trong ba tháng thử nghiệm đã có hơn 4.500 lượt bạn đọc "
           "đến đọc sách vào buổi tối, phần lớn là học sinh và sinh viên ở thành phố Đông Hà.")
PLAN = ("Năm 2025, thư viện dự kiến xây dựng thêm ba điểm đọc sách lưu động ở các huyện miền núi Hướng Hoá, "
        "Đakrông và Cam Lộ, mỗi điểm có khoảng 2.000 cuốn sách.")


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- HTML ---------------------------------------------------------------------
def test_news_page_keeps_the_article_and_its_headings():
    doc = load_document(DATA / "vi_page.html", "vi_page.html")
    assert lines(doc.text) == [
        TITLE, LEAD, "Bạn đọc tại phòng đọc buổi tối", WRAPPED,
        "Thư viện hiện có 120.000 đầu sách, trong đó có 8.000 tài liệu số hoá về lịch sử và văn hoá địa phương. "
        "Phòng đọc thiếu nhi được trang bị thêm 40 chỗ ngồi và một góc kể chuyện.",
        "Kế hoạch năm 2025", PLAN,
        "Chỉ tiêu | Năm 2023 | Năm 2024", "Lượt bạn đọc | 52.000 | 61.500", "Sách mới bổ sung | 3.200 | 4.100",
    ]


@pytest.mark.parametrize("dropped", ["Thời sự", "Trang chủ", "Chia sẻ", "Đọc nhiều", "Tin liên quan", "Quảng cáo",
                                     "ẩn", "bình luận", "Địa chỉ", "font-family", "Báo Tin Tỉnh"])
def test_news_page_drops_menus_scripts_styles_sidebars_and_footers(dropped):
    assert dropped not in load_document(DATA / "vi_page.html", "vi_page.html").text


def test_page_without_article_keeps_body_text_and_drops_boilerplate():
    page = """<html><head><title>Tiêu đề trang - Báo X</title></head><body>
    <div id="top-menu"><a href="/">Trang chủ</a> | <a href="/tin">Tin tức</a></div>
    <div class="content"><h2>Lễ hội pháo hoa</h2>
    <p>Lễ hội pháo hoa quốc tế Đà Nẵng năm 2023 có 8 đội tham gia.</p>
    <p>Đêm chung kết diễn ra ngày 15 tháng 7 bên sông Hàn.<br>Vé được bán từ tháng 5.</p>
    <ul class="list"><li><a href="/a">Bài liên quan một</a></li><li><a href="/b">Bài liên quan hai</a></li></ul>
    </div><div class="social-share">Chia sẻ bài viết</div></body></html>"""
    text = read(page.encode("utf-8"), "p.html", ".html").text
    assert lines(text) == ["Tiêu đề trang - Báo X", "Lễ hội pháo hoa",
                           "Lễ hội pháo hoa quốc tế Đà Nẵng năm 2023 có 8 đội tham gia.",
                           "Đêm chung kết diễn ra ngày 15 tháng 7 bên sông Hàn.", "Vé được bán từ tháng 5."]


def test_page_in_a_declared_legacy_charset():
    body = "<p>Hội nghị tổng kết công tác thi đua năm 2022 tại Thừa Thiên Huế.</p>"
    raw = b'<html><head><meta charset="windows-1258"></head><body>' + cp1258(body) + b"</body></html>"
    assert read(raw, "p.htm", ".htm").text == "Hội nghị tổng kết công tác thi đua năm 2022 tại Thừa Thiên Huế."


def test_page_of_menus_and_scripts_only_is_refused():
    raw = b"<html><body><nav><a href='/'>Home</a></nav><script>alert(1)</script></body></html>"
    with pytest.raises(DocumentError, match=re.escape("m.html: the page has no text outside menus")):
        read(raw, "m.html", ".html")


def test_deeply_nested_page_does_not_crash():
    raw = ("<div>" * 20000 + "<p>Văn bản ở rất sâu.</p>" + "</div>" * 20000).encode("utf-8")
    try:
        text = read(raw, "deep.html", ".html").text
    except DocumentError as exc:  # a parser may refuse the depth: then it must say so
        assert str(exc).startswith("deep.html: ")
    else:
        assert text == "Văn bản ở rất sâu."


def test_markup_in_text_stays_text():
    raw = "<p>Dùng thẻ &lt;script&gt; để chèn mã: &lt;b&gt;đậm&lt;/b&gt;.</p>".encode("utf-8")
    assert read(raw, "x.html", ".html").text == "Dùng thẻ <script> để chèn mã: <b>đậm</b>."


# -- PDF ----------------------------------------------------------------------
def test_pdf_pages_and_rejoined_lines():
    doc = load_document(DATA / "vi_report.pdf", "vi_report.pdf")
    assert lines(doc.text)[:3] == [TITLE, LEAD, WRAPPED]  # lines wrapped by the PDF are one paragraph again
    assert len(doc.pages) == 3 and doc.pages[0] == 0
    assert doc.page_of(doc.text.index(WRAPPED)) == 1
    assert doc.page_of(doc.text.index("Kế hoạch năm 2025")) == 3  # page 2 has a drawing and no text
    assert doc.page_of(doc.text.index("Sách mới bổ sung")) == 3
    assert doc.text[doc.pages[2]:].startswith("Kế hoạch năm 2025")


def test_page_at():
    assert page_at((), 5) is None
    assert [page_at((0, 10, 10, 25), o) for o in (0, 9, 10, 24, 25, 10_000)] == [1, 1, 3, 3, 4, 4]


def test_unwrap_without_positions_ends_paragraphs_at_sentence_ends():
    text = unwrap([_Line("Dòng thứ nhất của một đoạn văn dài được"), _Line("ngắt giữa chừng."),
                   _Line("Đoạn thứ hai bắt đầu ở đây và cũng dài."), _Line("Tiêu đề ngắn"), _Line("Đoạn ba.")],
                  wide=40, usual_gap=None)
    assert text.splitlines() == ["Dòng thứ nhất của một đoạn văn dài được ngắt giữa chừng.",
                                 "Đoạn thứ hai bắt đầu ở đây và cũng dài.", "Tiêu đề ngắn", "Đoạn ba."]


def _blank_pdf(pages: int = 2, password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if password:
        writer.encrypt(user_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_without_text_asks_for_ocr(monkeypatch):
    from rag.ingest.formats import ocr

    monkeypatch.setattr(ocr, "missing", lambda: "the Python package 'pytesseract' (pip install 'virag[ocr]' …)")
    with pytest.raises(DocumentError, match=re.escape("scan.pdf: no text layer in its 2 page(s); reading a scanned "
                                                      "PDF by OCR needs the Python package 'pytesseract'")):
        read(_blank_pdf(), "scan.pdf", ".pdf")


def test_blank_pages_give_nothing_even_by_ocr():
    from rag.ingest.formats import ocr

    if ocr.missing() is not None:
        pytest.skip(f"OCR needs {ocr.missing()}")
    with pytest.raises(DocumentError, match=re.escape("scan.pdf: no text in its 2 page(s), not even by OCR.")):
        read(_blank_pdf(), "scan.pdf", ".pdf")


def test_password_protected_pdf_is_refused():
    with pytest.raises(DocumentError, match=re.escape("locked.pdf: the PDF is password-protected")):
        read(_blank_pdf(password="mật khẩu"), "locked.pdf", ".pdf")


@pytest.mark.parametrize("raw", [b"%PDF-1.7\n", b"not a pdf at all", (DATA / "vi_report.pdf").read_bytes()[:3000]],
                         ids=["header-only", "not-pdf", "truncated"])
def test_broken_pdf_is_refused_with_its_name(raw):
    try:
        text = read(raw, "broken.pdf", ".pdf").text
    except DocumentError as exc:
        assert str(exc).startswith("broken.pdf: ")
    else:  # pypdf recovers what it can from a truncated file: then it is real text
        assert TITLE in text


# -- Word -----------------------------------------------------------------------
def test_docx_headings_paragraphs_and_tables():
    doc = load_document(DATA / "vi_report.docx", "vi_report.docx")
    assert lines(doc.text)[:3] == [TITLE, LEAD, WRAPPED]
    assert "Kế hoạch năm 2025\n\n" + PLAN in doc.text
    assert doc.text.endswith("Chỉ tiêu | Năm 2023 | Năm 2024\nLượt bạn đọc | 52.000 | 61.500\n"
                             "Sách mới bổ sung | 3.200 | 4.100\nGhi chú: số liệu năm 2024 tính đến hết tháng 11.")
    assert doc.text.count("Ghi chú") == 1 and doc.pages == ()  # a merged cell once


def test_old_doc_or_renamed_file_is_refused():
    with pytest.raises(DocumentError, match=re.escape("old.docx: not a Word .docx file")):
        read(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.docx", ".docx")


def test_zip_that_is_not_a_word_document_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "xin chào")
    with pytest.raises(DocumentError, match=r"^x\.docx: (not a readable Word|cannot be read as Word)"):
        read(out.getvalue(), "x.docx", ".docx")


def test_docx_unpacking_too_large_is_refused(monkeypatch):
    import rag.ingest.formats.word as word

    monkeypatch.setattr(word, "MAX_UNPACKED_BYTES", 10_000)
    with pytest.raises(DocumentError, match=r"^bomb\.docx: unpacks to \d+ MB, over the 0 MB limit"):
        read((DATA / "vi_report.docx").read_bytes(), "bomb.docx", ".docx")
