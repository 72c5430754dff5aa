"""Index a corpus folder: load → chunk → embed → store, re-embedding only what changed."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from embeddings.encoder import Encoder

from ..config import Settings
from ..errors import CorpusError, DocumentError, IndexError_
from ..ingest.chunking import Chunk, Chunker, chunker_for, chunker_settings
from ..ingest.documents import SUPPORTED_SUFFIXES, Skipped, list_files, load_document, read_bytes
from ..types import Document
from .folder import IndexFolder, gc_paused, read_index
from .format import DELTA, Manifest, file_entry
from .memory import StoredIndex
from .vectors import build_vector_store
from .writer import IndexWriter

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


@dataclass(frozen=True)
class Pending:
    """A new or changed file, hashed by the scan; parsed, chunked and embedded only when it is written,
    so a run never holds the corpus."""

    path: Path
    source: str
    sha256: str
    size: int  # bytes (the Ray indexer sizes its calls by them)


@dataclass(frozen=True, kw_only=True)
class Scanned:
    """One corpus file as the scan found it: ``pending`` when it is new or changed (to chunk and embed),
    None when it is unchanged (its chunks and vectors are reused)."""

    source: str
    path: str
    pending: Pending | None = None


Embedded = tuple[Document, list[Chunk], np.ndarray]  # a document, its chunks, their vectors
EMBED_BATCH = 8192  # chunks per call to the encoder: it sorts a call by length, so large calls pad little


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
    embedded: Iterator[Embedded] = iter(())  # the pending files, in corpus order (those that fail left out)
    fresh: list[Embedded] = field(default_factory=list)  # embedded ahead, to append or to decide


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

    @staticmethod
    def _load(path: Path, source: str, max_bytes: int) -> Pending:
        """A new or modified file, hashed (:class:`DocumentError` when it cannot be read); :meth:`_embed` parses it."""
        raw = read_bytes(path, source, max_bytes=max_bytes)
        return Pending(Path(path), source, hashlib.sha256(raw).hexdigest(), len(raw))

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
                pending = self._load(path, source, max_bytes)
            except DocumentError as exc:
                _skip(report, source, str(exc))
                continue
            if entry.get("sha256") == pending.sha256 and source not in reread:
                unchanged.append(source)
                items.append(Scanned(source=source, path=path))
            else:
                (report.changed if entry else report.added).append(source)
                items.append(Scanned(source=source, path=path, pending=pending))
        return items, stats

    def _embed(self, pending: list[Pending], report: IndexReport, show_progress: bool = False) -> Iterator[Embedded]:
        """Parse, chunk and embed ``pending``, yielding each document with its chunks and vectors in
        ``pending``'s order, a batch of about :data:`EMBED_BATCH` chunks at a time. A file that fails
        goes to ``report.skipped`` and is left out."""
        chunker = self.chunker()
        max_bytes = int(self.settings.chunking.max_file_mb * 1e6)
        batch: list[tuple[Document, list[Chunk]]] = []
        size = 0
        for p in pending:
            try:
                doc = load_document(p.path, p.source, max_bytes=max_bytes)
                chunks = chunker.run(doc)
            except DocumentError as exc:
                _skip(report, p.source, str(exc))
                continue
            batch.append((doc, chunks))
            size += len(chunks)
            if size >= EMBED_BATCH:
                yield from self._encode(batch, show_progress)
                batch, size = [], 0
        yield from self._encode(batch, show_progress)

    def _encode(self, batch: list[tuple[Document, list[Chunk]]], show_progress: bool) -> Iterator[Embedded]:
        vectors = self.encoder.encode_documents([c.indexed_text for _, chunks in batch for c in chunks],
                                                show_progress=show_progress) if batch else None
        cursor = 0
        for doc, chunks in batch:
            yield doc, chunks, vectors[cursor : cursor + len(chunks)]
            cursor += len(chunks)

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
            raise _unreadable(corpus, report)
        return _Work(corpus=corpus, files=files, skipped=skipped, head=head, known=known, items=items, stats=stats)

    def _prepare(self, work: _Work, folder: IndexFolder, report: IndexReport,
                 show_progress: bool) -> Literal["reuse", "append", "rewrite"]:
        """Decide what the run does: ``append`` the added documents as a delta segment (embedded first, the
        index never read), ``reuse`` the index as it is, or ``rewrite`` it (streamed, embedding as it
        writes). A damaged index is rescanned first: every file read and embedded again."""
        work.embedded = self._embed([x.pending for x in work.items if x.pending], report, show_progress)
        if self._only_added(work, folder, report):
            room = folder.delta_max_chunks - dict(work.head[1].segment_sizes(0)).get(DELTA, 0)
            for embedded in work.embedded:  # up to what the delta can take: bounded
                work.fresh.append(embedded)
                if sum(len(e[1]) for e in work.fresh) > room:
                    break
            else:
                if work.fresh:
                    return "append"
        if self._open(work, folder, report):  # rescanned: every file is pending again
            work.fresh = []
            work.embedded = self._embed([x.pending for x in work.items if x.pending], report, show_progress)
        if work.old is not None and not (report.changed or report.rebuild_reason or self._removed(work)):
            if not work.fresh:  # only added files: is any of them readable?
                work.fresh = list(itertools.islice(work.embedded, 1))
            if not work.fresh:
                report.added = []
                return "reuse"
        return "rewrite"

    @staticmethod
    def _removed(work: _Work) -> list[str]:
        return sorted(set(work.known) - {x.source for x in work.items})

    @staticmethod
    def _only_added(work: _Work, folder: IndexFolder, report: IndexReport) -> bool:
        """Whether documents were only added (none changed or removed) and the delta segment has room left:
        then they may go to it without reading the index."""
        return (bool(report.added) and not report.changed and folder.can_append(work.head, 0)
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

    def _append(self, work: _Work, folder: IndexFolder, report: IndexReport) -> None:
        """The added documents as the delta segment; the rest of the index is neither read nor written."""
        done = {doc.source for doc, _, _ in work.fresh}
        report.added = [s for s in report.added if s in done]
        report.embedded_chunks = sum(len(chunks) for _, chunks, _ in work.fresh)
        documents = [doc for doc, _, _ in work.fresh]
        chunks = {doc.source: c for doc, c, _ in work.fresh}
        vectors = np.vstack([v for _, _, v in work.fresh])
        report.counts = (len(work.known) + len(done), folder.append(work.head, documents, chunks, vectors, work.stats))

    def _rewrite(self, work: _Work, folder: IndexFolder, report: IndexReport) -> None:
        """The whole index, streamed in corpus order into one segment: new chunks and vectors for the
        documents embedded, the old ones for the rest, read a batch of documents at a time."""
        old, known = work.old, work.known
        embedded = itertools.chain(work.fresh, work.embedded)
        work.fresh = []
        upcoming = next(embedded, None)
        # the dimension without loading a model (the Ray driver has none)
        dimension = old.manifest.dimension if old else upcoming[2].shape[1] if upcoming else self.encoder.dimension
        manifest = Manifest(model=self.encoder.fingerprint(), dimension=int(dimension),
                            chunker=self._chunker_settings(), files={})

        def vectors(chunks, raw):
            return build_vector_store(self.settings, folder.root, manifest, chunks, raw, old)

        written, chunks_embedded = set(), 0
        ix = self.settings.index
        with IndexWriter(folder.root, manifest, build=vectors, shard_chunks=ix.bm25_shard_chunks) as writer:
            for start in range(0, len(work.items), 1024):
                batch = work.items[start : start + 1024]
                kept = old.chunk_ids_by_source([x.source for x in batch if x.pending is None]) if old else {}
                kept_ids = [i for ids in kept.values() for i in ids]
                # one read of the batch's kept chunks and vectors, not one per document
                kept_vectors = old.vectors_of(kept_ids) if old else None
                kept_chunks = dict(zip(kept_ids, old.chunks_by_id(kept_ids))) if old else {}
                cursor = 0
                for x in batch:
                    stat = work.stats.get(x.source) or {k: known[x.source][k] for k in ("size", "mtime_ns")
                                                        if k in known.get(x.source, {})}
                    if x.pending is None:
                        ids = kept.get(x.source, [])
                        vecs = kept_vectors[cursor : cursor + len(ids)]
                        cursor += len(ids)
                        writer.add(x.source, old.texts[x.source], old.pages.get(x.source, ()),
                                   [kept_chunks[i] for i in ids], vecs)
                        manifest.files[x.source] = {**old.manifest.files.get(x.source, {}), "sha256": known[x.source]["sha256"],
                                                    "chunks": len(ids), **stat}
                    elif upcoming is not None and upcoming[0].source == x.source:
                        doc, chunks, vecs = upcoming
                        upcoming = next(embedded, None)
                        writer.add(doc.source, doc.text, doc.pages, chunks, vecs)
                        manifest.files[x.source] = {**file_entry(doc, len(chunks)), **stat}
                        chunks_embedded += len(chunks)
                    else:  # it failed to parse: as if it could not be read
                        continue
                    written.add(x.source)
            if not written:
                raise _unreadable(work.corpus, report)
            writer.commit()
            report.index = writer.index()
        report.embedded_chunks = chunks_embedded
        report.added = [s for s in report.added if s in written]
        report.changed = [s for s in report.changed if s in written]
        report.removed = sorted(set(known) - written)


def _unreadable(corpus: Path, report: IndexReport) -> CorpusError:
    why = "; ".join(s.reason for s in report.skipped[:5]) or f"no supported files found ({', '.join(SUPPORTED_SUFFIXES)})"
    return CorpusError(f"Corpus '{corpus}' has no readable documents ({why}).")


def _skip(report: IndexReport, source: str, reason: str) -> None:
    logger.info("Skipped %s", reason)  # the report carries it; the surfaces show it once
    report.skipped.append(Skipped(source, reason))
