"""Vector stores: where an index keeps its chunk vectors, behind one protocol.

``FaissVectors`` (files in the index folder, the default) and ``MilvusVectors``
(``rag/index/milvus.py``: a Milvus collection; the folder keeps a key map) answer the same
calls in chunk ids. A new store implements :class:`VectorStore` and is chosen in
:func:`build_vector_store` / :func:`open_vector_store`; nothing else needs to know it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorStore(Protocol):
    """The vectors of one index version, addressed by chunk id (0 … ntotal-1), scored by inner product."""

    ntotal: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and chunk ids of the ``k`` best per query (ids -1 where fewer)."""
        ...

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray: ...

    def reconstruct_n(self, start: int, n: int) -> np.ndarray: ...

    def save(self, folder: Path, prefix: str = "") -> tuple[str, ...]:
        """Write what the index folder must hold (checksummed in the manifest); returns the file names."""
        ...

    def describe(self) -> dict:
        """The manifest's ``vectors`` entry: ``{}`` for files in the folder, else where the vectors live."""
        ...

    def committed(self) -> None:
        """Called once the version that saved this store is live (an external store may drop old rows)."""
        ...


def new_vector_index(vectors: np.ndarray, dimension: int, *, flat_max: int | None = None, hnsw_m: int = 32,
                     ef_construction: int = 80, ef_search: int = 512):
    """A FAISS inner-product index: exact (flat) up to ``flat_max`` vectors (None: always), HNSW above it.

    HNSW keeps the vectors themselves (``reconstruct`` is exact), so z-score fusion is unchanged;
    only which dense candidates are found may differ (recall@10 measured in ``virag bench``).
    """
    import faiss

    if flat_max is not None and len(vectors) > flat_max:
        index = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_kind(index) -> str:
    """'hnsw' or 'flat' (of a FAISS index, or of the first segment of :class:`FaissVectors`)."""
    index = index.parts[0] if isinstance(index, FaissVectors) else index
    return "hnsw" if "HNSW" in type(index).__name__ else "flat"


class FaissVectors:
    """FAISS indexes of consecutive chunk ranges (the base, then a delta segment) searched as one.

    Exact parts give exactly one flat index's results: each part's top k, merged by score.
    """

    FILE = "vectors.faiss"

    def __init__(self, parts: list) -> None:
        self.parts = list(parts)
        self.firsts = np.cumsum([0, *(p.ntotal for p in self.parts)])[:-1].tolist()
        self.ntotal = sum(p.ntotal for p in self.parts)
        self.d = self.parts[0].d

    @classmethod
    def open(cls, path: Path) -> FaissVectors:
        """One saved segment, memory-mapped: the OS shares and pages it; such an index is read-only."""
        import faiss

        return cls([faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.parts) == 1:
            return self.parts[0].search(queries, k)
        scores, ids = [], []
        for part, first in zip(self.parts, self.firsts):
            if part.ntotal:
                s, i = part.search(queries, min(k, part.ntotal))
                scores.append(s)
                ids.append(np.where(i >= 0, i + first, -1))
        s, i = np.hstack(scores), np.hstack(ids)
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(s, order, 1), np.take_along_axis(i, order, 1)

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if len(self.parts) == 1:
            return self.parts[0].reconstruct_batch(ids)
        out = np.empty((len(ids), self.d), dtype=np.float32)
        for part, first in zip(self.parts, self.firsts):
            mine = (ids >= first) & (ids < first + part.ntotal)
            if mine.any():
                out[mine] = part.reconstruct_batch(ids[mine] - first)
        return out

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        if len(self.parts) == 1:
            return self.parts[0].reconstruct_n(start, n)
        return self.reconstruct_batch(np.arange(start, start + n))

    def save(self, folder: Path, prefix: str = "") -> tuple[str, ...]:
        """One file; a loaded base + delta is written as one index again (HNSW stays HNSW)."""
        import faiss

        index = self.parts[0]
        if len(self.parts) > 1:
            index = new_vector_index(self.reconstruct_n(0, self.ntotal), self.d,
                                     flat_max=0 if index_kind(index) == "hnsw" else None)
            self.__init__([index])
        name = f"{prefix}{self.FILE}"
        faiss.write_index(index, str(Path(folder) / name))
        return (name,)

    def describe(self) -> dict:
        return {}

    def committed(self) -> None:
        pass


def as_vector_store(vectors) -> VectorStore:
    """A bare FAISS index becomes :class:`FaissVectors`; a store is returned as it is."""
    return vectors if isinstance(vectors, VectorStore) else FaissVectors([vectors])


def build_vector_store(settings, index_dir: Path, manifest, chunks, vectors: np.ndarray, old=None) -> VectorStore:
    """The store the settings ask for, holding ``vectors`` (``old``: the index it replaces, whose rows
    an external store may reuse)."""
    if settings.scale.store == "milvus":  # only the chunks the collection lacks are written
        from .milvus import build_vectors

        return build_vectors(settings, index_dir, manifest, chunks, vectors, old)
    return FaissVectors([new_vector_index(vectors, manifest.dimension, flat_max=settings.index.flat_max_vectors,
                                          hnsw_m=settings.index.hnsw_m, ef_search=settings.index.hnsw_ef_search)])


def open_vector_store(manifest, version: Path, prefix: str = "") -> VectorStore:
    """The vectors of segment ``prefix`` of an index version, from where its manifest says they live."""
    if prefix == "" and manifest.vectors:
        from .milvus import open_vectors

        return open_vectors(manifest, version)
    return FaissVectors.open(Path(version) / f"{prefix}{FaissVectors.FILE}")
