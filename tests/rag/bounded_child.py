"""Index a corpus with this process's heap capped (``RLIMIT_DATA``), then say how it went as JSON.

    python tests/rag/bounded_child.py CORPUS INDEX CAP_MB SHARD_CHUNKS

SHARD_CHUNKS is both the BM25 shard and the embedding batch (the chunks held at once).

The cap is set after the model is loaded, to its heap then plus ``CAP_MB`` (0: no cap). The
embedding is replaced by unit vectors drawn from a hash of each text, with the real model's
fingerprint: what is tested is the indexer's memory, and real embedding of this many chunks
would take minutes (the tokenizer, the chunker and everything else are the real ones).
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import threading
from pathlib import Path

import numpy as np


def _heap_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmData")


def main() -> int:
    corpus, index, cap_mb, shard = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    import embeddings.encoder
    import rag.index.indexer
    from rag.config import Settings
    from rag.index.indexer import Indexer

    def encode_documents(self, texts, **_kw):
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).normal(size=self.dimension)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embeddings.encoder.Encoder.encode_documents = encode_documents
    rag.index.indexer.EMBED_BATCH = min(shard, 8192)  # chunks embedded per call, held until written
    settings = Settings().with_(bm25_shard_chunks=shard)
    encoder = settings.encoder()
    encoder.count_tokens("Hà Nội")  # the tokenizer, the model and BLAS's buffers set up before the cap
    encoder.fingerprint()
    np.ones((64, encoder.dimension)).T @ np.ones((64, encoder.dimension))
    import faiss  # noqa: F401 (its library mapped, as in any process that has written an index)
    heap = _heap_mb()
    enforced = False
    if cap_mb:
        limit = int((heap + cap_mb) * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
        try:
            bytearray(int(cap_mb * 2 * 1024 * 1024))
        except MemoryError:
            enforced = True  # the cap bites: holding twice it fails
    peak = [heap]
    done = threading.Event()

    def watch() -> None:  # the heap's high-water mark (the kernel keeps none for it)
        while not done.wait(0.02):
            peak[0] = max(peak[0], _heap_mb())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    report = Indexer(settings, encoder).run(corpus, index)
    done.set()
    watcher.join()
    print(json.dumps({"chunks": report.totals()[1], "heap_before_mb": heap, "heap_peak_mb": peak[0],
                      "cap_enforced": enforced, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
