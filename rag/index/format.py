"""The files of one index version: the manifest, each segment's data files, and their checksums. Never pickle.

A version holds one or two *segments*: the base (``store.sqlite``, ``vectors.faiss``,
``lexical.*`` …) and, after documents were only added, a small delta (``delta.store.sqlite``
…) searched together with it. A segment written by the streaming writer keeps its BM25 as
several shards (``bm25-000.lexical.*`` …), scored together with corpus-wide statistics. Every
data file's sha256 is in the manifest and is checked on load.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import IndexError_
from ..types import Chunk
from .lexical import KeywordIndex, lexical_files
from .store import STORE_FILE, Chunks, ChunkStore, StoreWriter, Texts
from .vectors import FaissVectors, VectorStore, open_vector_store

# 3: documents.jsonl records each PDF's page start offsets; 4: the BM25 index is saved (lexical.*);
# 5: BM25 as term-frequency postings with the diacritic tables, and an optional delta segment;
# 6: a legal chunk's place as a structured path (kind, number, label, last), not text;
# 7: chunks and texts in store.sqlite (read on demand), BM25 in shards, IVF vectors above flat_max_vectors
FORMAT_VERSION = 7
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


def segment_files(prefix: str = "", shards: list[str] | None = None) -> tuple[str, ...]:
    """The data files of one segment, but its vectors (see :func:`segment_names`); ``shards``: the
    prefixes of its BM25 shards (default: one, ``prefix``)."""
    lexical = [name for shard in (shards or [prefix]) for name in lexical_files(shard)]
    return (f"{prefix}{STORE_FILE}", f"{prefix}dense_stats.npy", *lexical)


BASE_FILES = segment_files()  # plus the vectors' files


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

    def lexical_shards(self, prefix: str) -> list[tuple[str, int]]:
        """``(prefix, chunks)`` of each BM25 shard of segment ``prefix``."""
        for s in self.segments:
            if s["prefix"] == prefix:
                return [tuple(x) for x in s.get("lexical", [[prefix, s["chunks"]]])]
        msg = f"no segment {prefix!r} in this manifest"
        raise KeyError(msg)


def _vector_files(manifest: Manifest) -> tuple[str, ...]:
    return tuple(manifest.vectors.get("files", ())) if manifest.vectors else (FaissVectors.FILE,)


def segment_names(manifest: Manifest, prefix: str) -> tuple[str, ...]:
    """Every data file of the segment ``prefix``, its vectors' included."""
    vectors = _vector_files(manifest) if prefix == "" else (f"{prefix}{FaissVectors.FILE}",)
    return (*vectors, *segment_files(prefix, [p for p, _ in manifest.lexical_shards(prefix)]))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The sha256 of each file ``names`` of ``folder``, as the manifest records them (hashlib releases
    the GIL: the files of a large index are hashed on every core)."""
    with ThreadPoolExecutor() as pool:
        return dict(zip(names, pool.map(lambda name: _sha256(folder / name), names)))


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """``manifest.json`` of ``folder``."""
    # one line, shallow: json's C encoder (indent= falls back to Python) and no deep copy; 135k files: 0.3 s, not 5
    record = {f.name: getattr(manifest, f.name) for f in fields(manifest)}
    (folder / "manifest.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")


def load_manifest(version: Path) -> Manifest:
    """The manifest of ``version``; :class:`IndexError_` if it is damaged or of another format."""
    try:
        manifest = Manifest(**json.loads((version / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        msg = f"Index {version}: manifest.json is missing or unreadable ({exc})."
        raise IndexError_(msg) from None
    if manifest.format_version != FORMAT_VERSION:
        msg = (f"Index {version}: format version {manifest.format_version}, this virag reads {FORMAT_VERSION}; "
               "rebuild it with `virag index`.")
        raise IndexError_(msg)
    return manifest


def _check(version: Path, manifest: Manifest, names: tuple[str, ...]) -> None:
    missing = [name for name in names if not (version / name).is_file()]
    found = checksums(version, tuple(n for n in names if n not in missing))
    for name in names:
        if name in missing or found[name] != manifest.checksums.get(name):
            msg = f"Index {version}: {name} is missing or corrupted (checksum mismatch)."
            raise IndexError_(msg)


@dataclass
class Segment:
    """One segment: its chunks and texts (in memory, or read on demand from its store), its vectors
    (read from their files when read from disk)."""

    chunks: Sequence[Chunk]
    texts: Mapping[str, str]
    pages: Mapping[str, tuple[int, ...]]
    vectors: VectorStore
    dense_stats: np.ndarray
    store: ChunkStore | None = None


def write_store(path: Path, chunks: Iterable[Chunk], texts: Mapping[str, str],
                pages: Mapping[str, tuple[int, ...]]) -> None:
    """``store.sqlite`` of chunks and texts held in memory (every document of ``texts``, then the chunks)."""
    writer = StoreWriter(path)
    rows = {source: writer.add_document(source, text, pages.get(source, ())) for source, text in texts.items()}
    for c in chunks:
        writer.add_chunks([c], rows[c.source])
    writer.close()


def write_segment(folder: Path, prefix: str, segment: Segment, keywords: KeywordIndex) -> None:
    """``segment`` and its BM25 ``keywords`` as the files of segment ``prefix`` of ``folder`` (vectors apart)."""
    write_store(folder / f"{prefix}{STORE_FILE}", segment.chunks, segment.texts, segment.pages)
    np.save(folder / f"{prefix}dense_stats.npy", segment.dense_stats, allow_pickle=False)
    keywords.save(folder, prefix)


def read_segment(version: Path, manifest: Manifest, prefix: str) -> Segment:
    """The segment ``prefix`` of ``version``, its checksums verified; :class:`IndexError_` when damaged.
    Its chunks and texts stay on disk, read when asked for."""
    _check(version, manifest, segment_names(manifest, prefix))
    vectors = open_vector_store(manifest, version, prefix)
    try:
        store = ChunkStore(version / f"{prefix}{STORE_FILE}")
    except sqlite3.Error as exc:
        msg = f"Index {version}: {prefix}{STORE_FILE} is unreadable ({exc})."
        raise IndexError_(msg) from None
    if store.n_chunks != vectors.ntotal:
        msg = f"Index {version}: {store.n_chunks} chunks but {vectors.ntotal} vectors ({prefix}{STORE_FILE})."
        raise IndexError_(msg)
    stats = np.load(version / f"{prefix}dense_stats.npy", allow_pickle=False)
    return Segment(Chunks([store]), Texts([store]), Texts([store], pages=True), vectors, stats, store)
