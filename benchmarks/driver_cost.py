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
import shutil
import sys
import tempfile
import time
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

    encoder.encode_documents = stub
    encoder.count_tokens("x")  # the tokenizer loaded before the clock starts
    out = Path(tempfile.mkdtemp(prefix="driver-cost-"))
    profile = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profile:
        profile.enable()
    report = Indexer(settings, encoder).run(args.corpus, out)
    if profile:
        profile.disable()
    print(f"{time.perf_counter() - started:.1f} s for {len(report.index.manifest.files)} documents, "
          f"{report.embedded_chunks} chunks")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
