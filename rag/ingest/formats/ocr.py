"""OCR for PDF pages without a usable text layer (scans): Tesseract with its Vietnamese model, offline.

Why Tesseract: it is the maintained open OCR engine that Debian packages with a Vietnamese model
(``tesseract-ocr`` and ``tesseract-ocr-vie``, no weights fetched at run time); pages are rendered
with PDFium (``pypdfium2``) and handed to it through ``pytesseract``. Both Python packages are the
``ocr`` extra: ``pip install 'virag[ocr]'``.
"""

from __future__ import annotations

import io
import logging
import re
import shutil

logger = logging.getLogger(__name__)

LANGUAGE = "vie"
DPI = 300
_INSTALL = ("pip install 'virag[ocr]' and apt-get install tesseract-ocr tesseract-ocr-vie "
            "(cài đặt OCR: pip install 'virag[ocr]', apt-get install tesseract-ocr tesseract-ocr-vie)")


def missing() -> str | None:
    """What OCR still needs on this machine, in words; None when it is ready."""
    try:
        import pypdfium2  # noqa: F401
        import pytesseract
    except ImportError as exc:
        return f"the Python package '{exc.name}' ({_INSTALL})"
    if shutil.which("tesseract") is None:
        return f"the tesseract program ({_INSTALL})"
    if LANGUAGE not in pytesseract.get_languages(config=""):
        return f"Tesseract's Vietnamese model '{LANGUAGE}' ({_INSTALL})"
    return None


def paragraphs(raw: str) -> str:
    """Tesseract's lines rejoined: lines of one block make a paragraph; blocks are separated by blank lines."""
    blocks = re.split(r"\n\s*\n", raw)
    return "\n".join(" ".join(block.split()) for block in blocks if block.strip())


def read_pages(raw: bytes, numbers: list[int]) -> dict[int, str]:
    """The OCR text of the 0-based pages ``numbers`` of a PDF."""
    import pypdfium2 as pdfium
    import pytesseract

    pdf = pdfium.PdfDocument(io.BytesIO(raw))
    try:
        out = {}
        for i in numbers:
            image = pdf[i].render(scale=DPI / 72).to_pil()
            out[i] = paragraphs(pytesseract.image_to_string(image, lang=LANGUAGE))
            logger.debug("OCR page %d: %d characters", i + 1, len(out[i]))
        return out
    finally:
        pdf.close()
