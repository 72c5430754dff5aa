"""Word (``.docx``): paragraphs and tables in document order, headings kept as their own lines.

python-docx reads the file. Each paragraph (heading, title, list item …) is one block; each table
row is one line with its cells joined by ``" | "`` (merged cells once, nested tables inline).
Blocks are separated by a blank line. Headers, footers, comments, footnotes and text boxes are
left out. ``Document.text`` is this extracted text (NFC); citations index it.
"""

from __future__ import annotations

import io
import zipfile

from ...errors import DocumentError
from ...vietnamese import nfc

#: A .docx unpacking to more than this is refused (a "zip bomb" cannot exhaust memory).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_MAX_TABLE_DEPTH = 8


def _cell_text(cell, depth: int) -> str:
    from docx.table import Table

    parts = []
    for item in cell.iter_inner_content():
        if isinstance(item, Table):
            if depth < _MAX_TABLE_DEPTH:
                parts.extend(_rows(item, depth + 1))
        else:
            parts.append(item.text)
    return " ".join(" ".join(parts).split())


def _rows(table, depth: int = 0) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                continue
            seen.add(id(cell._tc))
            text = _cell_text(cell, depth)
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def read_docx(raw: bytes, source: str) -> str:
    """The text of a Word document, NFC; raises :class:`DocumentError` when it is not one or is empty."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except zipfile.BadZipFile:
        msg = f"{source}: not a Word .docx file (an old .doc or a renamed file?); save it as .docx."
        raise DocumentError(msg) from None
    if unpacked > MAX_UNPACKED_BYTES:
        msg = f"{source}: unpacks to {unpacked / 1e6:.0f} MB, over the {MAX_UNPACKED_BYTES / 1e6:.0f} MB limit."
        raise DocumentError(msg)
    try:
        document = docx.Document(io.BytesIO(raw))
    except (KeyError, ValueError, PackageNotFoundError) as exc:
        msg = f"{source}: not a readable Word .docx file ({exc}); save it again as .docx."
        raise DocumentError(msg) from None
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = _rows(item)
            if rows:
                blocks.append("\n".join(rows))
        else:
            lines = [" ".join(line.split()) for line in item.text.splitlines()]
            text = "\n".join(line for line in lines if line)
            if text:
                blocks.append(text)
    text = nfc("\n\n".join(blocks))
    if not text.strip():
        msg = f"{source}: empty (no text in its paragraphs or tables)."
        raise DocumentError(msg)
    return text
