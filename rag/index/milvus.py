"""Vectors in Milvus: a server (``http://host:19530``) or milvus-lite (a local ``.db`` file), same code.

Only the vectors move. The index folder keeps everything else (chunks with their offsets, texts,
BM25, dense statistics, the manifest with checksums) and a key map, ``milvus_keys.npy``: chunk id
→ Milvus primary key. A key is a hash of (model, chunker settings, source, content sha256,
ordinal), so it names one exact vector:

- an update writes only the chunks of new or changed documents (the others' keys are there);
- a version never reads vectors written for another (a changed file, model or chunker gets new keys);
- a crashed write leaves at most orphan rows, which no version's key map names: searches skip
  them, and the next write deletes them. Rows only older versions used are deleted right after
  the new version is committed (``committed``), never before.

milvus-lite also runs Milvus's own BM25 full-text search, but virag keeps its BM25 (tone-normalised
syllables and pairs, accent-folded twins, corpus-wide z-scores): see docs/scale.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import ConfigError, IndexError_

logger = logging.getLogger(__name__)

KEYS_FILE = "milvus_keys.npy"
LITE_FILE = "milvus.db"  # the default milvus-lite file, inside the index folder
_BATCH = 1000
_MAX_LIMIT = 16384  # Milvus's largest top-k
_CLIENTS: dict[str, object] = {}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        msg = 'Setting store="milvus" needs pymilvus and milvus-lite: pip install "virag[scale]".'
        raise ConfigError(msg) from None
    return pymilvus


def resolve_uri(uri: str, index_root: Path) -> str:
    """A server URI as given; a milvus-lite file made absolute; "" → ``milvus.db`` in ``index_root``."""
    if not uri:
        return str(Path(index_root).resolve() / LITE_FILE)
    if re.match(r"^(https?|tcp|unix)://", uri):
        return uri
    if not uri.endswith(".db"):
        msg = (f"Setting 'milvus_uri' = {uri!r}: expected a server URI (http://host:19530) "
               "or a milvus-lite file ending in .db.")
        raise ConfigError(msg)
    return str(Path(uri).expanduser().resolve())


def client(uri: str):
    """One client per URI and process (milvus-lite serves a file to one process at a time)."""
    if uri not in _CLIENTS:
        pymilvus = _pymilvus()
        if not uri.startswith(("http://", "https://", "tcp://", "unix://")):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            _CLIENTS[uri] = pymilvus.MilvusClient(uri=uri, token=os.environ.get("VIRAG_MILVUS_TOKEN", ""))
        except Exception as exc:  # pymilvus raises many kinds here
            msg = f"Cannot connect to Milvus at '{uri}' (setting 'milvus_uri'): {exc}"
            if uri.endswith(".db"):
                msg += (" milvus-lite lets one process at a time open a file: is another virag process (chat, "
                        "index) using this index? Several processes need a Milvus server.")
            raise IndexError_(msg) from exc
    return _CLIENTS[uri]


def collection_name(settings, index_dir: Path, dimension: int) -> str:
    """``milvus_collection``, or one derived from the index folder: one collection per index."""
    if settings.scale.milvus_collection:
        if not _NAME.match(settings.scale.milvus_collection):
            msg = (f"Setting 'milvus_collection' = {settings.scale.milvus_collection!r}: use letters, digits and '_', "
                   "starting with a letter or '_'.")
            raise ConfigError(msg)
        return settings.scale.milvus_collection
    root = Path(index_dir).resolve()
    stem = re.sub(r"[^A-Za-z0-9_]", "_", root.name)[:40]
    return f"virag_{stem}_{hashlib.sha1(str(root).encode()).hexdigest()[:10]}_d{dimension}"


def chunk_keys(manifest, chunks) -> np.ndarray:
    """The primary key of every chunk, in chunk id order (63-bit: Milvus keys are signed int64)."""
    basis = json.dumps([manifest.model, manifest.chunker], sort_keys=True, ensure_ascii=False)
    keys = np.empty(len(chunks), dtype=np.int64)
    ordinal: dict[str, int] = {}
    for i, c in enumerate(chunks):
        n = ordinal[c.source] = ordinal.get(c.source, -1) + 1
        text = f"{basis}\0{c.source}\0{manifest.files[c.source]['sha256']}\0{n}"
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        keys[i] = int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF
    if len(np.unique(keys)) != len(keys):  # 63-bit collisions: ~1e-5 at 10M chunks
        msg = "Two chunks got the same Milvus key; report this (virag rag/index/milvus.py)."
        raise IndexError_(msg)
    return keys


def store_change(settings, manifest, index_dir: Path) -> str | None:
    """Why an index must move its vectors to the configured store, or None when it is there already."""
    have = manifest.vectors or {"store": "faiss"}
    if have.get("store") != settings.scale.store:
        return f"Moving the vectors of {index_dir} from {have.get('store')} to {settings.scale.store} (no re-embedding)."
    if settings.scale.store == "milvus":
        want_uri = resolve_uri(settings.scale.milvus_uri, index_dir)
        have_uri = resolve_uri(have.get("uri", ""), index_dir)
        want_name = settings.scale.milvus_collection or have.get("collection")
        if (want_uri, want_name) != (have_uri, have.get("collection")):
            return (f"Moving the vectors of {index_dir} from Milvus {have_uri} ({have.get('collection')}) "
                    f"to {want_uri} ({want_name}) (no re-embedding).")
    return None


def _index_params(c, settings, n: int):
    params = c.prepare_index_params()
    if n > settings.index.flat_max_vectors:  # the same switch as the FAISS store: exact up to flat_max_vectors
        params.add_index("vector", index_type="HNSW", metric_type="IP",
                         params={"M": settings.index.hnsw_m, "efConstruction": 80})
    else:
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    return params


def _ensure_collection(c, name: str, dimension: int, settings, n: int) -> None:
    pymilvus = _pymilvus()
    DataType = pymilvus.DataType
    wanted = "HNSW" if n > settings.index.flat_max_vectors else "FLAT"
    if c.has_collection(name):
        fields = {f["name"]: f for f in c.describe_collection(name)["fields"]}
        dim = int(fields.get("vector", {}).get("params", {}).get("dim", -1))
        if dim != dimension:
            msg = (f"Milvus collection '{name}' holds vectors of dimension {dim}, this model makes {dimension}; "
                   "set another 'milvus_collection' or drop that one.")
            raise IndexError_(msg)
        if c.describe_index(name, "vector").get("index_type") != wanted:  # crossed flat_max_vectors
            c.release_collection(name)
            c.drop_index(name, "vector")
            with _quiet_grpc():
                c.create_index(name, _index_params(c, settings, n))
        c.load_collection(name)
        return
    schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    # the chunk's place, so the collection can be read on its own; citations come from chunks.jsonl
    schema.add_field("source", DataType.VARCHAR, max_length=4096)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    with _quiet_grpc():
        c.create_collection(name, schema=schema, index_params=_index_params(c, settings, n),
                            consistency_level="Strong")


@contextmanager
def _quiet_grpc():
    """milvus-lite lacks the AllocTimestamp call pymilvus makes while waiting for an index build (it
    then falls back); its in-process gRPC server logs that as an ERROR with a traceback: hide it."""
    log = logging.getLogger("grpc._server")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _count(c, name: str) -> int:
    return int(c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def _read_at(written_at: float | None) -> dict:
    """Read at least what a version wrote. A server's "Strong" reads wait for the next time tick (~200 ms a
    call on Milvus 2.3); a timestamp taken after the write returns at once, and rows written later belong to
    other versions, which :meth:`MilvusVectors.ids_of` skips anyway. The timestamp is this machine's clock
    after the write had returned (flushed and indexed), so only a server clock ahead by more than that wait
    could hide rows. Without one (an index written before this was recorded), Strong."""
    if written_at is None:
        return {}
    return {"consistency_level": "Customized", "guarantee_timestamp": _pymilvus().mkts_from_unixtime(written_at)}


class MilvusVectors:
    """The vectors of one index version, held by a Milvus collection.

    It answers what the retriever asks of a FAISS index (``ntotal``, ``search``,
    ``reconstruct_batch``), in chunk ids: a :class:`rag.index.vectors.VectorStore`.
    """

    def __init__(self, c, uri: str, manifest_uri: str, collection: str, keys: np.ndarray, dimension: int,
                 *, ef_search: int = 256, stale: np.ndarray | None = None, written_at: float | None = None) -> None:
        self.client, self.uri, self.collection = c, uri, collection
        self.written_at = written_at
        self._read_at = _read_at(written_at)
        self._manifest_uri = manifest_uri
        self.keys = np.asarray(keys, dtype=np.int64)
        self.dimension = dimension
        self.ef_search = ef_search
        self._stale = stale if stale is not None else np.zeros(0, dtype=np.int64)
        self._order = np.argsort(self.keys, kind="stable")
        self._sorted = self.keys[self._order]
        self._orphans = 0  # rows no version names (a crashed write): searched past, deleted by the next write

    @property
    def ntotal(self) -> int:
        return len(self.keys)

    def ids_of(self, pks) -> np.ndarray:
        """Chunk ids of primary keys; -1 for a key this version does not hold."""
        pks = np.asarray(pks, dtype=np.int64)
        if not len(self._sorted):
            return np.full(len(pks), -1, dtype=np.int64)
        j = np.minimum(np.searchsorted(self._sorted, pks), len(self._sorted) - 1)
        return np.where(self._sorted[j] == pks, self._order[j], -1)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        data = [np.asarray(q, dtype=np.float32) for q in queries]
        limit = min(k + self._orphans, _MAX_LIMIT)
        while True:
            hits = self.client.search(self.collection, data=data, anns_field="vector", limit=limit, output_fields=[],
                                      search_params={"metric_type": "IP", "params": {"ef": max(self.ef_search, limit)}},
                                      **self._read_at)
            scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
            ids = np.full((len(queries), k), -1, dtype=np.int64)
            short = False
            for row, found in enumerate(hits):
                found_ids = self.ids_of([h["id"] for h in found])
                found_scores = np.asarray([h["distance"] for h in found], dtype=np.float32)
                mine = found_ids >= 0
                n = min(k, int(mine.sum()))
                ids[row, :n], scores[row, :n] = found_ids[mine][:n], found_scores[mine][:n]
                # rows of another version (a write in progress elsewhere, or a crashed one) took the places
                short |= n < k and len(found) == limit
            if not short or limit >= _MAX_LIMIT:
                return scores, ids
            limit = min(4 * limit, _MAX_LIMIT)
            self._orphans = limit - k

    def reconstruct_batch(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for lo in range(0, len(ids), _BATCH):
            pks = self.keys[ids[lo : lo + _BATCH]]
            rows = self.client.get(self.collection, ids=pks.tolist(), output_fields=["vector"], **self._read_at)
            got = {int(r["id"]): r["vector"] for r in rows}
            missing = [int(p) for p in pks if int(p) not in got]
            if missing:
                msg = (f"Milvus collection '{self.collection}' at {self.uri} lacks {len(missing)} of this index's "
                       "vectors; rebuild the index with `virag index`.")
                raise IndexError_(msg)
            out[lo : lo + len(pks)] = np.asarray([got[int(p)] for p in pks], dtype=np.float32)
        return out

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return self.reconstruct_batch(np.arange(start, start + n))

    # -- for write_index -------------------------------------------------
    def save(self, folder: Path, prefix: str = "") -> tuple[str, ...]:
        np.save(Path(folder) / f"{prefix}{KEYS_FILE}", self.keys, allow_pickle=False)
        return (f"{prefix}{KEYS_FILE}",)

    def describe(self) -> dict:
        return {"store": "milvus", "uri": self._manifest_uri, "collection": self.collection,
                "ef_search": self.ef_search, "written_at": self.written_at, "files": [KEYS_FILE]}

    def committed(self) -> None:
        """After the new version is live: delete rows only older versions (or crashed writes) used."""
        for lo in range(0, len(self._stale), _BATCH):
            self.client.delete(self.collection, ids=self._stale[lo : lo + _BATCH].tolist())
        flush = len(self._stale) > 0
        self._stale = np.zeros(0, dtype=np.int64)
        if _count(self.client, self.collection) > self.ntotal:
            flush |= self._delete_orphans()
        if flush:
            self.client.flush(self.collection)

    def _delete_orphans(self) -> bool:
        it = self.client.query_iterator(self.collection, batch_size=10_000, filter="", output_fields=["id"])
        orphans: list[int] = []
        while batch := it.next():
            pks = np.asarray([r["id"] for r in batch], dtype=np.int64)
            orphans += pks[self.ids_of(pks) < 0].tolist()
        it.close()
        for lo in range(0, len(orphans), _BATCH):
            self.client.delete(self.collection, ids=orphans[lo : lo + _BATCH])
        if orphans:
            logger.info("Milvus %s: deleted %d rows no index version uses.", self.collection, len(orphans))
        return bool(orphans)


def wait_for_index(c, name: str, timeout: float = 1800.0) -> None:
    """Wait until Milvus has indexed every sealed row: it builds indexes in the background and searches
    rows without one by brute force meanwhile (milvus-lite at a million vectors: seconds a search)."""
    deadline, logged = time.monotonic() + timeout, False
    while True:
        info = c.describe_index(name, "vector") or {}
        pending = int(info.get("pending_index_rows") or 0)
        if pending <= 0 or time.monotonic() > deadline:
            return
        if not logged:
            logger.info("Milvus %s: waiting for the index of %d rows.", name, pending)
            logged = True
        time.sleep(0.5)


def build_vectors(settings, index_dir: Path, manifest, chunks, vectors: np.ndarray, old) -> MilvusVectors:
    """Write the chunks the collection lacks (upsert: a retried write never duplicates a row)."""
    uri = resolve_uri(settings.scale.milvus_uri, index_dir)
    c = client(uri)
    name = collection_name(settings, index_dir, manifest.dimension)
    was = getattr(old, "vectors", None)
    if isinstance(was, MilvusVectors) and not settings.scale.milvus_collection and was.uri == uri \
            and was.dimension == manifest.dimension:
        name = was.collection  # a moved index folder keeps its collection
    _ensure_collection(c, name, manifest.dimension, settings, len(chunks))
    if uri.endswith(".db") and len(chunks) > settings.index.flat_max_vectors:
        logger.warning("milvus-lite holds %d vectors here: it walks every row in Python on each search, "
                       "about 0.2 s a question at 100,000 vectors and 1.5 s at 1,000,000 (docs/scale.md); "
                       "for a large index use a Milvus server (on this machine: `milvus-server --data DIR`, from "
                       "pip install 'virag[milvus-server]', then milvus_uri=http://127.0.0.1:19530) or the default "
                       "FAISS store.",
                       len(chunks))
    keys = chunk_keys(manifest, chunks)
    same = isinstance(getattr(old, "vectors", None), MilvusVectors) and (old.vectors.uri, old.vectors.collection) == (uri, name)
    old_keys = old.vectors.keys if same else np.zeros(0, dtype=np.int64)
    todo = np.flatnonzero(~np.isin(keys, old_keys))
    for lo in range(0, len(todo), _BATCH):
        rows = [{"id": int(keys[i]), "vector": vectors[i], "source": chunks[i].source,
                 "start": chunks[i].start, "end": chunks[i].end} for i in todo[lo : lo + _BATCH]]
        c.upsert(name, rows)
    if len(todo):
        c.flush(name)  # seals the new rows: searching unsealed ones is brute force (686 ms vs 39 ms at 20k)
        wait_for_index(c, name)
    logger.info("Milvus %s: %d vectors written, %d already there.", name, len(todo), len(keys) - len(todo))
    stale = np.setdiff1d(old_keys, keys)
    # every row this version names is written by now (flushed above, or by an earlier version)
    return MilvusVectors(c, uri, settings.scale.milvus_uri, name, keys, manifest.dimension,
                         ef_search=settings.index.hnsw_ef_search, stale=stale, written_at=time.time())


def open_vectors(manifest, version: Path) -> MilvusVectors:
    """The vectors of the index version in ``version``, checked against the collection."""
    desc = manifest.vectors
    if desc.get("store") != "milvus":
        msg = f"Index {version}: unknown vector store {desc.get('store')!r} in manifest.json."
        raise IndexError_(msg)
    uri = resolve_uri(desc.get("uri", ""), Path(version).parent)
    name = desc["collection"]
    keys_file = Path(version) / KEYS_FILE
    keys = np.load(keys_file, allow_pickle=False)
    c = client(uri)
    if not c.has_collection(name):
        msg = f"Index {version}: Milvus collection '{name}' is missing at {uri}; rebuild it with `virag index`."
        raise IndexError_(msg)
    c.load_collection(name)
    vectors = MilvusVectors(c, uri, desc.get("uri", ""), name, keys, manifest.dimension,
                            ef_search=int(desc.get("ef_search", 256)), written_at=desc.get("written_at"))
    count = _count(c, name)
    if count < len(keys):
        msg = (f"Index {version}: Milvus collection '{name}' at {uri} has {count} vectors, the index needs "
               f"{len(keys)}; rebuild it with `virag index`.")
        raise IndexError_(msg)
    vectors._orphans = count - len(keys)
    return vectors
