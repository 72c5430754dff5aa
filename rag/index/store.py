"""Store: FAISS vectors + chunk metadata (JSONL) + a manifest, written atomically. Never pickle.

An index folder holds complete versions ``v-*/`` and a ``CURRENT`` file naming
the live one. A new version is written beside the old one and ``CURRENT`` is
swapped with ``os.replace``, so a process killed at any moment leaves the
previous version loadable. Every data file's sha256 is in the manifest and is
checked on load.

A version holds one or two *segments*: the base (``chunks.jsonl``, ``vectors.faiss``,
``lexical.*`` …) and, after documents were only added, a small delta (``delta.chunks.jsonl``
…) searched together with it. Adding a document rewrites only the delta; the base files are
hard-linked into the new version (they are never modified once written).
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import IndexError_
from ..ingest.structure import Outline, outline
from ..types import Chunk, page_at
from .lexical import KeywordIndex, lexical_files
from .vectors import FaissVectors, VectorStore, as_vector_store, new_vector_index, open_vector_store

logger = logging.getLogger(__name__)

# 3: documents.jsonl records each PDF's page start offsets; 4: the BM25 index is saved (lexical.*);
# 5: BM25 as term-frequency postings with the diacritic tables, and an optional delta segment
FORMAT_VERSION = 5
_CURRENT = "CURRENT"
DELTA = "delta."  # file-name prefix of the delta segment (the base has none)


def file_entry(document, chunks: int) -> dict:
    """A manifest's record of one newly read file: what reuse checks (sha256) and what people are
    shown (``virag list``, the chat's documents tab)."""
    entry = {"sha256": document.sha256, "chunks": chunks, "indexed": round(time.time())}
    if getattr(document, "encoding", ""):
        entry["encoding"] = document.encoding
    if getattr(document, "pages", ()):
        entry["pages"] = len(document.pages)
    if getattr(document, "ocr_pages", ()):
        entry["ocr_pages"] = list(document.ocr_pages)
    return entry


def segment_files(prefix: str = "") -> tuple[str, ...]:
    """The data files of one segment, but its vectors (see ``_vector_files``)."""
    return (f"{prefix}chunks.jsonl", f"{prefix}documents.jsonl", f"{prefix}dense_stats.npy", *lexical_files(prefix))


_FILES = segment_files()  # plus _vector_files()


@dataclass
class Manifest:
    """What an index was built from; compared on reopen to decide reuse, update or rebuild."""

    model: str
    dimension: int
    chunker: dict
    # source → {"sha256", "chunks", "size", "mtime_ns"}; a file whose size and mtime match is not read again
    files: dict[str, dict] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    # where the vectors live: {} → vectors.faiss in the folder; else an external store (rag/index/milvus.py)
    vectors: dict = field(default_factory=dict)
    # [{"prefix": "", "chunks": n}, {"prefix": "delta.", "chunks": m}]; [] → one base segment of every chunk
    segments: list[dict] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    def segment_sizes(self, total: int) -> list[tuple[str, int]]:
        return [(s["prefix"], s["chunks"]) for s in self.segments] or [("", total)]


@dataclass
class StoredIndex:
    """An index in memory: chunks in id order, their vectors, and the source texts they cite."""

    manifest: Manifest
    chunks: list[Chunk]
    vectors: VectorStore  # inner product over L2-normalised vectors (a bare FAISS index is wrapped)
    texts: dict[str, str]  # source → document text (offsets index it)
    dense_stats: np.ndarray | None = None  # row 0: mean vector; rows 1..d: covariance (see dense_moments)
    path: Path | None = None
    pages: dict[str, tuple[int, ...]] = field(default_factory=dict)  # source → page start offsets (PDFs only)
    keywords: KeywordIndex | None = None  # BM25 over the chunk texts; built on first use or read from disk
    _outlines: dict[str, Outline | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.vectors = as_vector_store(self.vectors)
        if self.dense_stats is None:
            self.dense_stats = dense_moments(self.all_vectors(), self.manifest.dimension)

    def keyword_index(self, pair_weight: float = 0.5) -> KeywordIndex:
        """The BM25 index of the chunks (built once, then shared), scored with ``pair_weight``."""
        if self.keywords is None:
            self.keywords = KeywordIndex([c.indexed_text for c in self.chunks], pair_weight=pair_weight)
        return self.keywords.with_pair_weight(pair_weight)

    def quote(self, source: str, start: int, end: int) -> str:
        return self.texts[source][start:end]

    def page_of(self, source: str, offset: int) -> int | None:
        """The 1-based page of ``texts[source][offset]``; None for formats without pages (all but PDF)."""
        return page_at(self.pages.get(source, ()), offset)

    def outline(self, source: str) -> Outline | None:
        """The legal structure of a source (Chương, Điều, khoản …), read from its text once; None for prose."""
        if source not in self._outlines:
            self._outlines[source] = outline(self.texts[source]) if source in self.texts else None
        return self._outlines[source]

    def section_of(self, source: str, start: int, end: int) -> tuple[str, str]:
        """('Điều 35, khoản 2', 'Bộ luật Lao động 2019') for a span of a legal text; ('', '') otherwise."""
        found = self.outline(source)
        return (found.citation_label(start, end), found.title) if found else ("", "")

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


def combine_moments(parts: list[tuple[int, np.ndarray]], dimension: int) -> np.ndarray:
    """The :func:`dense_moments` of several segments' vectors together, from each one's count and moments."""
    n = sum(count for count, _ in parts)
    if n == 0:
        return np.zeros((dimension + 1, dimension), dtype=np.float32)
    mu = sum(count * stats[0].astype(np.float64) for count, stats in parts) / n
    second = sum(count * (stats[1:].astype(np.float64) + np.outer(stats[0], stats[0])) for count, stats in parts) / n
    return np.vstack([mu[None, :], second - np.outer(mu, mu)]).astype(np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunk_to_json(c: Chunk) -> str:
    record = {"source": c.source, "start": c.start, "end": c.end, "text": c.text, "sentences": c.sentences}
    if c.section or c.heading:
        record.update(section=c.section, heading=c.heading)
    return json.dumps(record, ensure_ascii=False)


def _chunk_from_json(line: str) -> Chunk:
    d = json.loads(line)
    return Chunk(source=d["source"], start=d["start"], end=d["end"], text=d["text"],
                 sentences=tuple(tuple(s) for s in d["sentences"]), section=d.get("section", ""),
                 heading=d.get("heading", ""))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_tmp(root: Path) -> Path:
    tmp = root / f".tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    return tmp


def _write_segment(folder: Path, prefix: str, index: StoredIndex) -> None:
    """Chunks, documents, dense moments and BM25 of ``index`` as one segment's files (vectors apart)."""
    with (folder / f"{prefix}chunks.jsonl").open("w", encoding="utf-8") as fh:
        for c in index.chunks:
            fh.write(_chunk_to_json(c) + "\n")
    np.save(folder / f"{prefix}dense_stats.npy", index.dense_stats, allow_pickle=False)
    if index.keywords is not None and len(index.keywords.segments) != 1:  # a loaded base + delta: one again
        index.keywords = None
    index.keyword_index().save(folder, prefix)
    with (folder / f"{prefix}documents.jsonl").open("w", encoding="utf-8") as fh:
        for source, text in index.texts.items():
            record = {"source": source, "text": text, "pages": list(index.pages.get(source, ()))}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _commit(root: Path, tmp: Path, manifest: Manifest, written: tuple[str, ...]) -> Path:
    """Write the manifest into ``tmp``, make it durable, rename it to a version and point ``CURRENT`` at it."""
    # one line, shallow: json's C encoder (indent= falls back to Python) and no deep copy; 135k files: 0.3 s, not 5
    record = {f.name: getattr(manifest, f.name) for f in fields(manifest)}
    (tmp / "manifest.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    for name in (*written, "manifest.json"):
        with (tmp / name).open("rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(tmp)
    version = root / f"v-{time.time_ns()}"
    tmp.rename(version)
    pointer = root / f".{_CURRENT}.tmp"
    pointer.write_text(version.name)
    with pointer.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer, root / _CURRENT)  # the commit point
    _fsync_dir(root)
    return version


def write_index(root: Path, index: StoredIndex) -> Path:
    """Write ``index`` as a new version of ``root`` (one segment) and make it current; returns the version folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = _new_tmp(root)
    try:
        files = (*index.vectors.save(tmp), *_FILES)  # an external store leaves only its key map here
        index.manifest.vectors = index.vectors.describe()
        _write_segment(tmp, "", index)
        index.manifest.segments = [{"prefix": "", "chunks": len(index.chunks)}]
        index.manifest.checksums = {name: _sha256(tmp / name) for name in files}
        version = _commit(root, tmp, index.manifest, files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _remove_stale(root, keep=version.name)
    index.vectors.committed()  # now an external store may drop vectors only older versions used
    index.path = version
    return version


def _link(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)  # version files are never modified once written: sharing them is safe
    except OSError:
        shutil.copy2(src, dest)


def append_segment(root: Path, base: Path, old: Manifest, manifest: Manifest, delta: StoredIndex) -> Path:
    """Make current a new version of ``root``: the base segment of version ``base`` (whose manifest is
    ``old``), hard-linked, plus ``delta`` as its delta segment. ``manifest`` describes the result
    (its ``files``); its segments and checksums are set here. Returns the version folder.

    The base's files are neither re-read nor re-hashed (their checksums are ``old``'s): adding a
    document costs the size of the delta, not of the index; loading still checks every file.
    """
    root = Path(root)
    base_files = _segment_names(old, "")
    delta_files = _segment_names(manifest, DELTA)
    tmp = _new_tmp(root)
    try:
        for name in base_files:
            _link(base / name, tmp / name)
        delta.vectors.save(tmp, DELTA)
        _write_segment(tmp, DELTA, delta)
        manifest.segments = [{"prefix": "", "chunks": dict(old.segment_sizes(0))[""]},
                             {"prefix": DELTA, "chunks": len(delta.chunks)}]
        manifest.checksums = {**{name: old.checksums[name] for name in base_files},
                              **{name: _sha256(tmp / name) for name in delta_files}}
        version = _commit(root, tmp, manifest, delta_files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _remove_stale(root, keep=version.name)
    return version


def _vector_files(manifest: Manifest) -> tuple[str, ...]:
    return tuple(manifest.vectors.get("files", ())) if manifest.vectors else (FaissVectors.FILE,)


def _segment_names(manifest: Manifest, prefix: str) -> tuple[str, ...]:
    vectors = _vector_files(manifest) if prefix == "" else (f"{prefix}{FaissVectors.FILE}",)
    return (*vectors, *segment_files(prefix))


def _remove_stale(root: Path, keep: str) -> None:
    for p in root.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("v-") or p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)


def read_manifest(root: Path) -> tuple[Path, Manifest] | None:
    """The current version folder of ``root`` and its manifest, without reading the data; None if there
    is none; :class:`IndexError_` if the manifest is damaged or of another format."""
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
    return version, manifest


def _check(version: Path, manifest: Manifest, names: tuple[str, ...]) -> None:
    for name in names:
        path = version / name
        if not path.is_file() or _sha256(path) != manifest.checksums.get(name):
            msg = f"Index {version}: {name} is missing or corrupted (checksum mismatch)."
            raise IndexError_(msg)


@dataclass
class Segment:
    """One segment as read from disk (its vectors memory-mapped)."""

    chunks: list[Chunk]
    texts: dict[str, str]
    pages: dict[str, tuple[int, ...]]
    vectors: VectorStore
    dense_stats: np.ndarray


def read_segment(version: Path, manifest: Manifest, prefix: str) -> Segment:
    """The segment ``prefix`` of ``version``, its checksums verified; :class:`IndexError_` when damaged."""
    _check(version, manifest, _segment_names(manifest, prefix))
    vectors = open_vector_store(manifest, version, prefix)
    with (version / f"{prefix}chunks.jsonl").open(encoding="utf-8") as fh:
        chunks = [_chunk_from_json(line) for line in fh if line.strip()]
    texts: dict[str, str] = {}
    pages: dict[str, tuple[int, ...]] = {}
    with (version / f"{prefix}documents.jsonl").open(encoding="utf-8") as fh:
        for d in map(json.loads, fh):
            texts[d["source"]] = d["text"]
            if d.get("pages"):
                pages[d["source"]] = tuple(d["pages"])
    if len(chunks) != vectors.ntotal:
        msg = f"Index {version}: {len(chunks)} chunks but {vectors.ntotal} vectors ({prefix}chunks.jsonl)."
        raise IndexError_(msg)
    stats = np.load(version / f"{prefix}dense_stats.npy", allow_pickle=False)
    return Segment(chunks, texts, pages, vectors, stats)


def read_index(root: Path) -> StoredIndex | None:
    """The current version of ``root``; None if there is none; :class:`IndexError_` if it is damaged."""
    opened = read_manifest(root)
    if opened is None:
        return None
    version, manifest = opened
    prefixes = [s["prefix"] for s in manifest.segments] or [""]
    segments = [read_segment(version, manifest, prefix) for prefix in prefixes]
    sizes = [(prefix, len(s.chunks)) for prefix, s in zip(prefixes, segments)]
    try:
        keywords = KeywordIndex.load(version, sizes)
    except (OSError, ValueError, KeyError) as exc:
        msg = f"Index {version}: the BM25 index (lexical.*) is unreadable ({exc})."
        raise IndexError_(msg) from None
    if len(segments) == 1:
        s = segments[0]
        return StoredIndex(manifest, s.chunks, s.vectors, s.texts, s.dense_stats, version, s.pages, keywords)
    texts, pages = {}, {}
    for s in segments:
        texts.update(s.texts)
        pages.update(s.pages)
    stats = combine_moments([(len(s.chunks), s.dense_stats) for s in segments], manifest.dimension)
    chunks = [c for s in segments for c in s.chunks]
    vectors = FaissVectors([part for s in segments for part in s.vectors.parts])  # only FAISS has a delta
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


@contextmanager
def gc_paused():
    """For bulk allocations that make no reference cycles (a 135k-file manifest, paths, stat results):
    Python's full collections would walk the loaded model's ~0.5M objects again and again (~0.3 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class IndexFolder:
    """One index on disk: its live version, the writers' lock, and how a change is written.

    A change is written as a whole new version (:meth:`write`), or, when documents were only
    added and they fit, as a delta segment beside the untouched base (:meth:`append`): adding one
    document then costs the size of the delta, not of the index. Only FAISS vectors have a delta;
    an external store (Milvus) is written whole.

    Example::

        folder = IndexFolder(Path("/tmp/idx"), delta_max_chunks=2000)
        with folder.lock():
            head = folder.head()             # (version, manifest), or None
    """

    def __init__(self, root: Path, *, delta_max_chunks: int = 2000, store: str = "faiss") -> None:
        self.root = Path(root)
        self.delta_max_chunks = delta_max_chunks
        self.store = store

    def lock(self):
        return index_lock(self.root)

    def head(self) -> tuple[Path, Manifest] | None:
        """The live version and its manifest, without reading the data; None when there is none or it is damaged."""
        try:
            return read_manifest(self.root)
        except IndexError_:
            return None

    def read(self) -> StoredIndex | None:
        """The live version (:class:`IndexError_` when it is damaged)."""
        return read_index(self.root)

    def write(self, index: StoredIndex) -> Path:
        return write_index(self.root, index)

    def can_append(self, head: tuple[Path, Manifest] | None, chunks: int) -> bool:
        """Whether ``chunks`` more chunks may go to the delta segment of ``head``."""
        if head is None or head[1].vectors or self.store != "faiss":
            return False
        return dict(head[1].segment_sizes(0)).get(DELTA, 0) + chunks <= self.delta_max_chunks

    def append(self, head: tuple[Path, Manifest], documents: list, chunks: dict[str, list[Chunk]],
               vectors: np.ndarray, stats: dict[str, dict]) -> int:
        """Write ``documents`` (their ``chunks`` and ``vectors`` in that order) into the delta segment, with the
        documents added before them; the base segment is hard-linked, not read. ``stats``: the size and
        mtime of each file read. Returns the index's chunk count."""
        version, old = head
        sizes = dict(old.segment_sizes(0))
        prev = read_segment(version, old, DELTA) if DELTA in sizes else None
        dimension = old.dimension
        delta_chunks = (prev.chunks if prev else []) + [c for d in documents for c in chunks[d.source]]
        kept = prev.vectors.reconstruct_n(0, prev.vectors.ntotal) if prev and prev.vectors.ntotal else None
        matrix = np.vstack([v for v in (kept, vectors) if v is not None]).reshape(-1, dimension)
        texts = {**(prev.texts if prev else {}), **{d.source: d.text for d in documents}}
        pages = {**(prev.pages if prev else {}), **{d.source: d.pages for d in documents if d.pages}}
        files = dict(old.files)
        for source, st in stats.items():  # files read again but unchanged: their new size and mtime
            if source in files:
                files[source] = {**files[source], **st}
        for d in documents:
            files[d.source] = {**file_entry(d, len(chunks[d.source])), **stats.get(d.source, {})}
        manifest = Manifest(model=old.model, dimension=dimension, chunker=old.chunker, files=files)
        # the delta is small: always exact, whatever the base is
        delta = StoredIndex(manifest, delta_chunks, new_vector_index(matrix, dimension), texts,
                            dense_stats=dense_moments(matrix, dimension), pages=pages)
        with gc_paused():
            append_segment(self.root, version, old, manifest, delta)
        return sizes[""] + len(delta_chunks)
