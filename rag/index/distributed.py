"""Distributed indexing on Ray: workers read, chunk and embed documents; only the driver writes.

What runs where:

- the driver (this process) runs :class:`rag.index.indexer.Indexer`'s steps with one replaced: the new
  and changed files' bytes go to the workers instead of the local chunker and model (``_embed``).
  Deciding what changed, the delta segment for added documents, and the streamed write under the
  index lock are the plain indexer's: results are written in corpus order as they arrive;
- each worker is a Ray actor that loads the embedding model once, then extracts text, chunks and
  embeds the batches it is given; a document that fails is reported with its reason, the rest go on.

A killed worker is restarted by Ray and its unfinished calls are run again (``max_restarts``,
``max_task_retries``); a batch that still fails is resubmitted to another worker. A batch's
results are used once, whatever was retried, and nothing is live before the driver's commit, so a
crash at any point leaves the previous version live.
The workers need virag (``pip install "virag[scale]"``) and the same model on every node; the
driver checks each result's model fingerprint.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


from embeddings.encoder import Encoder

from ..config import Settings
from ..ingest.documents import read_bytes
from ..errors import ConfigError, DocumentError, IndexError_
from .indexer import Embedded, Indexer, IndexReport, Pending, _skip

logger = logging.getLogger(__name__)

LOCAL = "local"


def _ray():
    try:
        import ray
    except ImportError:
        msg = '`virag index --ray` needs Ray: pip install "virag[scale]".'
        raise ConfigError(msg) from None
    return ray


@dataclass(frozen=True)
class Progress:
    """One document finished (``error`` None) or failed, and how far the run is."""

    source: str
    chunks: int
    done: int
    total: int
    error: str | None = None
    worker_pid: int | None = None


class _Worker:
    """A Ray actor: the embedding model is loaded once, in ``__init__``."""

    def __init__(self, settings: Settings) -> None:
        self.encoder = settings.encoder()
        self.chunker = Indexer(settings, self.encoder).chunker()  # loads the model
        self.fingerprint = self.encoder.fingerprint()

    def pid(self) -> int:
        return os.getpid()

    def run(self, batch: list[tuple[str, bytes]]) -> list[dict]:
        from ..ingest.documents import parse_document

        out, texts = [], []
        for source, raw in batch:
            try:
                doc = parse_document(raw, source)
                chunks = self.chunker.run(doc)
            except Exception as exc:  # one bad document must not sink its batch
                out.append({"source": source, "error": str(exc) if isinstance(exc, DocumentError)
                            else f"{source}: {type(exc).__name__}: {exc}"})
                continue
            out.append({"source": source, "document": doc, "chunks": chunks})
            texts += [c.indexed_text for c in chunks]
        vectors = self.encoder.encode_documents(texts)
        cursor = 0
        for r in out:
            if "chunks" in r:
                r["vectors"] = vectors[cursor : cursor + len(r["chunks"])]
                cursor += len(r["chunks"])
            r["pid"], r["fingerprint"] = os.getpid(), self.fingerprint
        return out


class RayIndexer(Indexer):
    """:class:`Indexer` whose reading, chunking and embedding run on a Ray cluster.

    Example::

        report = RayIndexer(settings, settings.encoder(), address="local").run(Path("seeds"), Path("/tmp/idx"))
        print(report.summary())

    ``address``: "local" (start a local Ray on this machine's cores), "auto" (the cluster this
    machine is part of) or "ray://head:10001"; an already initialised Ray is used as it is.
    ``batch_docs``/``batch_bytes`` bound one call to a worker (default: about four calls per worker,
    between 256 kB and 8 MB of files); ``progress`` is called per document.
    """

    def __init__(self, settings: Settings, encoder: Encoder, *, address: str | None = LOCAL,
                 batch_docs: int = 4096, batch_bytes: int | None = None, max_attempts: int = 3,
                 progress: Callable[[Progress], None] | None = None) -> None:
        super().__init__(settings, encoder)
        self.address = address or LOCAL
        self.batch_docs, self.batch_bytes = batch_docs, batch_bytes
        self.max_attempts = max_attempts
        self.progress = progress
        self.worker_pids: list[int] = []  # pids of the workers' first incarnations
        self.result_pids: set[int] = set()  # pids that returned results (a restarted worker has a new one)
        self.resubmitted = 0
        self.timings: dict[str, float] = {}  # seconds into the last run: "ray_started", "workers_ready"

    # -- cluster ---------------------------------------------------------
    def _connect(self) -> bool:
        """Start or join Ray; True when this call did (and so must shut it down)."""
        ray = _ray()
        if ray.is_initialized():
            return False
        if self.address == LOCAL:
            cpus = max(os.cpu_count() or 1, self.settings.scale.ray_workers * max(1, self.settings.embedding.threads))
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=128 * 1024 * 1024)
        else:
            ray.init(address=self.address, log_to_driver=False)
        return True

    def _start_workers(self):
        ray = _ray()
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n = self.settings.scale.ray_workers or cpus
        threads = self.settings.embedding.threads or max(1, cpus // n)
        if n * threads > cpus:  # Ray would wait forever for the CPUs of the workers it cannot place
            msg = (f"{n} Ray workers × {threads} threads need {n * threads} CPUs; the cluster has {cpus} "
                   "(settings 'ray_workers', 'threads').")
            raise ConfigError(msg)
        remote = ray.remote(num_cpus=threads, max_restarts=2, max_task_retries=2)(_Worker)
        workers = [remote.remote(self.settings.with_(threads=threads)) for _ in range(n)]
        self.worker_pids = ray.get([w.pid.remote() for w in workers])
        logger.info("Ray: %d workers × %d threads (pids %s)", n, threads, self.worker_pids)
        return workers

    # -- the two steps that differ from the plain indexer -------------------
    def run(self, corpus: Path, index_dir: Path, *, show_progress: bool = False) -> IndexReport:
        self._started = time.perf_counter()
        return super().run(corpus, index_dir, show_progress=show_progress)

    def _batches(self, fresh: list[Pending], workers: int) -> list[list[Pending]]:
        """Large calls: the encoder sorts a call's passages by length, so small calls pad more and
        pay Ray's per-call cost more often (32 documents a call ran at half the plain rate)."""
        limit = self.batch_bytes or min(8_000_000, max(256_000, sum(r.size for r in fresh) // (4 * workers) + 1))
        batches, batch, size = [], [], 0
        for r in fresh:
            if batch and (len(batch) >= self.batch_docs or size + r.size > limit):
                batches.append(batch)
                batch, size = [], 0
            batch.append(r)
            size += r.size
        if batch:
            batches.append(batch)
        return batches

    def _embed(self, fresh: list[Pending], report: IndexReport, show_progress: bool = False) -> Iterator[Embedded]:
        """Every new or changed document through the workers, yielded in ``fresh``'s order as results
        arrive (a batch waits only for those before it); failures go to ``report.skipped``."""
        ray = _ray()
        max_bytes = int(self.settings.chunking.max_file_mb * 1e6)
        if not fresh:
            return
        started_ray = self._connect()
        self.timings["ray_started"] = time.perf_counter() - self._started
        fingerprint = self.encoder.fingerprint()
        try:
            workers = self._start_workers()
            self.timings["workers_ready"] = time.perf_counter() - self._started
            load = {i: 0 for i in range(len(workers))}
            batches = self._batches(fresh, len(workers))
            pending = deque((j, 1) for j in range(len(batches)))
            finished: dict[int, list[dict]] = {}  # batch → its results, until the batches before it are out
            in_flight: dict = {}
            next_out = done = 0

            def fail(source: str, reason: str) -> None:
                nonlocal done
                done += 1
                _skip(report, source, reason)
                if self.progress:
                    self.progress(Progress(source, 0, done, len(fresh), reason))

            while next_out < len(batches):
                # two calls queued per worker, and never far ahead of the batch to write next
                while pending and len(in_flight) < 2 * len(workers) and pending[0][0] < next_out + 4 * len(workers):
                    j, attempt = pending.popleft()
                    payload = []
                    for r in batches[j]:  # read again when sent: the driver never holds the whole corpus
                        try:
                            payload.append((r.source, read_bytes(r.path, r.source, max_bytes=max_bytes)))
                        except DocumentError as exc:
                            fail(r.source, str(exc))
                    if not payload:
                        finished[j] = []
                        continue
                    w = min(load, key=load.get)
                    load[w] += 1
                    in_flight[workers[w].run.remote(payload)] = (j, attempt, w)
                if in_flight:
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    j, attempt, w = in_flight.pop(ready[0])
                    if w in load:
                        load[w] -= 1
                    try:
                        out = ray.get(ready[0])
                    except ray.exceptions.RayError as exc:  # a dead worker, or an error outside any one document
                        if isinstance(exc, ray.exceptions.ActorDiedError) and w in load:
                            del load[w]  # Ray's restarts are used up: send nothing more to it
                            logger.warning("Ray worker %d is dead; %d left.", w, len(load))
                            if not load:
                                msg = "Every Ray worker died; nothing was written (see the Ray logs: out of memory?)."
                                raise IndexError_(msg) from exc
                        if attempt < self.max_attempts:
                            self.resubmitted += 1
                            logger.warning("Ray worker failed on %d documents (%s); resubmitting.", len(batches[j]),
                                           type(exc).__name__)
                            pending.appendleft((j, attempt + 1))
                        else:
                            for r in batches[j]:
                                fail(r.source, f"{r.source}: its Ray worker failed {attempt} times ({type(exc).__name__}).")
                            finished[j] = []
                        continue
                    finished[j] = self._check(out, fingerprint, fail)
                    for r in finished[j]:
                        done += 1
                        if self.progress:
                            self.progress(Progress(r["source"], len(r["chunks"]), done, len(fresh), None, r["pid"]))
                while next_out in finished:
                    for r in finished.pop(next_out):
                        yield r["document"], r["chunks"], r["vectors"]
                    next_out += 1
            for w in workers:
                ray.kill(w)
        finally:
            if started_ray:
                ray.shutdown()

    def _check(self, out: list[dict], fingerprint: str, fail) -> list[dict]:
        """A call's results that embedded a document (the others reported); :class:`IndexError_` when a
        worker's model differs from the driver's."""
        kept = []
        for r in out:
            if r["fingerprint"] != fingerprint:
                msg = (f"A Ray worker (pid {r['pid']}) embeds with {r['fingerprint']}, the index needs "
                       f"{fingerprint}: give every node the same model and settings.")
                raise IndexError_(msg)
            self.result_pids.add(r["pid"])
            if "error" in r:
                fail(r["source"], r["error"])
            else:
                kept.append(r)
        return kept
