"""The streaming writer: a new index version written as documents arrive, in bounded memory.

Each document's chunks go to the chunk store and its vectors to a raw file as they come; the
dense moments are kept as sums; BM25 is built a shard at a time (``shard_chunks``) and the shards
are scored together with corpus-wide statistics. At :meth:`IndexWriter.commit` the vector index
is built from the raw file (flat up to ``flat_max``, an inverted file a block at a time above),
every file is checksummed and ``CURRENT`` is swapped: until then the previous version stays live,
and a writer that dies leaves only a ``.tmp-*`` folder, removed by the next write.

Example::

    with IndexWriter(root, manifest, flat_max=100_000) as writer:
        for document, chunks, vectors in batches:
            writer.add(document.source, document.text, document.pages, chunks, vectors)
        version = writer.commit()
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..types import Chunk
from .folder import commit_version, new_tmp, remove_stale
from .format import Manifest, checksums, segment_names
from .lexical import KeywordIndex, SegmentBuilder
from .memory import StoredIndex
from .store import STORE_FILE, Chunks, ChunkStore, StoreWriter, Texts
from .vectors import IvfVectors, VectorStore, as_vector_store, new_vector_index

SHARD_PREFIX = "bm25-{:03d}."
MOMENT_BLOCK = 4096  # vectors added to the dense sums per matrix product


class IndexWriter:
    """Writes one index version of ``root`` (a single segment) from documents added in chunk-id order.

    ``manifest`` describes the result (model, dimension, chunker, files); its vectors, segments and
    checksums are set here. Memory holds one BM25 shard's syllable ids and the current document, whatever
    the number of chunks.
    """

    def __init__(self, root: Path, manifest: Manifest, *, flat_max: int | None = None, nprobe: int = 256,
                 shard_chunks: int = 100_000,
                 build: Callable[[Sequence[Chunk], np.ndarray], VectorStore] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self.flat_max, self.nprobe, self.shard_chunks = flat_max, nprobe, shard_chunks
        self.build = build  # the vector store from every chunk and the raw vectors (default: FAISS, flat or IVF)
        self.vectors: VectorStore | None = None
        self.tmp = new_tmp(self.root)
        self.store = StoreWriter(self.tmp / STORE_FILE)
        self._raw_path = self.tmp / IvfVectors.RAW_FILE
        self._raw = self._raw_path.open("wb")
        d = manifest.dimension
        self._sum, self._outer = np.zeros(d, dtype=np.float64), np.zeros((d, d), dtype=np.float64)
        self._moments_due: list[np.ndarray] = []  # vectors not yet in the sums: one product per block
        self._due_rows = 0
        self._bm25 = SegmentBuilder()
        self._shards: list[tuple[str, int]] = []
        self.n = 0

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.abort()

    def add(self, source: str, text: str, pages: Iterable[int], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """One document, its chunks (the next ids) and their vectors, one row per chunk."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(chunks), self.manifest.dimension)
        self.store.add(source, text, pages, chunks)
        self._raw.write(vectors.tobytes())
        self._moments_due.append(vectors)
        self._due_rows += len(vectors)
        self.n += len(chunks)
        if self._due_rows >= MOMENT_BLOCK:
            self._add_moments()
        self._bm25.add(c.indexed_text for c in chunks)
        if len(self._bm25) >= self.shard_chunks:
            self._flush_shard(SHARD_PREFIX.format(len(self._shards)))

    def _flush_shard(self, prefix: str) -> None:
        shard, self._bm25 = self._bm25, SegmentBuilder()
        self._shards.append((prefix, len(shard)))
        shard.finish().save(self.tmp, prefix)

    def _add_moments(self) -> None:
        # a document is often one chunk: a 384×384 product per document cost 4 s in 20,000
        if self._moments_due:
            v = np.concatenate(self._moments_due).astype(np.float64)
            self._moments_due, self._due_rows = [], 0
            self._sum += v.sum(axis=0)
            self._outer += v.T @ v

    def dense_stats(self) -> np.ndarray:
        """The moments :func:`rag.index.memory.dense_moments` computes, from the sums."""
        self._add_moments()
        d = self.manifest.dimension
        if self.n == 0:
            return np.zeros((d + 1, d), dtype=np.float32)
        mu = self._sum / self.n
        return np.vstack([mu[None, :], self._outer / self.n - np.outer(mu, mu)]).astype(np.float32)

    def commit(self) -> Path:
        """Build the vector index, write the manifest and make the version current; returns its folder."""
        if len(self._bm25) or not self._shards:  # the last shard; one shard alone keeps the plain names
            self._flush_shard(SHARD_PREFIX.format(len(self._shards)) if self._shards else "")
        self.store.close()
        self._raw.close()
        np.save(self.tmp / "dense_stats.npy", self.dense_stats(), allow_pickle=False)
        d = self.manifest.dimension
        raw = np.memmap(self._raw_path, dtype=np.float32, mode="r", shape=(self.n, d)) if self.n else np.zeros((0, d), np.float32)
        if self.build is None:
            vectors = as_vector_store(new_vector_index(raw, d, flat_max=self.flat_max, nprobe=self.nprobe))
        else:
            vectors = self.build(Chunks([ChunkStore(self.tmp / STORE_FILE)]), raw)
        vector_files = vectors.save(self.tmp)
        if IvfVectors.RAW_FILE not in vector_files:
            del raw
            self._raw_path.unlink()
        manifest = self.manifest
        manifest.vectors = vectors.describe()
        segment = {"prefix": "", "chunks": self.n}
        if self._shards != [("", self.n)]:
            segment["lexical"] = [list(s) for s in self._shards]
        manifest.segments = [segment]
        files = segment_names(manifest, "")
        manifest.checksums = checksums(self.tmp, files)
        version = commit_version(self.root, self.tmp, manifest, files)
        remove_stale(self.root, keep=version.name)
        vectors.committed()  # now an external store may drop vectors only older versions used
        self.vectors, self.version = vectors, version
        return version

    def index(self) -> StoredIndex:
        """The version committed, opened as :func:`rag.index.folder.read_index` would (it was just
        written: not hashed again)."""
        store = ChunkStore(self.version / STORE_FILE)
        keywords = KeywordIndex.load(self.version, self.manifest.lexical_shards(""))
        return StoredIndex(self.manifest, Chunks([store]), self.vectors, Texts([store]),
                           np.load(self.version / "dense_stats.npy", allow_pickle=False), self.version,
                           Texts([store], pages=True), keywords)

    def abort(self) -> None:
        """Drop what was written (nothing, once committed)."""
        self._raw.close()
        self.store.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)
