"""Write the real-file fixtures of the reader and robustness tests into this folder.

    .venv/bin/python tests/data/make_fixtures.py    # needs the dev extra (fpdf2) and DejaVu Sans

The files are committed, so the tests never need fpdf2 or a font: run this only to change them.

* ``vi_*.txt``: one short Vietnamese text (written for these tests) in every supported text
  encoding: UTF-8, UTF-8 with BOM, UTF-16 LE/BE with BOM, UTF-16 LE without BOM, and
  Windows-1258 the way Vietnamese editors write it (base letters, then combining tone marks).
* ``vi_report.pdf``: the same text over 3 pages (page 2 has no text), made with fpdf2.
* ``vi_report.docx``: the same text with headings and a table (one merged row), made with python-docx.
* ``vi_page.html``: the same text as a news page with menus, scripts, styles, a sidebar of
  related links, a hidden block and a footer around the article.
* ``seeds_mixed/``: seeds 000–003 as .docx, .pdf, .html and Windows-1258 .txt (seed 004 stays
  in ``seeds/``), for the test that asks the seed dev questions across formats.
"""

from __future__ import annotations

import codecs
import datetime
import html
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parents[1] / "seeds"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

TITLE = "Thư viện tỉnh mở cửa phục vụ ban đêm"
PARAGRAPHS = [
    "Từ ngày 1 tháng 6 năm 2024, Thư viện tỉnh Quảng Trị mở cửa phục vụ bạn đọc đến 21 giờ mỗi ngày, "
    "kể cả thứ Bảy và Chủ nhật.",
    "Theo bà Nguyễn Thị Hoà, Giám đốc thư viện, trong ba tháng thử nghiệm đã có hơn 4.500 lượt bạn đọc "
    "đến đọc sách vào buổi tối, phần lớn là học sinh và sinh viên ở thành phố Đông Hà.",
    "Thư viện hiện có 120.000 đầu sách, trong đó có 8.000 tài liệu số hoá về lịch sử và văn hoá địa phương. "
    "Phòng đọc thiếu nhi được trang bị thêm 40 chỗ ngồi và một góc kể chuyện.",
]
HEADING = "Kế hoạch năm 2025"
PLAN = (
    "Năm 2025, thư viện dự kiến xây dựng thêm ba điểm đọc sách lưu động ở các huyện miền núi Hướng Hoá, "
    "Đakrông và Cam Lộ, mỗi điểm có khoảng 2.000 cuốn sách."
)
TABLE = [["Chỉ tiêu", "Năm 2023", "Năm 2024"], ["Lượt bạn đọc", "52.000", "61.500"],
         ["Sách mới bổ sung", "3.200", "4.100"]]
NOTE = "Ghi chú: số liệu năm 2024 tính đến hết tháng 11."
TEXT = "\n\n".join([TITLE, *PARAGRAPHS, HEADING, PLAN]) + "\n"


def cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese editors write it: base letters precomposed, tone marks combining."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323")
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones)) + tones)
    return "".join(out).encode("cp1258")


def write_texts() -> None:
    (HERE / "vi_utf8.txt").write_bytes(TEXT.encode("utf-8"))
    (HERE / "vi_utf8_bom.txt").write_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    (HERE / "vi_utf16le.txt").write_bytes(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"))
    (HERE / "vi_utf16be.txt").write_bytes(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"))
    (HERE / "vi_utf16le_nobom.txt").write_bytes(TEXT.encode("utf-16-le"))
    (HERE / "vi_cp1258.txt").write_bytes(cp1258(TEXT))


def _pdf():
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc))
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    return pdf


def _pdf_block(pdf, text: str, *, bold: bool = False, size: int = 12) -> None:
    pdf.set_font("DejaVu", "B" if bold else "", size)
    pdf.multi_cell(0, size * 0.6, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(size * 0.4)


def write_pdf() -> None:
    pdf = _pdf()
    pdf.add_page()
    _pdf_block(pdf, TITLE, bold=True, size=16)
    for p in PARAGRAPHS:
        _pdf_block(pdf, p)
    pdf.add_page()  # a page with a drawing and no text
    pdf.rect(40, 40, 120, 80)
    pdf.add_page()
    _pdf_block(pdf, HEADING, bold=True, size=14)
    _pdf_block(pdf, PLAN)
    for row in TABLE:
        _pdf_block(pdf, " | ".join(row))
    pdf.output(str(HERE / "vi_report.pdf"))


def _docx_fixed_dates(doc) -> None:
    when = datetime.datetime(2024, 6, 1)
    doc.core_properties.created = doc.core_properties.modified = when
    doc.core_properties.last_modified_by = doc.core_properties.author = "virag tests"


def write_docx() -> None:
    import docx

    doc = docx.Document()
    _docx_fixed_dates(doc)
    doc.add_heading(TITLE, level=1)
    for p in PARAGRAPHS:
        doc.add_paragraph(p)
    doc.add_heading(HEADING, level=2)
    doc.add_paragraph(PLAN)
    table = doc.add_table(rows=len(TABLE) + 1, cols=3)
    for i, row in enumerate(TABLE):
        for j, cell in enumerate(row):
            table.cell(i, j).text = cell
    merged = table.cell(len(TABLE), 0).merge(table.cell(len(TABLE), 2))
    merged.text = NOTE
    doc.save(str(HERE / "vi_report.docx"))


PAGE = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{title} - Báo Tin Tỉnh</title>
<style>body {{ font-family: sans-serif }} .menu a {{ color: red }}</style>
<script>window.dataLayer = [{{"event": "Quảng cáo không được đọc"}}];</script></head>
<body>
<header class="site-header"><a href="/">Báo Tin Tỉnh</a>{banner}
<nav class="menu"><a href="/thoi-su">Thời sự</a> <a href="/kinh-te">Kinh tế</a> <a href="/van-hoa">Văn hoá</a></nav>
</header>
<div class="breadcrumb"><a href="/">Trang chủ</a> » <a href="/van-hoa">Văn hoá</a></div>
<div class="container">
<article class="detail">
<h1 class="title">{title}</h1>
<p class="sapo"><strong>{lead}</strong></p>
{figure}
{body}
<div class="share"><a href="#fb">Chia sẻ Facebook</a> <a href="#zalo">Chia sẻ Zalo</a></div>
</article>
<aside class="sidebar"><h3>Đọc nhiều</h3><ul><li><a href="/a">Giá vàng hôm nay tăng mạnh</a></li>
<li><a href="/b">Thời tiết miền Trung cuối tuần</a></li></ul></aside>
</div>
<div class="related"><h3>Tin liên quan</h3><ul><li><a href="/c">Khai trương nhà sách mới ở Đông Hà</a></li></ul></div>
<div style="display:none">Nội dung ẩn không được đọc</div>
<!-- bình luận của lập trình viên: không được đọc -->
<footer><p>© Báo Tin Tỉnh. Địa chỉ: 01 Lê Lợi, Đông Hà.</p></footer>
<script src="ads.js"></script>
</body></html>
"""


def news_page(title: str, lead: str, blocks: list[tuple[str, str]], *, caption: str = "", banner: str = "") -> str:
    body = "\n".join(f"<{tag}>{html.escape(text)}</{tag}>" for tag, text in blocks)
    figure = (f'<figure><img src="anh.jpg" alt="ảnh"><figcaption>{html.escape(caption)}</figcaption></figure>'
              if caption else "")
    banner = f'<div class="banner">{html.escape(banner)}</div>' if banner else ""
    return PAGE.format(title=html.escape(title), lead=html.escape(lead), body=body, figure=figure, banner=banner)


def write_html() -> None:
    blocks = [("p", p) for p in PARAGRAPHS[1:]] + [("h2", HEADING), ("p", PLAN)]
    page = news_page(TITLE, PARAGRAPHS[0], blocks, caption="Bạn đọc tại phòng đọc buổi tối")
    table = "<table><tr>" + "".join(f"<th>{c}</th>" for c in TABLE[0]) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in TABLE[1:]) + "</table>"
    page = page.replace("<div class=\"share\">", table + "\n<div class=\"share\">")
    (HERE / "vi_page.html").write_text(page, encoding="utf-8")


def _is_heading(line: str) -> bool:
    return len(line.split()) <= 14 and not line.rstrip().endswith((".", "!", "?", ":", ";", "…"))


def write_seeds_mixed() -> None:
    out = HERE / "seeds_mixed"
    out.mkdir(exist_ok=True)
    seeds = sorted(SEEDS.glob("*.txt"))
    lines = {p.stem: [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
             for p in seeds}
    stems = [p.stem for p in seeds]

    import docx

    doc = docx.Document()
    _docx_fixed_dates(doc)
    for line in lines[stems[0]]:
        if _is_heading(line):
            doc.add_heading(line, level=2)
        else:
            doc.add_paragraph(line)
    doc.save(str(out / f"{stems[0]}.docx"))

    pdf = _pdf()
    pdf.add_page()
    for line in lines[stems[1]]:
        _pdf_block(pdf, line, bold=_is_heading(line))
    pdf.output(str(out / f"{stems[1]}.pdf"))

    banner, title, *rest = lines[stems[2]]  # the scraped seed starts with a banner's alt text, then the title
    blocks = [("h2" if _is_heading(line) else "p", line) for line in rest]
    page = news_page(title, rest[0], blocks[1:], banner=banner)
    (out / f"{stems[2]}.html").write_text(page, encoding="utf-8")

    (out / f"{stems[3]}.txt").write_bytes(cp1258((SEEDS / f"{stems[3]}.txt").read_text(encoding="utf-8")))


if __name__ == "__main__":
    write_texts()
    write_pdf()
    write_docx()
    write_html()
    write_seeds_mixed()
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and path.suffix != ".py":
            print(f"{path.relative_to(HERE)}\t{path.stat().st_size} bytes")
