"""The knowledge base as people manage it: what is indexed, what was skipped and why, adding files,
taking one out or reading one again (``virag list``, ``virag add``, ``virag remove``, the chat's
documents tab and uploads, ``/v1/documents``).

Adding checks each file (format, size, readable), copies it into the corpus folder under a safe
name, then updates the index incrementally; when indexing fails, the copied files are removed again.

Removing deletes the file from the corpus folder, then updates the index incrementally under the
index lock; a crash between the two leaves the previous index, which still loads, and the next run
drops the file.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from ..config import Settings
from ..errors import CorpusError, DocumentError, ViragError
from ..ingest.documents import SUPPORTED_SUFFIXES, Skipped, list_files, load_document
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


@dataclass(frozen=True)
class AddLimits:
    """What one :meth:`Catalogue.add` may bring in (the chat's and the API's uploads are stricter)."""

    max_mb: float = 50.0  # per file
    max_files: int | None = None  # per call; None: any number
    suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES


@dataclass
class Added:
    """What :meth:`Catalogue.add` did: the files added (their names in the corpus), the rejected ones with
    why, and the indexing run (None when nothing was added)."""

    added: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    report: IndexReport | None = None

    @property
    def summary(self) -> str:
        return self.report.summary() if self.report else ""


def safe_filename(name: str, suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES) -> str:
    """A file name that cannot leave the corpus folder: no directories, no dot files, no odd characters.

    Raises :class:`ValueError` (with a Vietnamese message) when the suffix is not supported.
    """
    base = PurePosixPath(unicodedata.normalize("NFC", str(name)).replace("\\", "/")).name
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in suffixes:
        msg = f"định dạng '{suffix or base}' không được hỗ trợ (chỉ nhận {', '.join(suffixes)})."
        raise ValueError(msg)
    stem = re.sub(r"[^\w\- ]+", "_", stem)
    stem = re.sub(r"\s+", "_", stem).strip("._- ")[:80] or "tai_lieu"
    return stem + suffix


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
        return skipped_files(self.corpus, self._manifest(), int(self.settings.chunking.max_file_mb * 1e6))

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

    def add(self, paths: list[str | Path], names: list[str] | None = None, *, limits: AddLimits | None = None,
            progress: Callable[[float, str], None] | None = None) -> Added:
        """Copy the readable ``paths`` into the corpus folder (as ``names``, made safe; default: their own
        names) and index them incrementally. A file that is not readable, too large, of an unsupported
        format or already there is rejected with the reason; when indexing fails, the copied files are
        removed again and every one is rejected with the error."""
        limits = limits or AddLimits(max_mb=self.settings.chunking.max_file_mb)
        note = progress or (lambda _f, _d: None)
        result = Added()
        paths = [Path(p) for p in paths or []]
        names = list(names) if names else [p.name for p in paths]
        if limits.max_files is not None and len(paths) > limits.max_files:
            result.rejected.append(("*", f"tối đa {limits.max_files} tệp mỗi lần, đã chọn {len(paths)}."))
            return result
        note(0.05, "Đang kiểm tra tệp…")
        written: list[Path] = []
        for path, name in zip(paths, names):
            try:
                safe = self._check(path, name, limits)
                data = path.read_bytes()
                dest = self._destination(safe, data)
            except (ValueError, OSError) as exc:
                result.rejected.append((PurePosixPath(str(name)).name, str(exc)))
                continue
            if dest is None:
                result.rejected.append((safe, "tệp giống hệt đã có trong kho tài liệu."))
                continue
            fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self.corpus)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, dest)
            written.append(dest)
            result.added.append(dest.name)
        if not result.added:
            return result
        note(0.3, "Đang lập chỉ mục…")
        try:
            result.report = Indexer(self.settings, self.encoder).run(self.corpus, self.index_dir)
        except ViragError as exc:
            for path in written:  # leave the corpus as the index last saw it
                path.unlink(missing_ok=True)
            result.rejected += [(name, f"lập chỉ mục thất bại: {exc}") for name in result.added]
            result.added = []
            return result
        note(1.0, "Xong.")
        return result

    @staticmethod
    def _check(path: Path, name: str, limits: AddLimits) -> str:
        """Validate one file; returns its safe name or raises ValueError with the reason."""
        safe = safe_filename(name, limits.suffixes)
        size = path.stat().st_size
        if size > limits.max_mb * 1e6:
            msg = f"{size / 1e6:.1f} MB vượt giới hạn {limits.max_mb:g} MB."
            raise ValueError(msg)
        try:
            load_document(path, safe, max_bytes=int(limits.max_mb * 1e6))
        except DocumentError as exc:
            raise ValueError(str(exc)) from None
        return safe

    def _destination(self, safe: str, data: bytes) -> Path | None:
        """A free path for ``safe`` inside the corpus (``None`` when the same file is already there)."""
        corpus = self.corpus.resolve()
        stem, suffix = safe.rsplit(".", 1)
        for i in range(1, 1000):
            candidate = corpus / (safe if i == 1 else f"{stem}-{i}.{suffix}")
            if candidate.resolve().parent != corpus:
                break
            if not candidate.exists():
                return candidate
            if candidate.read_bytes() == data:
                return None
        msg = "không tìm được tên tệp còn trống trong kho tài liệu."
        raise ValueError(msg)
