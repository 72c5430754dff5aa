"""Index a corpus folder: load → chunk → embed → store, re-embedding only what changed."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from embeddings.encoder import Encoder

from ..config import Settings
from ..errors import CorpusError, DocumentError, IndexError_
from ..ingest.chunking import Chunk, Chunker, chunker_for, chunker_settings
from ..ingest.documents import SUPPORTED_SUFFIXES, Skipped, list_files, load_document
from ..types import Document
from .folder import IndexFolder, gc_paused, read_index
from .format import Manifest, file_entry
from .memory import StoredIndex, dense_moments
from .vectors import build_vector_store

logger = logging.getLogger(__name__)


class _ReadOnUse:
    """``IndexReport.index``: a run that only added documents writes the delta segment and never reads
    the rest of the index; the index is read from ``index_dir`` when first asked for."""

    def __set_name__(self, owner, name: str) -> None:
        self.attr = f"_{name}"

    def __get__(self, report, owner=None):
        if report is None:
            return None  # the dataclass default
        if getattr(report, self.attr, None) is None and report.index_dir is not None:
            setattr(report, self.attr, read_index(report.index_dir))
        return getattr(report, self.attr, None)

    def __set__(self, report, value) -> None:
        setattr(report, self.attr, value)


@dataclass
class IndexReport:
    """What one indexing run did."""

    index: StoredIndex | None = _ReadOnUse()
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded_chunks: int = 0
    rebuild_reason: str | None = None
    seconds: float = 0.0
    index_dir: Path | None = None
    counts: tuple[int, int] | None = None  # (documents, chunks), for a summary without reading the index

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rebuild_reason)

    def totals(self) -> tuple[int, int]:
        """(documents, chunks) of the index now (without reading it when the run knows them)."""
        loaded = getattr(self, "_index", None)
        return (self.counts if loaded is None and self.counts
                else (len(self.index.manifest.files), len(self.index.chunks)))

    def to_dict(self) -> dict:
        """The run as JSON (``virag index --json``)."""
        documents, chunks = self.totals()
        return {"index": str(self.index_dir) if self.index_dir else None, "documents": documents, "chunks": chunks,
                "added": self.added, "changed": self.changed, "removed": self.removed,
                "unchanged": len(self.unchanged), "embedded_chunks": self.embedded_chunks,
                "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
                "rebuild_reason": self.rebuild_reason, "seconds": round(self.seconds, 2)}

    def summary(self) -> str:
        documents, chunks = self.totals()
        parts = [
            f"{documents} documents, {chunks} chunks",
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged",
            f"{self.embedded_chunks} chunks embedded in {self.seconds:.1f}s",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return "; ".join(parts)


@dataclass(frozen=True, kw_only=True)
class Scanned:
    """One corpus file as the scan found it: ``document`` is what :meth:`Indexer._load` read when the file is
    new or changed (to chunk and embed), None when it is unchanged (its chunks and vectors are reused)."""

    source: str
    path: str
    document: object | None = None  # a Document, or anything with .source and .sha256 (the Ray indexer's)


def file_stat(path, entry: dict, max_bytes: int) -> tuple[dict | None, bool]:
    """``{"size", "mtime_ns"}`` of ``path`` (None when it cannot be stat'ed), and whether they are
    the ones the manifest ``entry`` recorded: then the file is unchanged and is not read again.
    Stat before reading: a change made meanwhile moves the mtime the next run sees."""
    try:
        st = os.stat(path)
    except OSError:
        return None, False
    same = entry.get("mtime_ns") == st.st_mtime_ns and entry.get("size") == st.st_size <= max_bytes
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}, same


@dataclass
class _Work:
    """One run of :meth:`Indexer.run` as it goes: what the scan found, the index once read, what was embedded."""

    corpus: Path
    files: list[tuple[str, str]]
    skipped: list[Skipped]
    head: tuple[Path, Manifest] | None  # the live version, when the scan could compare against it
    known: dict[str, dict]  # its manifest's files; {} after a rescan
    items: list[Scanned]
    stats: dict[str, dict]  # size and mtime of the files read
    old: StoredIndex | None = None
    fresh: list = field(default_factory=list)  # the documents embedded
    new_chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    new_vectors: np.ndarray | None = None


class Indexer:
    """Keeps the index of one corpus folder up to date.

    Example::

        report = Indexer(settings, encoder).run(Path("seeds"), Path("/tmp/seeds-index"))
        print(report.summary())
    """

    def __init__(self, settings: Settings, encoder: Encoder) -> None:
        self.settings = settings
        self.encoder = encoder

    def chunker(self) -> Chunker:
        return chunker_for(self.settings.chunking, self.encoder)

    def _chunker_settings(self) -> dict:
        return chunker_settings(self.settings.chunking, self.settings.embedding.document_prompt)

    def _reusable(self, folder: IndexFolder, report: IndexReport) -> StoredIndex | None:
        index_dir = folder.root
        try:
            old = folder.read()
        except IndexError_ as exc:
            report.rebuild_reason = f"{exc} Rebuilding."
            logger.warning(report.rebuild_reason)
            return None
        if old is None:
            return None
        reasons = []
        fingerprint = self.encoder.fingerprint()
        if old.manifest.model != fingerprint:
            reasons.append(f"the embedding model changed ({old.manifest.model} → {fingerprint})")
        if old.manifest.chunker != self._chunker_settings():
            reasons.append(f"chunker settings changed ({old.manifest.chunker} → {self._chunker_settings()})")
        if reasons:
            report.rebuild_reason = f"Rebuilding index {index_dir}: " + "; ".join(reasons) + "."
            logger.warning(report.rebuild_reason)
            return None
        from .milvus import store_change

        moved = store_change(self.settings, old.manifest, index_dir)
        if moved:  # a rewrite that copies the vectors into the other store: nothing is re-embedded
            report.rebuild_reason = moved
            logger.warning(moved)
        return old

    def _assemble(self, docs: list[Document], new_chunks: dict[str, list[Chunk]], new_vectors: np.ndarray,
                  old: StoredIndex | None, index_dir: Path) -> StoredIndex:
        """The new index: ``docs`` in corpus order, fresh chunks and vectors for ``new_chunks``' documents,
        the old ones for the rest (shared with :class:`rag.index.distributed.RayIndexer`)."""
        old_by_source: dict[str, list[int]] = {}
        if old:
            for i, c in enumerate(old.chunks):
                old_by_source.setdefault(c.source, []).append(i)
        # the kept vectors in one read: an external store (Milvus) answers it in one round trip
        kept = [i for d in docs if d.source not in new_chunks for i in old_by_source.get(d.source, [])]
        old_vectors = old.vectors_of(kept) if old else None
        chunks: list[Chunk] = []
        parts: list[np.ndarray] = []
        files: dict[str, dict] = {}
        texts: dict[str, str] = {}
        pages: dict[str, tuple[int, ...]] = {}
        cursor = old_cursor = 0
        for d in docs:  # keep corpus order so ids are stable and deterministic
            if d.source in new_chunks:
                cs = new_chunks[d.source]
                vecs = new_vectors[cursor : cursor + len(cs)]
                cursor += len(cs)
            else:
                ids = old_by_source.get(d.source, [])
                cs = [old.chunks[i] for i in ids]
                vecs = old_vectors[old_cursor : old_cursor + len(ids)]
                old_cursor += len(ids)
            chunks += cs
            parts.append(vecs)
            files[d.source] = (file_entry(d, len(cs)) if d.source in new_chunks
                               else {**old.manifest.files.get(d.source, {}), "sha256": d.sha256, "chunks": len(cs)})
            texts[d.source] = d.text
            if d.pages:
                pages[d.source] = d.pages
        dimension = int(parts[0].shape[1]) if parts and parts[0].size else self.encoder.dimension
        vectors = np.vstack(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
        manifest = Manifest(
            model=self.encoder.fingerprint(), dimension=dimension,
            chunker=self._chunker_settings(), files=files,
        )
        vector_index = build_vector_store(self.settings, index_dir, manifest, chunks, vectors, old)
        # moments from the matrix in hand, not reconstructed back out of FAISS
        return StoredIndex(manifest, chunks, vector_index, texts, dense_stats=dense_moments(vectors, dimension),
                           pages=pages)

    def _head(self, folder: IndexFolder) -> tuple[Path, Manifest] | None:
        """The current version and its manifest when they can say which files changed (same model and
        chunker); None otherwise (:meth:`_reusable` then says why)."""
        opened = folder.head()
        if opened is None:
            return None
        manifest = opened[1]
        if manifest.model != self.encoder.fingerprint() or manifest.chunker != self._chunker_settings():
            return None
        return opened

    def _load(self, path: Path, source: str, max_bytes: int) -> Document:
        """A new or modified file, read for :meth:`_embed`; anything with ``.source`` and ``.sha256``
        (the Ray indexer only hashes here: its workers parse). Raises :class:`DocumentError`."""
        return load_document(path, source, max_bytes=max_bytes)

    def _scan(self, files: list[tuple[str, str]], known: dict[str, dict], report: IndexReport,
              reread: tuple[str, ...] = ()):
        """Each file in corpus order as :class:`Scanned` (unchanged by size and modification time, or by
        content hash, or read); and the ``{"size", "mtime_ns"}`` of the files read, for the next run.
        (135k files: ~1 s, mostly ``stat``.)"""
        max_bytes = int(self.settings.chunking.max_file_mb * 1e6)
        items: list[Scanned] = []
        stats: dict[str, dict] = {}
        unchanged = report.unchanged
        no_entry: dict = {}
        for path, source in files:
            entry = known.get(source, no_entry)
            stat, same = file_stat(path, entry, max_bytes)
            if same and source not in reread:
                unchanged.append(source)
                items.append(Scanned(source=source, path=path))
                continue
            if stat:
                stats[source] = stat
            try:
                doc = self._load(path, source, max_bytes)
            except DocumentError as exc:
                logger.info("Skipped %s", exc)  # the report carries it; the surfaces show it once
                report.skipped.append(Skipped(source, str(exc)))
                continue
            if entry.get("sha256") == doc.sha256 and source not in reread:
                unchanged.append(source)
                items.append(Scanned(source=source, path=path))
            else:
                (report.changed if entry else report.added).append(source)
                items.append(Scanned(source=source, path=path, document=doc))
        return items, stats

    def _embed(self, fresh: list[Document], report: IndexReport, show_progress: bool = False):
        """Chunk and embed the new and changed documents: the documents indexed (in ``fresh``'s order),
        their chunks, and the chunks' vectors in that order. A document that fails goes to
        ``report.skipped`` and is left out."""
        chunker = self.chunker()
        new_chunks = {d.source: chunker.run(d) for d in fresh}
        texts = [c.indexed_text for d in fresh for c in new_chunks[d.source]]
        return fresh, new_chunks, self.encoder.encode_documents(texts, show_progress=show_progress)

    def _embed_items(self, items: list[Scanned], report: IndexReport, show_progress: bool):
        """:meth:`_embed` over the scanned items that are not unchanged; the items that failed are
        dropped, the others hold the :class:`Document` s embedded."""
        pending = [x.document for x in items if x.document is not None]
        if not pending:
            report.embedded_chunks = 0
            return items, [], {}, None
        fresh, new_chunks, new_vectors = self._embed(pending, report, show_progress)
        report.embedded_chunks = sum(map(len, new_chunks.values()))
        done = {d.source: d for d in fresh}
        if len(done) < len(pending):  # failed as a whole file: as if it could not be read
            report.added = [s for s in report.added if s in done]
            report.changed = [s for s in report.changed if s in done]
        items = [x if x.document is None else Scanned(source=x.source, path=x.path, document=done[x.source])
                 for x in items if x.document is None or x.source in done]
        return items, fresh, new_chunks, new_vectors

    def _rescan(self, files: list, skipped: list[Skipped], report: IndexReport):
        """The index cannot be read: every file is read again and the index rebuilt from them."""
        report.added, report.changed, report.unchanged, report.removed = [], [], [], []
        report.skipped = list(skipped)
        return self._scan(files, {}, report)

    def run(self, corpus: Path, index_dir: Path, *, show_progress: bool = False,
            reread: tuple[str, ...] = ()) -> IndexReport:
        """Bring the index of ``corpus`` up to date; ``reread``: sources read, chunked and embedded again
        even when they look unchanged."""
        started = time.perf_counter()
        index_dir = Path(index_dir)
        folder = IndexFolder(index_dir, delta_max_chunks=self.settings.index.delta_max_chunks, store=self.settings.scale.store)
        files, skipped = list_files(corpus)
        with folder.lock():
            report = IndexReport(index=None, skipped=list(skipped), index_dir=index_dir)
            work = self._scan_corpus(corpus, folder, files, skipped, reread, report)
            action = self._prepare(work, folder, report, show_progress)
            if action == "reuse":
                report.index, report.seconds = work.old, time.perf_counter() - started
                return report
            if action == "append":
                self._append(work, folder, report)
            else:
                self._rewrite(work, folder, report)
        report.seconds = time.perf_counter() - started
        logger.info("Indexed %s: %s", corpus, report.summary())
        return report

    def _scan_corpus(self, corpus: Path, folder: IndexFolder, files: list, skipped: list[Skipped],
                     reread: tuple[str, ...], report: IndexReport) -> _Work:
        """:meth:`_scan` of ``files`` against the live manifest; :class:`CorpusError` when none is readable."""
        with gc_paused():
            head = self._head(folder)
            known = head[1].files if head else {}
            items, stats = self._scan(files, known, report, reread)
        if not items:
            why = ("; ".join(s.reason for s in report.skipped[:5])
                   or f"no supported files found ({', '.join(SUPPORTED_SUFFIXES)})")
            msg = f"Corpus '{corpus}' has no readable documents ({why})."
            raise CorpusError(msg)
        return _Work(corpus=corpus, files=files, skipped=skipped, head=head, known=known, items=items, stats=stats)

    def _prepare(self, work: _Work, folder: IndexFolder, report: IndexReport,
                 show_progress: bool) -> Literal["reuse", "append", "rewrite"]:
        """Embed what is new and decide what the run does: ``append`` the added documents as a delta
        segment (the index is not read), ``reuse`` the index as it is, or ``rewrite`` it as one segment.
        A damaged index is rescanned before it is rewritten: every file read and embedded again."""
        appendable = self._only_added(work, folder, report)
        if appendable:  # embedded before the index is read: appending them never reads it
            self._embed_work(work, report, show_progress)
            if work.fresh and folder.can_append(work.head, report.embedded_chunks):
                return "append"
        rescanned = self._open(work, folder, report)
        if rescanned or not appendable:  # embedded before the rescan, or not yet
            self._embed_work(work, report, show_progress)
        return "reuse" if work.old is not None and not report.wrote else "rewrite"

    @staticmethod
    def _only_added(work: _Work, folder: IndexFolder, report: IndexReport) -> bool:
        """Whether documents were only added (none changed or removed) and the delta segment has room left:
        then they may go to it without reading the index."""
        return (not report.changed and folder.can_append(work.head, 0)
                and set(work.known) <= {x.source for x in work.items})

    def _open(self, work: _Work, folder: IndexFolder, report: IndexReport) -> bool:
        """Read the index into ``work.old`` (None when it cannot be reused; :meth:`_reusable` says why).
        A damaged index is rescanned: every file is read again, as for a new index. Returns whether it was."""
        work.old = self._reusable(folder, report)
        if work.old is not None or work.head is None:
            return False
        work.known = {}
        work.items, work.stats = self._rescan(work.files, work.skipped, report)
        return True

    def _embed_work(self, work: _Work, report: IndexReport, show_progress: bool) -> None:
        """:meth:`_embed_items` of the scanned files; the files no longer there are the removed ones."""
        embedded = self._embed_items(work.items, report, show_progress)
        work.items, work.fresh, work.new_chunks, work.new_vectors = embedded
        if not work.items:
            msg = f"Corpus '{work.corpus}': no document could be indexed; see the skipped files."
            raise CorpusError(msg)
        report.removed = sorted(set(work.known) - {x.source for x in work.items})

    @staticmethod
    def _append(work: _Work, folder: IndexFolder, report: IndexReport) -> None:
        """The added documents as the delta segment; the rest of the index is neither read nor written."""
        documents = len(work.known) + len(work.fresh)
        report.counts = (documents, folder.append(work.head, work.fresh, work.new_chunks, work.new_vectors, work.stats))

    def _rewrite(self, work: _Work, folder: IndexFolder, report: IndexReport) -> None:
        """The whole index as one segment: new chunks and vectors for the documents embedded, the old
        ones for the rest."""
        old, known = work.old, work.known
        docs = [x.document or Document(source=x.source, text=old.texts[x.source], sha256=known[x.source]["sha256"],
                                       pages=old.pages.get(x.source, ()))
                for x in work.items]
        report.index = self._assemble(docs, work.new_chunks, work.new_vectors, old, folder.root)
        for source, entry in report.index.manifest.files.items():  # size and mtime: the next run's shortcut
            entry.update(work.stats.get(source) or {k: known[source][k] for k in ("size", "mtime_ns")
                                                    if k in known.get(source, {})})
        folder.write(report.index)
