"""The files of one index version: the manifest, each segment's data files, and their checksums. Never pickle.

A version holds one or two *segments*: the base (``chunks.jsonl``, ``vectors.faiss``,
``lexical.*`` …) and, after documents were only added, a small delta (``delta.chunks.jsonl``
…) searched together with it. Every data file's sha256 is in the manifest and is checked on load.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import IndexError_
from ..types import Chunk, Step
from .lexical import KeywordIndex, lexical_files
from .vectors import FaissVectors, VectorStore, open_vector_store

# 3: documents.jsonl records each PDF's page start offsets; 4: the BM25 index is saved (lexical.*);
# 5: BM25 as term-frequency postings with the diacritic tables, and an optional delta segment;
# 6: a legal chunk's place as a structured path (kind, number, label, last), not text
FORMAT_VERSION = 6
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
    """The data files of one segment, but its vectors (see :func:`segment_names`)."""
    return (f"{prefix}chunks.jsonl", f"{prefix}documents.jsonl", f"{prefix}dense_stats.npy", *lexical_files(prefix))


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


def _vector_files(manifest: Manifest) -> tuple[str, ...]:
    return tuple(manifest.vectors.get("files", ())) if manifest.vectors else (FaissVectors.FILE,)


def segment_names(manifest: Manifest, prefix: str) -> tuple[str, ...]:
    """Every data file of the segment ``prefix``, its vectors' included."""
    vectors = _vector_files(manifest) if prefix == "" else (f"{prefix}{FaissVectors.FILE}",)
    return (*vectors, *segment_files(prefix))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The sha256 of each file ``names`` of ``folder``, as the manifest records them."""
    return {name: _sha256(folder / name) for name in names}


def _chunk_to_json(c: Chunk) -> str:
    record = {"source": c.source, "start": c.start, "end": c.end, "text": c.text, "sentences": c.sentences}
    if c.path or c.heading:
        record.update(path=[[s.kind, s.number, s.label, s.last] for s in c.path], heading=c.heading)
    return json.dumps(record, ensure_ascii=False)


def _chunk_from_json(line: str) -> Chunk:
    d = json.loads(line)
    return Chunk(source=d["source"], start=d["start"], end=d["end"], text=d["text"],
                 sentences=tuple(tuple(s) for s in d["sentences"]),
                 path=tuple(Step(*s) for s in d.get("path", ())),
                 heading=d.get("heading", ""))


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


def write_segment(folder: Path, prefix: str, segment: Segment, keywords: KeywordIndex) -> None:
    """``segment`` and its BM25 ``keywords`` as the files of segment ``prefix`` of ``folder`` (vectors apart)."""
    with (folder / f"{prefix}chunks.jsonl").open("w", encoding="utf-8") as fh:
        for c in segment.chunks:
            fh.write(_chunk_to_json(c) + "\n")
    np.save(folder / f"{prefix}dense_stats.npy", segment.dense_stats, allow_pickle=False)
    keywords.save(folder, prefix)
    with (folder / f"{prefix}documents.jsonl").open("w", encoding="utf-8") as fh:
        for source, text in segment.texts.items():
            record = {"source": source, "text": text, "pages": list(segment.pages.get(source, ()))}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_segment(version: Path, manifest: Manifest, prefix: str) -> Segment:
    """The segment ``prefix`` of ``version``, its checksums verified; :class:`IndexError_` when damaged."""
    _check(version, manifest, segment_names(manifest, prefix))
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
