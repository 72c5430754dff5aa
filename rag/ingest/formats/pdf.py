"""PDF (``.pdf``): the text of every page, in order, with the offset where each page starts.

pypdf extracts each page's text; this module only rejoins the lines that the PDF wrapped
inside a paragraph. pypdf reports where each line sits, so a line is joined to the next one
when both are in the same font and size, the gap between them is an ordinary line gap (not
a paragraph gap), the first one runs to (nearly) the full width of the page's text, and the second
does not open a numbered or lettered item ("2. …", "b) …", "Điều 5. …"). When
positions are not available, a line that ends a sentence (``. ! ? : ; …``) also ends its
paragraph. Paragraphs are separated by a newline, pages by a blank line.

``Document.text`` is this extracted text (NFC), and ``Document.pages[i]`` is the offset in it
where page ``i + 1`` starts (a page without text still has its offset, so numbers stay right).
A page whose text layer is missing or unusable (a scan) is read by OCR when it is installed
(:mod:`.ocr`); ``Document.ocr_pages`` lists those pages.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from ...errors import DocumentError
from ...vietnamese import nfc
from .encoding import control_share

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
MIN_LETTERS = 20  # a page with fewer letters in its text layer is a scan (or has none): OCR reads it
_ENDS_SENTENCE = re.compile(r"[.!?:;…\"'”’)\]»]\s*$")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# A line that opens a numbered or lettered item ("2. …", "b) …", "Điều 5. …") starts a paragraph: the
# clauses and points of laws and decrees, and list items anywhere.
_ITEM = re.compile(r"(?:\d{1,3}[a-zđ]?\.|[a-zđ]\)|Điều \d+[a-zđ]?[.:])\s")
_PARAGRAPH_GAP = 1.35  # a gap this many times the usual line gap starts a paragraph
_FULL_LINE = 0.8  # a line this share of the page's full width may continue on the next


@dataclass
class _Line:
    text: str = ""
    y: float | None = None  # baseline, in points from the bottom of the page
    style: tuple | None = None  # (font name, size)


def _page_lines(page) -> list[_Line]:
    """The page's lines as pypdf extracts them, each with its position and font when known."""
    lines = [_Line()]

    def visit(text, cm, tm, font_dict, font_size) -> None:
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append(_Line())
            line = lines[-1]
            line.text += part
            if part.strip() and line.y is None:
                line.y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                size = float(font_size or 0) * abs(float(tm[3] or 1) * float(cm[3] or 1))
                name = font_dict.get("/BaseFont") if hasattr(font_dict, "get") else None
                line.style = (str(name), round(size, 1))

    text = page.extract_text(visitor_text=visit) or ""
    if "\n".join(line.text for line in lines) != text:  # the visitor did not see it all: no positions
        lines = [_Line(t) for t in text.split("\n")]
    for line in lines:
        line.text = " ".join(_CONTROLS.sub("", line.text).split())
    return lines


def _continues(a: _Line, b: _Line, wide: int, usual_gap: float | None) -> bool:
    """Whether line ``b`` continues the paragraph of line ``a``."""
    if not a.text or not b.text or len(a.text) < _FULL_LINE * wide or _ITEM.match(b.text):
        return False
    if a.y is None or b.y is None or usual_gap is None:
        return not _ENDS_SENTENCE.search(a.text)
    gap = a.y - b.y
    return a.style == b.style and 0 < gap <= _PARAGRAPH_GAP * usual_gap


def _line_gap(pages: list[list[_Line]]) -> float | None:
    """The ordinary gap between two lines of a paragraph: the low end of the gaps between lines in one style."""
    gaps = sorted(a.y - b.y for lines in pages for a, b in zip(lines, lines[1:])
                  if a.y is not None and b.y is not None and a.text and b.text and a.style == b.style and a.y > b.y)
    return gaps[len(gaps) // 10] if gaps else None


def _full_width(pages: list[list[_Line]]) -> int:
    widths = sorted(len(line.text) for lines in pages for line in lines if line.text)
    return widths[int(0.9 * (len(widths) - 1))] if widths else 0  # ignoring a few outliers


def unwrap(lines: list[_Line], wide: int, usual_gap: float | None) -> str:
    """Join the lines a PDF wrapped inside a paragraph; one paragraph per line."""
    paragraphs: list[str] = []
    previous = None
    for line in lines:
        if not line.text:
            continue
        if previous is not None and _continues(previous, line, wide, usual_gap):
            paragraphs[-1] += " " + line.text
        else:
            paragraphs.append(line.text)
        previous = line
    return "\n".join(paragraphs)


def read_pdf(raw: bytes, source: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """``(text, page start offsets, OCR page numbers)`` of a PDF, NFC: a page without a usable text layer
    is read by OCR (:mod:`.ocr`); raises :class:`DocumentError` when it has no text."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError, WrongPasswordError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            reader.decrypt("")  # "owner-password only" PDFs open with an empty user password
        lines = [_page_lines(page) for page in reader.pages]
    except (FileNotDecryptedError, WrongPasswordError):
        msg = f"{source}: the PDF is password-protected; save an unprotected copy."
        raise DocumentError(msg) from None
    except DependencyError as exc:
        msg = f"{source}: the PDF is encrypted ({exc}); save an unprotected copy."
        raise DocumentError(msg) from None
    except PyPdfError as exc:
        msg = f"{source}: not a readable PDF ({exc}); re-save or print it to PDF again."
        raise DocumentError(msg) from None
    wide, usual_gap = _full_width(lines), _line_gap(lines)
    pages = [nfc(unwrap(page, wide, usual_gap)) for page in lines]
    pages, ocr_pages = _ocr_scanned(raw, source, pages)
    starts, cursor = [], 0
    for text in pages:
        starts.append(cursor)
        cursor += len(text) + len(PAGE_SEPARATOR)
    text = PAGE_SEPARATOR.join(pages)
    if not text.strip():
        msg = f"{source}: no text in its {len(pages)} page(s), not even by OCR."
        raise DocumentError(msg)
    if control_share(text) > 0.01:
        msg = f"{source}: the PDF's text is garbled (its fonts have no Unicode map); export it again as PDF."
        raise DocumentError(msg)
    return text, tuple(starts), ocr_pages


def _usable(text: str) -> bool:
    return sum(ch.isalpha() for ch in text) >= MIN_LETTERS and control_share(text) <= 0.01


def _ocr_scanned(raw: bytes, source: str, pages: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """Pages without a usable text layer read by OCR; ``(pages, 1-based numbers of the OCR pages)``."""
    scanned = [i for i, text in enumerate(pages) if not _usable(text)]
    if not scanned:
        return pages, ()
    from . import ocr

    need = ocr.missing()
    if need is not None:
        if len(scanned) == len(pages):
            msg = f"{source}: no text layer in its {len(pages)} page(s); reading a scanned PDF by OCR needs {need}."
            raise DocumentError(msg)
        logger.warning("%s: page(s) %s have no text layer and are left out; OCR needs %s.", source,
                       ", ".join(str(i + 1) for i in scanned), need)
        return pages, ()
    pages = list(pages)
    for i, text in ocr.read_pages(raw, scanned).items():
        pages[i] = nfc(text)
    return pages, tuple(i + 1 for i in scanned if pages[i].strip())
