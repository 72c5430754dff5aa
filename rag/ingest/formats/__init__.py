"""Extractors, one per format: a file's bytes in, its text (NFC) out, plus page offsets for PDFs.

========== ================== ==============================================================
suffix     extractor          ``Document.text`` is
========== ================== ==============================================================
.txt .md   :mod:`.encoding`   the file decoded (UTF-8/16/32 by BOM, UTF-8, Windows-1258), NFC
.html .htm :mod:`.webpage`    the page's main text: headings, paragraphs, lists, table rows
.pdf       :mod:`.pdf`        each page's text, wrapped lines rejoined; pages start at ``pages``
.docx      :mod:`.word`       paragraphs and table rows in document order
========== ================== ==============================================================

Every extractor raises :class:`~rag.errors.DocumentError` naming the file; anything else a
malformed file makes a parser raise is turned into one by :func:`read`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import DocumentError

#: suffix → the name of its format in messages
FORMATS: dict[str, str] = {
    ".txt": "text", ".md": "Markdown", ".html": "HTML", ".htm": "HTML", ".pdf": "PDF", ".docx": "Word (.docx)",
}


@dataclass(frozen=True)
class Extracted:
    """What an extractor got out of one file."""

    text: str
    pages: tuple[int, ...] = ()  # offset in ``text`` where each page starts; empty when not paged
    encoding: str = ""  # the character encoding a text file was read in (utf-8, cp1258, …)
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text came from OCR (scanned PDF pages)


def unsupported(source: str, suffix: str) -> str:
    """The message for a file of a format virag does not read."""
    return f"{source}: unsupported format '{suffix or '(none)'}' (virag reads {', '.join(FORMATS)})."


def read(raw: bytes, source: str, suffix: str) -> Extracted:
    """Extract the text of ``raw``, a file in the format of ``suffix`` (lower case, with the dot)."""
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise DocumentError(unsupported(source, suffix))
    try:
        if suffix in (".txt", ".md"):
            from .encoding import detect

            text, encoding = detect(raw, source)
            return Extracted(text, encoding=encoding)
        if suffix in (".html", ".htm"):
            from .webpage import read_html

            return Extracted(read_html(raw, source))
        if suffix == ".pdf":
            from .pdf import read_pdf

            text, pages, ocr_pages = read_pdf(raw, source)
            return Extracted(text, pages, ocr_pages=ocr_pages)
        from .word import read_docx

        return Extracted(read_docx(raw, source))
    except DocumentError:
        raise
    except (MemoryError, RecursionError) as exc:
        msg = f"{source}: too large or too deeply nested to read as {fmt} ({type(exc).__name__})."
        raise DocumentError(msg) from None
    except Exception as exc:  # a malformed file can make any parser raise anything: skip the file, not the corpus
        msg = f"{source}: cannot be read as {fmt} ({type(exc).__name__}: {exc}); open and save it again."
        raise DocumentError(msg) from None
