"""The state one chat server shares between its users: one model, one index, one indexing lock.

:class:`ChatService` holds the loaded :class:`~embeddings.encoder.Encoder` and the current
:class:`rag.Assistant`. Requests read the current assistant (a reference swap is atomic);
uploads are validated, written under the corpus folder with a safe name, re-indexed
incrementally under a lock, and the new assistant is swapped in whole.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rag import Answer, Assistant, Settings
from rag.errors import DocumentError, ViragError
from rag.index.catalogue import Catalogue, IndexedFile, indexed_files
from rag.index.indexer import IndexReport
from rag.ingest.documents import SUPPORTED_SUFFIXES, Skipped, load_document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may contain."""

    max_mb: float = 5.0
    max_files: int = 10
    suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES


@dataclass
class UploadResult:
    """What :meth:`ChatService.add_files` did."""

    added: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""


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


class ChatService:
    """Everything the UI needs, loaded once per process and shared read-only between sessions.

    Example::

        service = ChatService.from_folder("seeds")
        answer = service.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
    """

    def __init__(self, assistant: Assistant, *, corpus: Path | None = None, index_dir: Path | None = None,
                 limits: UploadLimits | None = None) -> None:
        self._assistant = assistant
        self.settings: Settings = assistant.settings
        self.encoder = assistant.encoder
        self.corpus = Path(corpus).resolve() if corpus else None
        self.index_dir = Path(index_dir) if index_dir else None
        self.limits = limits or UploadLimits(max_mb=min(5.0, self.settings.max_file_mb))
        self._index_lock = threading.Lock()
        self._variants: dict[tuple[int, int, str], Assistant] = {}
        self._variants_lock = threading.Lock()

    @classmethod
    def from_folder(cls, corpus: str | Path, *, settings: Settings | None = None, index_dir: str | Path | None = None,
                    encoder=None, limits: UploadLimits | None = None, show_progress: bool = False) -> ChatService:
        """Index ``corpus`` (or reuse its index) and serve it; uploads go into ``corpus``."""
        settings = settings or Settings()
        corpus = Path(corpus)
        index_dir = Path(index_dir) if index_dir else settings.index_dir_for(corpus)
        qa = Assistant.from_folder(corpus, settings=settings, index_dir=index_dir, encoder=encoder,
                                   show_progress=show_progress)
        return cls(qa, corpus=corpus, index_dir=index_dir, limits=limits)

    @classmethod
    def from_index(cls, index_dir: str | Path, *, settings: Settings | None = None, encoder=None) -> ChatService:
        """Serve an existing index; without a corpus folder, uploads are disabled."""
        return cls(Assistant.from_index(index_dir, settings=settings, encoder=encoder), index_dir=index_dir)

    # -- reading ----------------------------------------------------------
    @property
    def assistant(self) -> Assistant:
        """The current assistant (replaced whole after an upload)."""
        return self._assistant

    @property
    def can_upload(self) -> bool:
        return self.corpus is not None and self.index_dir is not None

    def answerers(self) -> list[tuple[str, str]]:
        """``(label, name)`` of the answerers this server can use, for a dropdown: the sentence answerer
        always, an LLM only when the settings configure one."""
        from rag.answer.reader import WEIGHTS

        s = self.settings
        options = [("Trích câu từ tài liệu (nhanh, không cần mô hình)", "sentences")]
        if s.reader_weights or WEIGHTS.is_file():
            options.insert(0, ("Mô hình đọc hiểu: câu trả lời ngắn + câu trích dẫn", "reader"))
        if s.answerer in ("openai", "llamacpp"):
            options.append((f"LLM: {s.llm_model or s.llm_model_path or s.answerer} ({s.answerer})", s.answerer))
        return options

    def answerer(self, top_k: int | None = None, answerer: str | None = None) -> Assistant:
        """The assistant for these per-request settings, sharing the current index and model."""
        base = self._assistant
        answerer = answerer or base.settings.answerer
        names = [name for _, name in self.answerers()]
        if answerer not in names:
            msg = f"Unknown answerer '{answerer}'; available: {names}."
            raise ValueError(msg)
        k = int(top_k or base.settings.top_k)
        key = (id(base), k, answerer)
        with self._variants_lock:
            found = self._variants.get(key)
            if found is None:
                found = base
                if k != base.settings.top_k or answerer != base.settings.answerer:
                    s = base.settings.with_(top_k=k, candidates=max(base.settings.candidates, k), answerer=answerer)
                    found = Assistant(base.index, settings=s, encoder=base.encoder)
                if base is self._assistant:  # never cache a variant of an index already replaced
                    self._variants[key] = found
        return found

    def ask(self, question: str, *, top_k: int | None = None, answerer: str | None = None,
            history: list[str] | None = None) -> Answer:
        return self.answerer(top_k, answerer).ask(question, history=history)

    def stream(self, question: str, *, top_k: int | None = None, answerer: str | None = None,
               history: list[str] | None = None, delay: float = 0.02) -> Iterator[tuple[str, Answer | None]]:
        """Yield ``(text so far, None)`` while answering, then ``(full text, answer)``.

        ``history``: the conversation's earlier questions, as searched (a follow-up leans on them).
        The pieces are the library's (``Assistant.stream``: citations already final); ``delay``
        paces pieces that arrive all at once, so the answer reads as it streams.
        """
        text = ""
        for piece in self.answerer(top_k, answerer).stream(question, history=history):
            if isinstance(piece, Answer):
                yield piece.text, piece
                return
            if text and delay:
                time.sleep(delay)
            text += piece
            yield text, None

    def document(self, source: str) -> str | None:
        """The full text of an indexed document, or ``None``."""
        return self._assistant.index.texts.get(source)

    def pages(self, source: str) -> tuple[int, ...]:
        """Where each page of an indexed PDF starts in its text (empty for other formats)."""
        return tuple(self._assistant.index.pages.get(source, ()))

    def ocr_pages(self, source: str) -> tuple[int, ...]:
        """The 1-based pages of an indexed PDF whose text was read by OCR."""
        return tuple(self._assistant.index.manifest.files.get(source, {}).get("ocr_pages", ()))

    # -- the knowledge base ------------------------------------------------
    def catalogue(self) -> Catalogue | None:
        """The corpus and its index, file by file (None when serving an index without its corpus)."""
        if not self.can_upload:
            return None
        return Catalogue(self.corpus, self.index_dir, self.settings, self.encoder)

    def files(self) -> tuple[list[IndexedFile], list[Skipped]]:
        """The indexed files, and the skipped ones with their reasons as the last indexing run found them."""
        qa = self._assistant
        return indexed_files(qa.index.manifest), list(qa.report.skipped) if qa.report else []

    def remove_file(self, source: str) -> str:
        """Delete an indexed file from the corpus and the index; the new index is swapped in whole.
        Returns the index summary; raises :class:`ViragError` naming the file (the index serving is kept)."""
        return self._update(lambda kb: kb.remove(source))

    def reindex_file(self, source: str) -> str:
        """Read one file again and re-embed it."""
        return self._update(lambda kb: kb.reindex(source))

    def _update(self, change: Callable[[Catalogue], IndexReport]) -> str:
        kb = self.catalogue()
        if kb is None:
            msg = "Máy chủ được mở từ một chỉ mục (--index): không thể sửa kho tài liệu."
            raise ValueError(msg)
        with self._index_lock:
            report = change(kb)
            qa = Assistant(report.index, settings=self.settings, encoder=self.encoder, report=report)
            self._assistant = qa
            with self._variants_lock:
                self._variants.clear()
        return qa.report.summary() if qa.report else ""

    # -- uploading --------------------------------------------------------
    def _check(self, path: Path, name: str) -> str:
        """Validate one uploaded file; returns its safe name or raises ValueError with the reason."""
        safe = safe_filename(name, self.limits.suffixes)
        size = path.stat().st_size
        if size > self.limits.max_mb * 1e6:
            msg = f"{size / 1e6:.1f} MB vượt giới hạn {self.limits.max_mb:g} MB."
            raise ValueError(msg)
        try:
            load_document(path, safe, max_bytes=int(self.limits.max_mb * 1e6))
        except DocumentError as exc:
            raise ValueError(str(exc)) from None
        return safe

    def _destination(self, safe: str, data: bytes) -> Path | None:
        """A free path for ``safe`` inside the corpus (``None`` when the same file is already there)."""
        assert self.corpus is not None
        stem, suffix = safe.rsplit(".", 1)
        for i in range(1, 1000):
            candidate = self.corpus / (safe if i == 1 else f"{stem}-{i}.{suffix}")
            if candidate.resolve().parent != self.corpus:
                break
            if not candidate.exists():
                return candidate
            if candidate.read_bytes() == data:
                return None
        msg = "không tìm được tên tệp còn trống trong kho tài liệu."
        raise ValueError(msg)

    def add_files(self, paths: list[str | Path], names: list[str] | None = None,
                  progress: Callable[[float, str], None] | None = None) -> UploadResult:
        """Copy valid files into the corpus, re-index incrementally, swap in the new assistant."""
        result = UploadResult()
        note = progress or (lambda _f, _d: None)
        if not self.can_upload:
            result.rejected.append(("*", "máy chủ được mở từ một chỉ mục (--index), không có thư mục tài liệu để thêm."))
            return result
        paths = [Path(p) for p in paths or []]
        names = names or [p.name for p in paths]
        if len(paths) > self.limits.max_files:
            result.rejected.append(("*", f"tối đa {self.limits.max_files} tệp mỗi lần, đã chọn {len(paths)}."))
            return result
        written: list[Path] = []
        with self._index_lock:
            note(0.05, "Đang kiểm tra tệp…")
            for path, name in zip(paths, names):
                try:
                    safe = self._check(path, name)
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
                qa = Assistant.from_folder(self.corpus, settings=self.settings, index_dir=self.index_dir,
                                           encoder=self.encoder)
            except ViragError as exc:
                for path in written:  # leave the corpus as the index last saw it
                    path.unlink(missing_ok=True)
                result.rejected += [(name, f"lập chỉ mục thất bại: {exc}") for name in result.added]
                result.added = []
                return result
            self._assistant = qa
            with self._variants_lock:
                self._variants.clear()
            result.summary = qa.report.summary() if qa.report else ""
            note(1.0, "Xong.")
            logger.info("Upload added %s; %s", result.added, result.summary)
        return result
