"""Load: find the documents of a corpus folder, extract their text and normalise it to NFC.

The folder walk and the dispatch by suffix live here; each format's extractor is in
:mod:`rag.ingest.formats`. A file that cannot be read is skipped with its reason; the rest are loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError, DocumentError
from ..types import Document
from .formats import FORMATS, read, unsupported
from .formats.encoding import decode  # noqa: F401  (re-exported: rag.ingest.documents.decode)

logger = logging.getLogger(__name__)

#: Every suffix virag reads (lower case); the UI accepts uploads of these.
SUPPORTED_SUFFIXES = tuple(FORMATS)


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


def suffix_of(name: str) -> str:
    """The lower-case suffix that picks the extractor ('' when there is none): ``PurePosixPath(name).suffix``,
    computed on the string (a corpus walk asks this of every file)."""
    name = name.rstrip("/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def load_document(path: str | Path, source: str, *, max_bytes: int | None = None) -> Document:
    """Read one file and extract its text; raises :class:`DocumentError` naming the file.

    The extractor is chosen by the suffix of ``source`` (of ``path`` when ``source`` has none), so an
    upload stored under a temporary name is read as the format of its real name. The size is
    checked before anything is read, and never more than ``max_bytes + 1`` bytes are read.
    """
    suffix = suffix_of(source) or suffix_of(Path(path).name)
    return parse_document(read_bytes(path, source, max_bytes=max_bytes, suffix=suffix), source, suffix)


def read_bytes(path: str | Path, source: str, *, max_bytes: int | None = None, suffix: str | None = None) -> bytes:
    """The bytes of one supported file (the first half of :func:`load_document`; a Ray driver hashes them)."""
    suffix = suffix if suffix is not None else suffix_of(source) or suffix_of(Path(path).name)
    if suffix not in FORMATS:
        raise DocumentError(unsupported(source, suffix))
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer; regular files ignore it
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                msg = f"{source}: not a regular file."
                raise DocumentError(msg)
            if max_bytes is not None and st.st_size > max_bytes:
                raise DocumentError(_too_large(source, st.st_size, max_bytes))
            # read(n) allocates n bytes up front: ask for the size seen (+1 to notice growth), not the limit
            raw = fh.read() if max_bytes is None else fh.read(min(st.st_size, max_bytes) + 1)
    except OSError as exc:
        msg = f"{source}: cannot be read ({exc.strerror or exc})."
        raise DocumentError(msg) from None
    if max_bytes is not None and len(raw) > max_bytes:  # it grew while we looked
        raise DocumentError(_too_large(source, len(raw), max_bytes))
    return raw


def parse_document(raw: bytes, source: str, suffix: str | None = None) -> Document:
    """Extract the text of a file's bytes (the second half of :func:`load_document`; Ray workers run it)."""
    suffix = suffix if suffix is not None else suffix_of(source)
    if suffix not in FORMATS:
        raise DocumentError(unsupported(source, suffix))
    if not raw.strip():
        msg = f"{source}: empty (no text to index)."
        raise DocumentError(msg)
    extracted = read(raw, source, suffix)
    if not extracted.text.strip():
        msg = f"{source}: empty (no text to index)."
        raise DocumentError(msg)
    return Document(source=source, text=extracted.text, sha256=hashlib.sha256(raw).hexdigest(), pages=extracted.pages,
                    encoding=extracted.encoding, ocr_pages=extracted.ocr_pages)


def _too_large(source: str, size: int, max_bytes: int) -> str:
    return f"{source}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:g} MB limit (setting 'max_file_mb')."


def _walk(root: Path, problems: list[Skipped]) -> Iterator[tuple[str, str]]:
    """Every non-hidden file under ``root`` as ``(path, source)`` strings, in a stable order (files,
    then sub-folders, by name). Strings, not pathlib: a ``Path`` per file costs ~1 s per 100k files.

    Symlinked folders are followed, but no folder is entered twice, so symlink loops end. The
    walk keeps its own stack: folders nested thousands deep cannot overflow the interpreter's.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        where = folder.relative_to(root).as_posix()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:  # a symlink loop, or a second link to a folder
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(Skipped(f"{where}/", f"{where}/: folder cannot be read ({exc.strerror or exc})."))
            continue
        folders = []
        prefix = "" if where == "." else f"{where}/"
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                folders.append(Path(entry.path))
            else:
                yield entry.path, prefix + entry.name
        stack.extend(reversed(folders))


def _check_root(root: Path) -> None:
    if not root.exists():
        msg = f"Corpus folder '{root}' does not exist."
        raise CorpusError(msg)


def list_files(root: Path) -> tuple[list[tuple[str, str]], list[Skipped]]:
    """The supported files under ``root`` as ``(path, source)`` (paths as strings: corpora may hold
    millions of files), plus the others, skipped with their reasons."""
    root = Path(root)
    _check_root(root)
    skipped: list[Skipped] = []
    files: list[tuple[str, str]] = []
    for path, source in [(str(root), root.name)] if not root.is_dir() else _walk(root, skipped):
        if suffix_of(source) not in FORMATS:
            reason = unsupported(source, suffix_of(source))
            logger.info(reason)
            skipped.append(Skipped(source, reason))
        else:
            files.append((path, source))
    return files, skipped
