"""The chunk store: each segment's chunks (texts, offsets, sentences, legal place) and its documents'
texts in one SQLite file, ``store.sqlite``, read on demand.

A query needs in bulk only the vectors, the BM25 arrays and the dense statistics; the chunks and
texts it shows are a handful. So a serving process opens this file read-only and reads rows by
id, and an index of a million passages costs it no memory for them. SQLite, not our own offset
files: lookups by chunk id and by source, and the two filtered scans a query may need (the chunks
of some sources; the chunks of legal texts) come with it, from the standard library.

Version files are never modified once written, so the file is opened ``immutable`` (no locks, no
journal) and shared by the threads of a server, one connection under a lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ..types import Chunk, Step

STORE_FILE = "store.sqlite"

_SCHEMA = """
CREATE TABLE documents (row INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
                        pages TEXT NOT NULL);
CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, structured INTEGER NOT NULL,
                     record TEXT NOT NULL);
"""
# made after the rows are in: building an index once is faster than keeping it up to date
_INDEXES = """
CREATE INDEX chunks_doc ON chunks(doc);
CREATE INDEX chunks_structured ON chunks(structured) WHERE structured = 1;
"""


def chunk_record(c: Chunk) -> str:
    record = {"source": c.source, "start": c.start, "end": c.end, "text": c.text, "sentences": c.sentences}
    if c.path or c.heading:
        record.update(path=[[s.kind, s.number, s.label, s.last] for s in c.path], heading=c.heading)
    return json.dumps(record, ensure_ascii=False)


def chunk_of(record: str) -> Chunk:
    d = json.loads(record)
    return Chunk(source=d["source"], start=d["start"], end=d["end"], text=d["text"],
                 sentences=tuple(tuple(s) for s in d["sentences"]),
                 path=tuple(Step(*s) for s in d.get("path", ())), heading=d.get("heading", ""))


class StoreWriter:
    """Writes one ``store.sqlite``, a document and its chunks at a time (chunk ids in the order added).

    Rows go to disk in transactions of about ``batch`` rows, so a million chunks never sit in
    memory. Nothing is readable until :meth:`close`, which adds the lookup indexes.
    """

    def __init__(self, path: Path, batch: int = 20_000) -> None:
        self.path = Path(path)
        self.path.unlink(missing_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 8192;"
                               + _SCHEMA)
        self._db.execute("BEGIN")
        self.documents = self.chunks = 0
        self._batch, self._pending = batch, 0

    def add(self, source: str, text: str, pages: Iterable[int], chunks: Sequence[Chunk]) -> None:
        """A document and its chunks (the next chunk ids)."""
        self.add_chunks(chunks, self.add_document(source, text, pages))

    def add_document(self, source: str, text: str, pages: Iterable[int] = ()) -> int:
        """A document's text; returns its row, for :meth:`add_chunks`."""
        row = self.documents
        self._db.execute("INSERT INTO documents VALUES (?, ?, ?, ?)", (row, source, text, json.dumps(list(pages))))
        self.documents += 1
        self._written(1)
        return row

    def add_chunks(self, chunks: Sequence[Chunk], document: int) -> None:
        """The next chunks, all of the document in row ``document``."""
        first = self.chunks
        self._db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                             ((first + j, document, int(bool(c.path)), chunk_record(c)) for j, c in enumerate(chunks)))
        self.chunks += len(chunks)
        self._written(len(chunks))

    def _written(self, rows: int) -> None:
        self._pending += rows
        if self._pending >= self._batch:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    def close(self) -> None:
        self._db.execute("COMMIT")
        self._db.executescript(_INDEXES)
        self._db.close()

    def abort(self) -> None:
        self._db.close()  # a closed connection closes again silently


class ChunkStore:
    """One ``store.sqlite``, read-only: its chunks as a sequence, its texts and pages as mappings.

    The ``cache`` most recently read document texts are kept (a legal text is quoted again and again
    while one question is answered).
    """

    def __init__(self, path: Path, cache: int = 64) -> None:
        self.path = Path(path)
        uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, tuple[str, tuple[int, ...]] | None] = OrderedDict()
        self._cache = cache
        self.n_chunks = self._one("SELECT count(*) FROM chunks")[0]
        self.n_documents = self._one("SELECT count(*) FROM documents")[0]

    def _one(self, sql: str, args: tuple = ()):
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def chunk(self, i: int) -> Chunk:
        row = self._one("SELECT record FROM chunks WHERE id = ?", (i,))
        if row is None:
            raise IndexError(i)
        return chunk_of(row[0])

    def chunks(self, ids: Iterable[int]) -> list[Chunk]:
        """The chunks ``ids``, in that order."""
        ids, found = list(ids), {}
        for lo in range(0, len(ids), 500):
            part = ids[lo : lo + 500]
            found.update(self._all(f"SELECT id, record FROM chunks WHERE id IN ({','.join('?' * len(part))})",
                                   tuple(part)))
        return [chunk_of(found[i]) for i in ids]

    def iter_chunks(self, where: str = "", args: tuple = ()) -> Iterator[tuple[int, Chunk]]:
        """(id, chunk) in id order, fetched in pages (never all rows at once)."""
        last = -1
        while True:
            rows = self._all(f"SELECT id, record FROM chunks WHERE id > ? {where} ORDER BY id LIMIT 2000",
                             (last, *args))
            if not rows:
                return
            for i, record in rows:
                yield i, chunk_of(record)
            last = rows[-1][0]

    def structured(self) -> Iterator[tuple[int, Chunk]]:
        """The chunks of legal texts (those with a place in an outline), by id."""
        return self.iter_chunks("AND structured = 1")

    def ids_by_source(self, sources: Iterable[str]) -> dict[str, list[int]]:
        """source → its chunk ids, in id order (sources without chunks left out)."""
        sources, found = list(sources), {}
        for lo in range(0, len(sources), 500):  # SQLite binds at most 32766 parameters
            part = sources[lo : lo + 500]
            sql = (f"SELECT d.source, c.id FROM chunks c JOIN documents d ON c.doc = d.row "
                   f"WHERE d.source IN ({','.join('?' * len(part))}) ORDER BY c.id")
            for source, i in self._all(sql, tuple(part)):
                found.setdefault(source, []).append(i)
        return found

    def document(self, source: str) -> tuple[str, tuple[int, ...]] | None:
        """The text and page starts of ``source``; None when the store has no such document."""
        if source in self._texts:
            self._texts.move_to_end(source)
            return self._texts[source]
        row = self._one("SELECT text, pages FROM documents WHERE source = ?", (source,))
        found = (row[0], tuple(json.loads(row[1]))) if row else None
        self._texts[source] = found
        if len(self._texts) > self._cache:
            self._texts.popitem(last=False)
        return found

    def sources(self) -> Iterator[str]:
        last = -1
        while True:
            rows = self._all("SELECT row, source FROM documents WHERE row > ? ORDER BY row LIMIT 5000", (last,))
            if not rows:
                return
            yield from (s for _, s in rows)
            last = rows[-1][0]

    def close(self) -> None:
        self._db.close()


class Chunks(Sequence):
    """The chunks of one or more stores, in id order, as one read-only sequence."""

    def __init__(self, stores: list[ChunkStore]) -> None:
        self.stores = stores
        self.firsts = [0]
        for s in stores:
            self.firsts.append(self.firsts[-1] + s.n_chunks)

    def __len__(self) -> int:
        return self.firsts[-1]

    def _locate(self, i: int) -> tuple[ChunkStore, int]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        for store, first, end in zip(self.stores, self.firsts, self.firsts[1:]):
            if i < end:
                return store, i - first
        raise IndexError(i)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        store, local = self._locate(int(i))
        return store.chunk(local)

    def __eq__(self, other) -> bool:  # equal to a list of the same chunks, as the in-memory index holds them
        return isinstance(other, Sequence) and len(other) == len(self) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __iter__(self) -> Iterator[Chunk]:
        for store in self.stores:
            for _, c in store.iter_chunks():
                yield c

    def structured(self) -> Iterator[tuple[int, Chunk]]:
        for store, first in zip(self.stores, self.firsts):
            for i, c in store.structured():
                yield first + i, c

    def ids_by_source(self, sources: Iterable[str]) -> dict[str, list[int]]:
        sources, found = list(sources), {}
        for store, first in zip(self.stores, self.firsts):
            for source, ids in store.ids_by_source(sources).items():
                found.setdefault(source, []).extend(first + i for i in ids)
        return found

    def many(self, ids: Iterable[int]) -> list[Chunk]:
        """The chunks ``ids``, in that order, one read per store."""
        ids = [int(i) for i in ids]
        out: dict[int, Chunk] = {}
        for store, first, end in zip(self.stores, self.firsts, self.firsts[1:]):
            mine = [i for i in ids if first <= i < end]
            out.update(zip(mine, store.chunks([i - first for i in mine])))
        return [out[i] for i in ids]


class Texts(Mapping):
    """source → document text, read from the stores on demand (the newest segment wins)."""

    def __init__(self, stores: list[ChunkStore], pages: bool = False) -> None:
        self.stores, self._pages = stores, pages

    def _find(self, source: str):
        for store in reversed(self.stores):
            found = store.document(source)
            if found is not None:
                return found
        return None

    def __getitem__(self, source: str):
        found = self._find(source) if isinstance(source, str) else None
        if found is None or (self._pages and not found[1]):
            raise KeyError(source)
        return found[1] if self._pages else found[0]

    def __contains__(self, source) -> bool:
        try:
            self[source]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for store in self.stores:
            for source in store.sources():
                if source not in seen and (not self._pages or store.document(source)[1]):
                    seen.add(source)
                    yield source

    def __len__(self) -> int:
        # a source is in one segment only (a changed document rewrites the index)
        return sum(1 for _ in self) if self._pages else sum(s.n_documents for s in self.stores)
