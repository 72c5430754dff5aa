"""The indexing driver's own cost: ``virag index``'s path with a stub encoder (docs/scale.md).

    python -m benchmarks.driver_cost bench_out/viwiki/corpus-20000 [--profile]

Embedding is ~95 % of indexing time, so a change in the driver (reading, chunking, the store, BM25,
the dense sums, the commit) hides in its noise. Here every file is read, chunked and written for real,
but the encoder returns random unit vectors: what is left is the driver's time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.driver_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", type=Path)
    p.add_argument("--profile", action="store_true", help="print the 25 costliest calls")
    args = p.parse_args(argv)

    from rag.config import Settings
    from rag.index.indexer import Indexer

    settings = Settings()
    encoder = settings.encoder()
    rng = np.random.default_rng(0)

    def stub(texts, *_, **__):
        v = rng.standard_normal((len(texts), encoder.dimension)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    # not benchmarks.million's StandIn: this file also runs against older trees (PYTHONPATH=…) for an A/B
    encoder.encode_documents = stub
    encoder.count_tokens("x")  # the tokenizer loaded before the clock starts
    with tempfile.TemporaryDirectory(prefix="driver-cost-") as out, \
            (cProfile.Profile() if args.profile else nullcontext()) as profile:
        started = time.perf_counter()
        report = Indexer(settings, encoder).run(args.corpus, Path(out))
        seconds = time.perf_counter() - started
    print(f"{seconds:.1f} s for {len(report.index.manifest.files)} documents, {report.embedded_chunks} chunks")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
