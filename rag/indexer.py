"""Index a corpus folder: load → chunk → embed → store, re-embedding only what changed."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder

from .chunking import Chunk, Chunker
from .config import Settings
from .documents import SUPPORTED_SUFFIXES, Document, Skipped, load_folder
from .errors import CorpusError, IndexError_
from .store import Manifest, StoredIndex, dense_moments, index_lock, new_vector_index, read_index, write_index

logger = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What one indexing run did."""

    index: StoredIndex
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded_chunks: int = 0
    rebuild_reason: str | None = None
    seconds: float = 0.0

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rebuild_reason)

    def summary(self) -> str:
        parts = [
            f"{len(self.index.manifest.files)} documents, {len(self.index.chunks)} chunks",
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged",
            f"{self.embedded_chunks} chunks embedded in {self.seconds:.1f}s",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return "; ".join(parts)


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
        s = self.settings
        return Chunker(
            self.encoder.count_tokens,
            max_tokens=min(s.chunk_tokens, self.encoder.max_tokens),
            overhead=self.encoder.prompt_overhead(s.document_prompt),
            overlap_sentences=s.chunk_overlap_sentences,
            heading_max_words=s.heading_max_words,
        )

    def _vector_index(self, vectors: np.ndarray, dimension: int):
        s = self.settings
        return new_vector_index(vectors, dimension, flat_max=s.flat_max_vectors, hnsw_m=s.hnsw_m,
                                ef_search=s.hnsw_ef_search)

    def _reusable(self, index_dir: Path, report: IndexReport) -> StoredIndex | None:
        try:
            old = read_index(index_dir)
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
        if old.manifest.chunker != self.settings.chunker_settings():
            reasons.append(f"chunker settings changed ({old.manifest.chunker} → {self.settings.chunker_settings()})")
        if reasons:
            report.rebuild_reason = f"Rebuilding index {index_dir}: " + "; ".join(reasons) + "."
            logger.warning(report.rebuild_reason)
            return None
        return old

    def run(self, corpus: Path, index_dir: Path, *, show_progress: bool = False) -> IndexReport:
        started = time.perf_counter()
        docs, skipped = load_folder(corpus, max_file_mb=self.settings.max_file_mb)
        if not docs:
            why = "; ".join(s.reason for s in skipped[:5]) or f"no supported files found ({', '.join(SUPPORTED_SUFFIXES)})"
            msg = f"Corpus '{corpus}' has no readable documents ({why})."
            raise CorpusError(msg)
        with index_lock(index_dir):
            report = IndexReport(index=None, skipped=skipped)  # type: ignore[arg-type]
            old = self._reusable(index_dir, report)
            old_files = old.manifest.files if old else {}
            old_by_source: dict[str, list[int]] = {}
            if old:
                for i, c in enumerate(old.chunks):
                    old_by_source.setdefault(c.source, []).append(i)

            current = {d.source for d in docs}
            report.removed = sorted(set(old_files) - current)
            fresh: list[Document] = []
            for d in docs:
                if old_files.get(d.source, {}).get("sha256") == d.sha256:
                    report.unchanged.append(d.source)
                else:
                    (report.changed if d.source in old_files else report.added).append(d.source)
                    fresh.append(d)

            if old and not report.wrote:
                report.index, report.seconds = old, time.perf_counter() - started
                return report

            chunker = self.chunker() if fresh else None
            new_chunks = {d.source: chunker.run(d) for d in fresh}
            chunk_texts = [c.text for d in fresh for c in new_chunks[d.source]]
            new_vectors = self.encoder.encode_documents(chunk_texts, show_progress=show_progress)
            report.embedded_chunks = len(chunk_texts)

            chunks: list[Chunk] = []
            parts: list[np.ndarray] = []
            files: dict[str, dict] = {}
            texts: dict[str, str] = {}
            pages: dict[str, tuple[int, ...]] = {}
            cursor = 0
            for d in docs:  # keep corpus order so ids are stable and deterministic
                if d.source in new_chunks:
                    cs = new_chunks[d.source]
                    vecs = new_vectors[cursor : cursor + len(cs)]
                    cursor += len(cs)
                else:
                    ids = old_by_source.get(d.source, [])
                    cs = [old.chunks[i] for i in ids]
                    vecs = old.vectors_of(ids)
                chunks += cs
                parts.append(vecs)
                files[d.source] = {"sha256": d.sha256, "chunks": len(cs)}
                texts[d.source] = d.text
                if d.pages:
                    pages[d.source] = d.pages
            dimension = int(parts[0].shape[1]) if parts and parts[0].size else self.encoder.dimension
            vectors = np.vstack(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
            manifest = Manifest(
                model=self.encoder.fingerprint(), dimension=dimension,
                chunker=self.settings.chunker_settings(), files=files,
            )
            # moments from the matrix in hand, not reconstructed back out of FAISS
            report.index = StoredIndex(manifest, chunks, self._vector_index(vectors, dimension), texts,
                                       dense_stats=dense_moments(vectors, dimension), pages=pages)
            write_index(index_dir, report.index)
        report.seconds = time.perf_counter() - started
        logger.info("Indexed %s: %s", corpus, report.summary())
        return report
