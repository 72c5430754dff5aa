"""Child process of ``virag bench``: open an index cold, answer, then time warm queries; prints one JSON line.

    python -m benchmarks.serve INDEX_DIR QUERIES.json [--started EPOCH] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import time

STARTED = time.time()  # before the heavy imports: cold start counts them

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: on Linux that keeps the
    parent's peak across fork + exec, so a child started by a big parent would report the parent's."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "n": len(ms)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("index")
    p.add_argument("queries")
    p.add_argument("--started", type=float, help="epoch seconds when the parent launched this process")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args(argv)
    started = args.started or STARTED

    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings().with_overrides(args.set)
    queries = json.loads(open(args.queries, encoding="utf-8").read())
    t_open = time.perf_counter()
    qa = Assistant.from_index(args.index, settings=settings)
    open_s = time.perf_counter() - t_open
    qa.ask(queries[0])
    first_answer_s = time.time() - started
    for q in queries[1 : 1 + args.warmup]:
        qa.ask(q)
    retrieve, ask = [], []
    for q in queries:
        t = time.perf_counter()
        qa.retriever.run(q)
        retrieve.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        qa.ask(q)
        ask.append((time.perf_counter() - t) * 1000)
    from rag.vietnamese import has_diacritics

    out = {"cold_start_s": first_answer_s, "open_index_s": open_s, "retrieve_ms": percentiles(retrieve),
           "ask_ms": percentiles(ask), "serving_peak_rss_mb": peak_rss_mb(),
           "unaccented_queries": sum(not has_diacritics(q) for q in queries),
           "vector_index": type(qa.index.vectors).__name__}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
