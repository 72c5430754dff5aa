"""The knowledge base as people manage it: what is indexed, what was skipped and why, and taking a
file out or reading one again (``virag list``, ``virag remove``, the chat's documents tab).

Removing deletes the file from the corpus folder, then updates the index incrementally under the
index lock; a crash between the two leaves the previous index, which still loads, and the next run
drops the file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import Settings
from ..errors import CorpusError, DocumentError
from ..ingest.documents import Skipped, list_files, load_document
from .indexer import Indexer, IndexReport
from .folder import read_manifest
from .format import Manifest


@dataclass(frozen=True, kw_only=True)
class IndexedFile:
    """One indexed file as a person sees it."""

    source: str
    chunks: int
    pages: int | None = None  # PDFs
    encoding: str | None = None  # text files, as detected
    indexed: float | None = None  # when it was last read (Unix time); None for indexes made before it was kept
    size: int | None = None  # bytes
    ocr_pages: tuple[int, ...] = ()  # PDF pages read by OCR (scans)


def indexed_files(manifest: Manifest) -> list[IndexedFile]:
    """The files of an index, in corpus order."""
    return [IndexedFile(source=source, chunks=int(e.get("chunks", 0)), pages=e.get("pages"),
                        encoding=e.get("encoding"), indexed=e.get("indexed"), size=e.get("size"),
                        ocr_pages=tuple(e.get("ocr_pages", ())))
            for source, e in manifest.files.items()]


def listing(files: list[IndexedFile], skipped: list[Skipped]) -> dict:
    """The files and the skipped ones as JSON: ``virag list --json`` and ``GET /v1/documents``."""
    return {"files": [asdict(f) for f in files], "skipped": [{"source": s.source, "reason": s.reason} for s in skipped]}


def skipped_files(corpus: Path, manifest: Manifest | None, max_bytes: int | None = None) -> list[Skipped]:
    """The corpus files that are not in the index, each with the reason it cannot be read (files of
    unsupported formats, unreadable or empty files); a readable file not yet indexed is left out."""
    files, skipped = list_files(Path(corpus))
    known = manifest.files if manifest else {}
    for path, source in files:
        if source in known:
            continue
        try:
            load_document(path, source, max_bytes=max_bytes)
        except DocumentError as exc:
            skipped.append(Skipped(source, str(exc)))
    return skipped


def source_of(corpus: Path, name: str | Path) -> str:
    """The corpus-relative source name of ``name``: a path (absolute, or relative to the working folder)
    of a file inside ``corpus``, or a source name as ``virag list`` prints it."""
    corpus = Path(os.path.abspath(corpus))
    path = Path(name)
    path = Path(os.path.abspath(path if path.is_absolute() or path.exists() else corpus / path))
    if path.is_relative_to(corpus) and path != corpus:
        return path.relative_to(corpus).as_posix()
    msg = f"{name}: not a file of the corpus {corpus} (give a path inside it, or a name as `virag list` prints it)."
    raise CorpusError(msg)


class Catalogue:
    """One corpus folder and its index, managed file by file.

    Example::

        kb = Catalogue(Path("seeds"), settings.index_dir_for(Path("seeds")), settings, settings.encoder())
        kb.files()                  # [IndexedFile(source='001_….txt', chunks=12, …), …]
        kb.remove("001_….txt")      # the file leaves the folder and the index
    """

    def __init__(self, corpus: Path, index_dir: Path, settings: Settings, encoder) -> None:
        self.corpus = Path(corpus)
        self.index_dir = Path(index_dir)
        self.settings = settings
        self.encoder = encoder

    def _manifest(self) -> Manifest | None:
        head = read_manifest(self.index_dir)
        return head[1] if head else None

    def files(self) -> list[IndexedFile]:
        manifest = self._manifest()
        return indexed_files(manifest) if manifest else []

    def skipped(self) -> list[Skipped]:
        return skipped_files(self.corpus, self._manifest(), int(self.settings.max_file_mb * 1e6))

    def remove(self, name: str | Path) -> IndexReport:
        """Delete an indexed file from the corpus folder and the index (:class:`CorpusError` naming it when it
        is not indexed)."""
        source = source_of(self.corpus, name)
        manifest = self._manifest()
        if manifest is None or source not in manifest.files:
            msg = f"{source}: not in the index of {self.corpus} (`virag list` shows what is); nothing removed."
            raise CorpusError(msg)
        if len(manifest.files) == 1:
            msg = f"{source} is the only document of {self.corpus}; an index needs one. Add another first."
            raise CorpusError(msg)
        (self.corpus / source).unlink(missing_ok=True)
        return Indexer(self.settings, self.encoder).run(self.corpus, self.index_dir)

    def reindex(self, name: str | Path) -> IndexReport:
        """Read one indexed file again and re-embed it, whatever its size and time say."""
        source = source_of(self.corpus, name)
        if not (self.corpus / source).is_file():
            msg = f"{source}: no such file in {self.corpus}; nothing re-indexed."
            raise CorpusError(msg)
        return Indexer(self.settings, self.encoder).run(self.corpus, self.index_dir, reread=(source,))
