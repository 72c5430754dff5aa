"""Vector stores: where an index keeps its chunk vectors, behind one protocol.

``FaissVectors`` (files in the index folder, the default; :class:`IvfVectors` above
``flat_max_vectors``) and ``MilvusVectors``
(``rag/index/milvus.py``: a Milvus collection; the folder keeps a key map) answer the same
calls in chunk ids. A new store implements :class:`VectorStore` and is chosen in
:func:`build_vector_store` / :func:`open_vector_store`; nothing else needs to know it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .diskarray import DiskArray


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


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 4·√n (a power of two), with at least 39 training points each."""
    want = max(1, min(4 * math.sqrt(n), n / 39))
    return 1 << int(math.log2(want))


def blocks(vectors: np.ndarray, size: int = 65_536):
    """``(first row, block)`` of ``vectors``; a file (memory map or :class:`DiskArray`) is read, not mapped:
    pages mapped count in the process's resident memory, and building from 1.5 GB of vectors would."""
    if isinstance(vectors, np.memmap):
        vectors = DiskArray.of(vectors)
    if isinstance(vectors, DiskArray):
        yield from vectors.blocks(size)
        return
    for lo in range(0, len(vectors), size):
        yield lo, np.ascontiguousarray(vectors[lo : lo + size], dtype=np.float32)


def new_vector_index(vectors: np.ndarray, dimension: int, *, flat_max: int | None = None, nprobe: int = 256):
    """Exact (a FAISS flat inner-product index) up to ``flat_max`` vectors (None: always), :class:`IvfVectors` above."""
    import faiss

    if flat_max is not None and len(vectors) > flat_max:
        return IvfVectors.build(vectors, nprobe=nprobe)
    index = faiss.IndexFlatIP(dimension)
    for _, block in blocks(vectors):
        index.add(block)
    return index


def index_kind(index) -> str:
    """'ivf' or 'flat' (of a FAISS index or a store; of its first segment for :class:`FaissVectors`)."""
    index = index.parts[0] if isinstance(index, FaissVectors) else index
    return "ivf" if isinstance(index, IvfVectors) else "flat"


class IvfVectors:
    """Above ``flat_max_vectors``: an inverted-file index of 8-bit codes finds the candidates, and the
    exact vectors, a raw float32 file read a row at a time (:class:`DiskArray`), score them.

    The codes (a quarter of the vectors' size) are all a search reads in bulk; ``reconstruct`` and the
    scores returned are exact, so z-score fusion is unchanged and only which candidates are found
    may differ (recall@10 against exact search: docs/scale.md). Unlike a graph index it is built a
    block at a time from a file: memory stays bounded whatever the number of vectors.
    """

    INDEX_FILE, RAW_FILE = "vectors.ivf", "vectors.f32"

    def __init__(self, index, raw: np.ndarray | DiskArray, nprobe: int) -> None:
        if isinstance(raw, np.memmap):  # the writer's file: read, not mapped
            raw = DiskArray.of(raw)
        self.index, self.raw, self.nprobe = index, raw, nprobe
        index.nprobe = nprobe
        self.ntotal, self.d = raw.shape
        self.parts = [self]

    @classmethod
    def build(cls, raw: np.ndarray, *, nprobe: int = 256, seed: int = 0, block: int = 65_536) -> IvfVectors:
        """Train on a sample of ``raw`` (an array or a memory map), then add it a block at a time."""
        import faiss

        n, d = raw.shape
        nlist = ivf_lists(n)
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        # 40 points a list (faiss asks for 39): 250 MB of vectors at a million, whatever n is above that
        sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, 40 * nlist), replace=False))
        index.train(np.concatenate([b[sample[(sample >= lo) & (sample < lo + len(b))] - lo]
                                    for lo, b in blocks(raw, block)]))
        for _, b in blocks(raw, block):
            index.add(b)
        return cls(index, raw, nprobe)

    @classmethod
    def open(cls, folder: Path, prefix: str, nprobe: int) -> IvfVectors:
        import faiss

        folder = Path(folder)
        index = faiss.read_index(str(folder / f"{prefix}{cls.INDEX_FILE}"))
        raw = DiskArray.raw(folder / f"{prefix}{cls.RAW_FILE}", np.float32, index.d)
        return cls(index, raw, nprobe)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        _, found = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), min(2 * k, self.ntotal))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for r, (q, cand) in enumerate(zip(queries, found)):
            cand = cand[cand >= 0]
            exact = self.reconstruct_batch(cand) @ q
            best = np.lexsort((cand, -exact))[:k]
            scores[r, : len(best)], ids[r, : len(best)] = exact[best], cand[best]
        return scores, ids

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.raw[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return np.asarray(self.raw[start : start + n], dtype=np.float32)

    def save(self, folder: Path, prefix: str = "") -> tuple[str, ...]:
        import faiss

        folder = Path(folder)
        raw_path = folder / f"{prefix}{self.RAW_FILE}"
        if not (isinstance(self.raw, DiskArray) and self.raw.path.resolve() == raw_path.resolve()):
            with raw_path.open("wb") as fh:  # (the writer streamed its rows there already)
                for _, block in blocks(self.raw):
                    fh.write(block.tobytes())
        faiss.write_index(self.index, str(folder / f"{prefix}{self.INDEX_FILE}"))
        return (f"{prefix}{self.INDEX_FILE}", f"{prefix}{self.RAW_FILE}")

    def describe(self) -> dict:
        return {"store": "ivf", "files": [self.INDEX_FILE, self.RAW_FILE], "nprobe": self.nprobe,
                "lists": int(self.index.nlist)}

    def committed(self) -> None:
        pass


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
                                     flat_max=0 if index_kind(index) == "ivf" else None)
            self.__init__([index])
        if isinstance(index, IvfVectors):
            return index.save(folder, prefix)
        name = f"{prefix}{self.FILE}"
        faiss.write_index(index, str(Path(folder) / name))
        return (name,)

    def describe(self) -> dict:
        return self.parts[0].describe() if isinstance(self.parts[0], IvfVectors) else {}

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
    return as_vector_store(new_vector_index(vectors, manifest.dimension, flat_max=settings.index.flat_max_vectors,
                                            nprobe=settings.index.ivf_nprobe))


def open_vector_store(manifest, version: Path, prefix: str = "") -> VectorStore:
    """The vectors of segment ``prefix`` of an index version, from where its manifest says they live."""
    store = manifest.vectors.get("store") if prefix == "" else None
    if store == "ivf":
        return IvfVectors.open(version, prefix, manifest.vectors["nprobe"])
    if store:
        from .milvus import open_vectors

        return open_vectors(manifest, version)
    return FaissVectors.open(Path(version) / f"{prefix}{FaissVectors.FILE}")
