"""Scanned PDFs: pages without a text layer are read by OCR (Tesseract, Vietnamese), indexed and cited by page."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from benchmarks.ocr_cer import FONT, cer, render_scan
from rag.errors import DocumentError

PAGE_ONE = [
    "Điều 8. Quyền của công dân về cư trú",
    "Công dân được lựa chọn, quyết định nơi cư trú của mình, đăng ký cư trú phù hợp với quy định của Luật này "
    "và quy định khác của pháp luật có liên quan.",
    "Công dân được bảo đảm bí mật thông tin cá nhân, thông tin về hộ gia đình trong Cơ sở dữ liệu về cư trú, "
    "trừ trường hợp cung cấp theo quy định của pháp luật.",
]
PAGE_TWO = [
    "Hội thảo chuyển đổi số ngành thủy sản tỉnh Cà Mau",
    "Sáng 12/9/2025, Sở Nông nghiệp và Môi trường tỉnh Cà Mau tổ chức hội thảo chuyển đổi số ngành thủy sản. "
    "Hội thảo có 86 đại biểu tham dự, gồm ngư dân, doanh nghiệp chế biến và cán bộ khuyến ngư.",
    "Phó Giám đốc Sở Nguyễn Thị Hồng Nhung chủ trì hội thảo và giới thiệu ứng dụng nhật ký khai thác điện tử.",
]


def ensure_ocr() -> None:
    """Debian's tesseract with its Vietnamese model, installed with apt-get when missing (as the browser tests do)."""
    from rag.ingest.formats import ocr

    if ocr.missing() is None and os.path.exists(FONT):
        return
    pytest.importorskip("pytesseract", reason="the 'ocr' extra is not installed: pip install -e '.[ocr]'")
    pytest.importorskip("pypdfium2", reason="the 'ocr' extra is not installed: pip install -e '.[ocr]'")
    if shutil.which("apt-get") is None or (os.geteuid() != 0 and shutil.which("sudo") is None):
        pytest.skip(f"OCR needs {ocr.missing()}, and apt-get cannot be used here to install it.")
    cmd = ["apt-get", "install", "-y", "-q", "tesseract-ocr", "tesseract-ocr-vie", "fonts-dejavu-core"]
    cmd = cmd if os.geteuid() == 0 else ["sudo", "-n", *cmd]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if ocr.missing() is not None:
        pytest.fail(f"apt-get install tesseract-ocr tesseract-ocr-vie failed:\n{(result.stdout + result.stderr)[-2000:]}")


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    ensure_ocr()
    corpus = tmp_path_factory.mktemp("scan") / "corpus"
    corpus.mkdir()
    drawn = render_scan([*PAGE_ONE, "\f", *PAGE_TWO], corpus / "ban-scan.pdf", font_px=30)
    assert len(drawn) == 2
    return corpus, drawn


def test_a_scanned_pdf_is_read_by_ocr_and_answers_with_its_page(scan, settings, encoder):
    from rag import Assistant
    from rag.ingest.documents import load_document

    corpus, drawn = scan
    document = load_document(corpus / "ban-scan.pdf", "ban-scan.pdf")
    assert document.ocr_pages == (1, 2)
    assert cer("\n".join(drawn), document.text) < 0.02  # diacritics included
    qa = Assistant.from_folder(corpus, settings=settings.with_(answerer="reader"), index_dir=corpus.parent / "index",
                               encoder=encoder)
    assert qa.index.manifest.files["ban-scan.pdf"]["ocr_pages"] == list(document.ocr_pages)
    from rag.index.catalogue import indexed_files

    assert indexed_files(qa.index.manifest)[0].ocr_pages == (1, 2)
    answer = qa.ask("Hội thảo chuyển đổi số ngành thủy sản có bao nhiêu đại biểu tham dự?")
    assert "86" in answer.short_answer.text
    c = answer.citations[0]
    assert qa.index.texts[c.source][c.start:c.end] == c.quote
    assert c.page == 2 == document.page_of(document.text.index("86 đại biểu"))


def test_without_ocr_a_scan_is_skipped_with_what_to_install(scan, monkeypatch):
    from rag.ingest.documents import load_document
    from rag.ingest.formats import ocr

    corpus, _ = scan
    monkeypatch.setattr(ocr, "missing", lambda: "the tesseract program (apt-get install tesseract-ocr tesseract-ocr-vie)")
    with pytest.raises(DocumentError, match=r"ban-scan\.pdf: no text layer .* needs the tesseract program"):
        load_document(corpus / "ban-scan.pdf", "ban-scan.pdf")
