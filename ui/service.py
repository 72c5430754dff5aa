"""The state one chat server shares between its users: one model, one index, one indexing lock.

:class:`ChatService` holds the loaded :class:`~embeddings.encoder.Encoder` and the current
:class:`rag.Assistant`. Requests read the current assistant (a reference swap is atomic); changes
to the corpus (uploads, removals, re-reads) are the library's (:class:`~rag.index.catalogue.Catalogue`),
run one at a time under a lock, and the new assistant is swapped in whole.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rag import Answer, Assistant, Settings
from rag.index.catalogue import Added, AddLimits, Catalogue, IndexedFile, indexed_files
from rag.index.indexer import IndexReport
from rag.ingest.documents import Skipped

logger = logging.getLogger(__name__)

class ChatService:
    """Everything the UI needs, loaded once per process and shared read-only between sessions.

    Example::

        service = ChatService.from_folder("seeds")
        answer = service.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
    """

    def __init__(self, assistant: Assistant, *, corpus: Path | None = None, index_dir: Path | None = None,
                 limits: AddLimits | None = None, read_only: bool = False) -> None:
        self._assistant = assistant
        self.read_only = read_only
        self.settings: Settings = assistant.settings
        self.encoder = assistant.encoder
        self.corpus = Path(corpus).resolve() if corpus else None
        self.index_dir = Path(index_dir) if index_dir else None
        serving = self.settings.serving
        self.limits = limits or AddLimits(max_mb=min(serving.upload_max_mb, self.settings.chunking.max_file_mb),
                                          max_files=serving.upload_max_files)
        self._index_lock = threading.Lock()

    @classmethod
    def from_folder(cls, corpus: str | Path, *, settings: Settings | None = None, index_dir: str | Path | None = None,
                    encoder=None, limits: AddLimits | None = None, show_progress: bool = False,
                    read_only: bool = False) -> ChatService:
        """Index ``corpus`` (or reuse its index) and serve it; uploads go into ``corpus`` unless ``read_only``."""
        settings = settings or Settings()
        corpus = Path(corpus)
        index_dir = Path(index_dir) if index_dir else settings.index_dir_for(corpus)
        qa = Assistant.from_folder(corpus, settings=settings, index_dir=index_dir, encoder=encoder,
                                   show_progress=show_progress)
        return cls(qa, corpus=corpus, index_dir=index_dir, limits=limits, read_only=read_only)

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
    def locked(self) -> str | None:
        """Why the corpus cannot be changed here (adding, deleting, re-indexing), or None when it can."""
        if self.read_only:
            return ("Máy chủ chỉ cho đọc (--read-only): không thể thêm, xoá hay lập chỉ mục lại tài liệu. / "
                    "The server is read-only: adding, deleting and re-indexing documents are off.")
        if self.corpus is None or self.index_dir is None:
            return ("Máy chủ được mở từ một chỉ mục (--index): không thể thay đổi kho tài liệu. / "
                    "The server serves an index without its corpus folder: changing documents is off.")
        return None

    @property
    def can_upload(self) -> bool:
        return self.locked is None

    def ask(self, question: str, **options) -> Answer:
        """The current assistant's answer; ``options`` as :meth:`rag.Assistant.ask`."""
        return self._assistant.ask(question, **options)

    def stream(self, question: str, *, delay: float = 0.02, **options) -> Iterator[tuple[str, Answer | None]]:
        """Yield ``(text so far, None)`` while answering, then ``(full text, answer)``; ``options`` are
        :meth:`rag.Assistant.stream`'s (``history``, ``top_k``, ``answerer``).

        ``delay`` paces pieces that arrive all at once, so the answer reads as it streams.
        """
        text = ""
        for piece in self._assistant.stream(question, **options):
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

    def add_files(self, paths: list[str | Path], names: list[str] | None = None,
                  progress: Callable[[float, str], None] | None = None) -> Added:
        """Add uploaded files to the corpus (the library's checks, within the upload limits), index them, and
        swap in the new assistant."""
        if self.locked:
            return Added(rejected=[("*", self.locked)])
        with self._index_lock:
            result = self.catalogue().add(paths, names, limits=self.limits, progress=progress)
            if result.report is not None:
                self._swap(result.report)
                logger.info("Upload added %s; %s", result.added, result.summary)
        return result

    def _update(self, change: Callable[[Catalogue], IndexReport]) -> str:
        kb = self.catalogue()
        if kb is None:
            raise ValueError(self.locked)
        with self._index_lock:
            report = change(kb)
            self._swap(report)
        return report.summary()

    def _swap(self, report: IndexReport) -> None:
        self._assistant = Assistant(report.index, settings=self.settings, encoder=self.encoder, report=report)
