"""Store: FAISS vectors + chunk metadata (JSONL) + a manifest, written atomically. Never pickle.

An index folder holds complete versions ``v-*/`` and a ``CURRENT`` file naming
the live one. A new version is written beside the old one and ``CURRENT`` is
swapped with ``os.replace``, so a process killed at any moment leaves the
previous version loadable. Every data file's sha256 is in the manifest and is
checked on load.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .chunking import Chunk
from .documents import page_at
from .errors import IndexError_
from .lexical import LEXICAL_FILES, KeywordIndex

logger = logging.getLogger(__name__)

# 3: documents.jsonl records each PDF's page start offsets; 4: the BM25 index is saved (lexical.*)
FORMAT_VERSION = 4
_CURRENT = "CURRENT"
_FILES = ("vectors.faiss", "chunks.jsonl", "documents.jsonl", "dense_stats.npy", *LEXICAL_FILES)


@dataclass
class Manifest:
    """What an index was built from; compared on reopen to decide reuse, update or rebuild."""

    model: str
    dimension: int
    chunker: dict
    files: dict[str, dict] = field(default_factory=dict)  # source → {"sha256", "chunks"}
    checksums: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    created: float = field(default_factory=time.time)


@dataclass
class StoredIndex:
    """An index in memory: chunks in id order, their vectors, and the source texts they cite."""

    manifest: Manifest
    chunks: list[Chunk]
    vectors: object  # faiss.Index, inner product over L2-normalised vectors
    texts: dict[str, str]  # source → document text (offsets index it)
    dense_stats: np.ndarray | None = None  # row 0: mean vector; rows 1..d: covariance (see dense_moments)
    path: Path | None = None
    pages: dict[str, tuple[int, ...]] = field(default_factory=dict)  # source → page start offsets (PDFs only)
    keywords: KeywordIndex | None = None  # BM25 over the chunk texts; built on first use or read from disk

    def __post_init__(self) -> None:
        if self.dense_stats is None:
            self.dense_stats = dense_moments(self.all_vectors(), self.manifest.dimension)

    def keyword_index(self, pair_weight: float = 0.5) -> KeywordIndex:
        """The BM25 index of the chunks (built once, then shared), scored with ``pair_weight``."""
        if self.keywords is None:
            self.keywords = KeywordIndex([c.text for c in self.chunks], pair_weight=pair_weight)
        return self.keywords.with_pair_weight(pair_weight)

    def quote(self, source: str, start: int, end: int) -> str:
        return self.texts[source][start:end]

    def page_of(self, source: str, offset: int) -> int | None:
        """The 1-based page of ``texts[source][offset]``; None for formats without pages (all but PDF)."""
        return page_at(self.pages.get(source, ()), offset)

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.vectors.ntotal)
        if k == 0:
            n = len(query_vectors)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def all_vectors(self) -> np.ndarray:
        n = self.vectors.ntotal
        return self.vectors.reconstruct_n(0, n) if n else np.zeros((0, self.manifest.dimension), dtype=np.float32)


def dense_moments(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Mean and covariance of the corpus vectors, stacked as a (d+1, d) array.

    For a query q, the corpus's scores q·v have mean q·μ and variance qᵀCq: the
    dense scores can be standardised exactly without scoring every chunk.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, dimension)
    if len(v) == 0:
        return np.zeros((dimension + 1, dimension), dtype=np.float32)
    mu = v.mean(axis=0)
    cov = (v.T @ v) / len(v) - np.outer(mu, mu)
    return np.vstack([mu[None, :], cov]).astype(np.float32)


def new_vector_index(vectors: np.ndarray, dimension: int, *, flat_max: int | None = None, hnsw_m: int = 32,
                     ef_construction: int = 80, ef_search: int = 256):
    """Inner-product index: exact (flat) up to ``flat_max`` vectors (None: always), HNSW above it.

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
    return "hnsw" if "HNSW" in type(index).__name__ else "flat"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunk_to_json(c: Chunk) -> str:
    return json.dumps(
        {"source": c.source, "start": c.start, "end": c.end, "text": c.text, "sentences": c.sentences},
        ensure_ascii=False,
    )


def _chunk_from_json(line: str) -> Chunk:
    d = json.loads(line)
    return Chunk(d["source"], d["start"], d["end"], d["text"], tuple(tuple(s) for s in d["sentences"]))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_index(root: Path, index: StoredIndex) -> Path:
    """Write ``index`` as a new version of ``root`` and make it current; returns the version folder."""
    import faiss

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    try:
        faiss.write_index(index.vectors, str(tmp / "vectors.faiss"))
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in index.chunks:
                fh.write(_chunk_to_json(c) + "\n")
        np.save(tmp / "dense_stats.npy", index.dense_stats, allow_pickle=False)
        index.keyword_index().save(tmp)
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for source, text in index.texts.items():
                record = {"source": source, "text": text, "pages": list(index.pages.get(source, ()))}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        index.manifest.checksums = {name: _sha256(tmp / name) for name in _FILES}
        (tmp / "manifest.json").write_text(json.dumps(asdict(index.manifest), ensure_ascii=False, indent=1))
        for name in (*_FILES, "manifest.json"):
            with (tmp / name).open("rb") as fh:
                os.fsync(fh.fileno())
        version = root / f"v-{time.time_ns()}"
        tmp.rename(version)
        pointer = root / f".{_CURRENT}.tmp"
        pointer.write_text(version.name)
        with pointer.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer, root / _CURRENT)  # the commit point
        _fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _remove_stale(root, keep=version.name)
    index.path = version
    return version


def _remove_stale(root: Path, keep: str) -> None:
    for p in root.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("v-") or p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)


def read_index(root: Path) -> StoredIndex | None:
    """The current version of ``root``; None if there is none; :class:`IndexError_` if it is damaged."""
    import faiss

    root = Path(root)
    try:
        version = root / (root / _CURRENT).read_text().strip()
    except OSError:
        return None
    try:
        manifest = Manifest(**json.loads((version / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        msg = f"Index {version}: manifest.json is missing or unreadable ({exc})."
        raise IndexError_(msg) from None
    if manifest.format_version != FORMAT_VERSION:
        msg = (f"Index {version}: format version {manifest.format_version}, this virag reads {FORMAT_VERSION}; "
               "rebuild it with `virag index`.")
        raise IndexError_(msg)
    for name in _FILES:
        path = version / name
        if not path.is_file() or _sha256(path) != manifest.checksums.get(name):
            msg = f"Index {version}: {name} is missing or corrupted (checksum mismatch)."
            raise IndexError_(msg)
    # memory-mapped: the OS shares and pages the vectors; such an index is read-only (never .add to it)
    vectors = faiss.read_index(str(version / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC)
    with (version / "chunks.jsonl").open(encoding="utf-8") as fh:
        chunks = [_chunk_from_json(line) for line in fh if line.strip()]
    texts: dict[str, str] = {}
    pages: dict[str, tuple[int, ...]] = {}
    with (version / "documents.jsonl").open(encoding="utf-8") as fh:
        for d in map(json.loads, fh):
            texts[d["source"]] = d["text"]
            if d.get("pages"):
                pages[d["source"]] = tuple(d["pages"])
    if len(chunks) != vectors.ntotal:
        msg = f"Index {version}: {len(chunks)} chunks but {vectors.ntotal} vectors."
        raise IndexError_(msg)
    stats = np.load(version / "dense_stats.npy", allow_pickle=False)
    try:
        keywords = KeywordIndex.load(version, [c.text for c in chunks])
    except (OSError, ValueError, KeyError) as exc:
        msg = f"Index {version}: the BM25 index (lexical.*) is unreadable ({exc})."
        raise IndexError_(msg) from None
    return StoredIndex(manifest, chunks, vectors, texts, stats, version, pages, keywords)


@contextmanager
def index_lock(root: Path):
    """Exclusive lock on an index folder; a second writer gets a clear error instead of waiting."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fh = (root / ".lock").open("a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = f"Index {root} is being written by another process; try again when it finishes."
            raise IndexError_(msg) from None
        yield
    finally:
        fh.close()
