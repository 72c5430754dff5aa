"""Load: find the documents of a corpus folder, decode them and normalise to NFC."""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError, DocumentError
from .vietnamese import nfc

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    """A decoded source file. Offsets everywhere in virag index ``text``.

    ``text`` is the file decoded (BOM removed, line endings kept) and NFC-normalised;
    for an NFC file, ``text[start:end]`` is exactly the characters of the file.
    """

    source: str  # path relative to the corpus root, with '/'
    text: str
    sha256: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


def decode(raw: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM; anything else is a :class:`DocumentError`."""
    if raw.startswith(codecs.BOM_UTF8):
        raw, encoding = raw[len(codecs.BOM_UTF8) :], "utf-8"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        msg = (
            f"{source}: not valid {encoding.upper()} (byte {exc.start}: {raw[exc.start:exc.start + 4]!r}); "
            "save it as UTF-8 or UTF-16 with BOM."
        )
        raise DocumentError(msg) from None
    if "\x00" in text:
        msg = f"{source}: contains NUL characters; it looks like a binary file, not text."
        raise DocumentError(msg)
    return text


def load_document(path: Path, source: str, *, max_bytes: int | None = None) -> Document:
    """Read and decode one file; raises :class:`DocumentError` naming the file."""
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            msg = f"{source}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit (setting 'max_file_mb')."
            raise DocumentError(msg)
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"{source}: cannot be read ({exc.strerror or exc})."
        raise DocumentError(msg) from None
    text = nfc(decode(raw, source))
    if not text.strip():
        msg = f"{source}: empty (no text to index)."
        raise DocumentError(msg)
    return Document(source=source, text=text, sha256=hashlib.sha256(raw).hexdigest())


def iter_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Supported files under ``root`` in a stable order, following no symlinked folders twice."""
    root = Path(root)
    if not root.exists():
        msg = f"Corpus folder '{root}' does not exist."
        raise CorpusError(msg)
    if root.is_file():
        yield root, root.name
        return
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(SUPPORTED_SUFFIXES):
                continue
            path = Path(dirpath) / name
            yield path, path.relative_to(root).as_posix()


def load_folder(root: Path, *, max_file_mb: float = 50.0) -> tuple[list[Document], list[Skipped]]:
    """Every readable document under ``root``, plus the files skipped with their reasons."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for path, source in iter_files(root):
        try:
            docs.append(load_document(path, source, max_bytes=int(max_file_mb * 1e6)))
        except DocumentError as exc:
            logger.warning("Skipped %s", exc)
            skipped.append(Skipped(source, str(exc)))
    return docs, skipped
