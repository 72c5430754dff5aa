"""Child process of ``virag bench``: index a folder (incrementally, like ``virag index``); prints one JSON line."""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    corpus, index_dir = map(Path, (argv or sys.argv[1:])[:2])
    from rag.config import Settings
    from rag.index.indexer import Indexer

    from .serve import peak_rss_mb

    settings = Settings()
    encoder = settings.encoder()
    encoder.warm_up()
    t = time.perf_counter()
    report = Indexer(settings, encoder).run(corpus, index_dir, show_progress=True)
    index_s = time.perf_counter() - t
    n = report.embedded_chunks
    if report.counts:  # documents were only added: the index was never read, and is not read here
        chunks, tokens, kind = report.counts[1], None, None
    else:
        chunks, kind = len(report.index.chunks), type(report.index.vectors).__name__
        tokens = sum(encoder.count_tokens(c.text) for c in report.index.chunks) if n else 0
    print(json.dumps({"chunks": chunks, "embedded": n, "index_s": index_s,
                      "passages_per_s": n / index_s if n else None,
                      "tokens_per_s": tokens / index_s if n and tokens else None,
                      "model_load_s": t - STARTED, "vector_index": kind, "summary": report.summary(),
                      "indexing_peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
