"""An index folder: its versions ``v-*/``, the ``CURRENT`` pointer naming the live one, the writers'
lock, and how a change is written (a whole new version, or a delta segment beside the base).

A new version is written beside the old one and ``CURRENT`` is swapped with ``os.replace``, so a
process killed at any moment leaves the previous version loadable. Adding a document rewrites only
the delta; the base files are hard-linked into the new version (they are never modified once written).
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from ..errors import IndexError_
from ..types import Chunk
from .format import (BASE_FILES, DELTA, Manifest, Segment, checksums, file_entry, load_manifest, read_segment,
                     segment_names, write_manifest, write_segment)
from .lexical import KeywordIndex
from .memory import StoredIndex, combine_moments, dense_moments
from .store import Chunks, Texts
from .vectors import FaissVectors, new_vector_index

_CURRENT = "CURRENT"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_tmp(root: Path) -> Path:
    tmp = root / f".tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    return tmp


def commit_version(root: Path, tmp: Path, manifest: Manifest, written: tuple[str, ...]) -> Path:
    """Write the manifest into ``tmp``, make it durable, rename it to a version and point ``CURRENT`` at it."""
    write_manifest(tmp, manifest)
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


def _save_segment(folder: Path, prefix: str, index: StoredIndex) -> None:
    """``index`` as the segment ``prefix`` of ``folder`` (vectors apart), its BM25 made one segment again."""
    if index.keywords is not None and len(index.keywords.segments) != 1:  # a loaded base + delta: one again
        index.keywords = None
    segment = Segment(index.chunks, index.texts, index.pages, index.vectors, index.dense_stats)
    write_segment(folder, prefix, segment, index.keyword_index())


def write_index(root: Path, index: StoredIndex) -> Path:
    """Write ``index`` as a new version of ``root`` (one segment) and make it current; returns the version folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = new_tmp(root)
    try:
        files = (*index.vectors.save(tmp), *BASE_FILES)  # an external store leaves only its key map here
        index.manifest.vectors = index.vectors.describe()
        _save_segment(tmp, "", index)
        index.manifest.segments = [{"prefix": "", "chunks": len(index.chunks)}]
        index.manifest.checksums = checksums(tmp, files)
        version = commit_version(root, tmp, index.manifest, files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    remove_stale(root, keep=version.name)
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
    (its ``files``); its vectors, segments and checksums are set here. Returns the version folder.

    The base's files are neither re-read nor re-hashed (their checksums are ``old``'s): adding a
    document costs the size of the delta, not of the index; loading still checks every file.
    """
    root = Path(root)
    manifest.vectors = old.vectors
    manifest.segments = [next(s for s in old.segments if s["prefix"] == ""), {"prefix": DELTA, "chunks": len(delta.chunks)}]
    base_files = segment_names(old, "")
    delta_files = segment_names(manifest, DELTA)
    tmp = new_tmp(root)
    try:
        for name in base_files:
            _link(base / name, tmp / name)
        delta.vectors.save(tmp, DELTA)
        _save_segment(tmp, DELTA, delta)
        manifest.checksums = {**{name: old.checksums[name] for name in base_files}, **checksums(tmp, delta_files)}
        version = commit_version(root, tmp, manifest, delta_files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    remove_stale(root, keep=version.name)
    return version


def remove_stale(root: Path, keep: str) -> None:
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
    return version, load_manifest(version)


def read_index(root: Path) -> StoredIndex | None:
    """The current version of ``root``; None if there is none; :class:`IndexError_` if it is damaged."""
    opened = read_manifest(root)
    if opened is None:
        return None
    version, manifest = opened
    prefixes = [s["prefix"] for s in manifest.segments]
    segments = [read_segment(version, manifest, prefix) for prefix in prefixes]
    try:
        keywords = KeywordIndex.load(version, [shard for p in prefixes for shard in manifest.lexical_shards(p)])
    except (OSError, ValueError, KeyError) as exc:
        msg = f"Index {version}: the BM25 index (lexical.*) is unreadable ({exc})."
        raise IndexError_(msg) from None
    if len(segments) == 1:
        s = segments[0]
        return StoredIndex(manifest, s.chunks, s.vectors, s.texts, s.dense_stats, version, s.pages, keywords)
    stores = [s.store for s in segments]
    stats = combine_moments([(len(s.chunks), s.dense_stats) for s in segments], manifest.dimension)
    vectors = FaissVectors([part for s in segments for part in s.vectors.parts])  # only local vectors have a delta
    return StoredIndex(manifest, Chunks(stores), vectors, Texts(stores), stats, version, Texts(stores, pages=True),
                       keywords)


@contextmanager
def index_lock(root: Path):
    """Exclusive lock on an index folder; a second writer gets a clear error instead of waiting.

    An OS lock (flock on Linux and macOS, LockFileEx on Windows, through filelock): the system drops it
    when its process dies, so a crashed writer never leaves the index locked.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / ".lock", timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        msg = f"Index {root} is being written by another process; try again when it finishes."
        raise IndexError_(msg) from None
    try:
        yield
    finally:
        lock.release()


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
        if head is None or head[1].vectors.get("store", "ivf") != "ivf" or self.store != "faiss":
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
        delta_chunks = (list(prev.chunks) if prev else []) + [c for d in documents for c in chunks[d.source]]
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
