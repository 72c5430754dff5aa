"""Child process of ``virag bench``: virag on the same folder and questions as ``benchmarks.stock``; one JSON line.

    python -m benchmarks.ours CORPUS QUESTIONS.jsonl INDEX_DIR [--k 10] [--limit N] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from .serve import peak_rss_mb, percentiles


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", type=Path)
    p.add_argument("questions", type=Path)
    p.add_argument("index", type=Path)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--limit", type=int)
    p.add_argument("--latency-n", type=int, default=200)
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args(argv)
    from evals.doc_ndcg import DocumentNDCGEvaluator
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings().with_overrides(args.set)
    shutil.rmtree(args.index, ignore_errors=True)  # a fresh build: indexing time is measured
    started = time.perf_counter()
    qa = Assistant.from_folder(args.corpus, settings=settings, index_dir=args.index)
    index_s = time.perf_counter() - started
    rows = [json.loads(line) for line in args.questions.open(encoding="utf-8") if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    retrieved, gold, lat = [], [], []
    for i, row in enumerate(rows):
        r = qa.retriever.run(row["question"], k=args.k)
        retrieved.append([x.chunk.source for x in r.passages])
        gold.append(row["docs"])
        if i < args.latency_n:
            t = time.perf_counter()
            qa.ask(row["question"])
            lat.append((time.perf_counter() - t) * 1000)
    ndcg = DocumentNDCGEvaluator(k=args.k).run(ground_truth_documents=gold, retrieved_documents=retrieved)["score"]
    print(json.dumps({"chunks": len(qa.index.chunks), "index_s": index_s, "ask_ms": percentiles(lat),
                      f"doc_ndcg@{args.k}": ndcg, "n_questions": len(rows),
                      "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
