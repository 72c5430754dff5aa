"""Child process of ``virag bench``: the stock LangChain recipe on a folder of .txt files; prints one JSON line.

RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings (the same local model folder, its
prompts) + langchain_community FAISS + ``similarity_search``. Benchmark only: never used by virag.

    python -m benchmarks.stock CORPUS QUESTIONS.jsonl MODEL_DIR [--k 10] [--limit N] [--latency-n 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from .serve import peak_rss_mb, percentiles


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", type=Path)
    p.add_argument("questions", type=Path)
    p.add_argument("model_dir")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--limit", type=int)
    p.add_argument("--latency-n", type=int, default=200)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*sunset.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from evals.doc_ndcg import DocumentNDCGEvaluator

    started = time.perf_counter()
    docs = [Document(page_content=f.read_text(encoding="utf-8"), metadata={"source": f.name})
            for f in sorted(args.corpus.glob("*.txt"))]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    emb = HuggingFaceEmbeddings(model_name=args.model_dir, model_kwargs={"device": "cpu"},
                                encode_kwargs={"normalize_embeddings": True, "prompt": "passage: "},
                                query_encode_kwargs={"normalize_embeddings": True, "prompt": "query: "})
    store = FAISS.from_documents(splits, emb)
    index_s = time.perf_counter() - started
    rows = [json.loads(line) for line in args.questions.open(encoding="utf-8") if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    retrieved, gold, lat = [], [], []
    for i, row in enumerate(rows):
        t = time.perf_counter()
        hits = store.similarity_search(row["question"], k=args.k)
        if i < args.latency_n:
            lat.append((time.perf_counter() - t) * 1000)
        retrieved.append([h.metadata["source"] for h in hits])
        gold.append(row["docs"])
    ndcg = DocumentNDCGEvaluator(k=args.k).run(ground_truth_documents=gold, retrieved_documents=retrieved)["score"]
    print(json.dumps({"chunks": len(splits), "index_s": index_s, "query_ms": percentiles(lat),
                      f"doc_ndcg@{args.k}": ndcg, "n_questions": len(rows),
                      "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
