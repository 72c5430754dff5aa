"""Child process of ``virag bench``: one backend (``torch:float32``, ``onnx:float32``, ``onnx:int8``) measured in
one process; prints one JSON line.

    python -m benchmarks.backends BACKEND:PRECISION INDEX_DIR [--passages N]

Encoding throughput (passages of exactly 128 and 256 tokens, median of 3 runs), the reader per question
(the five passages retrieved for each seed dev question, read as ``answerer=reader`` reads them), and warm
``ask`` with the reader on the seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def settings_for(spec: str):
    from rag.config import Settings

    backend, precision = spec.split(":")
    return Settings().with_(backend=backend, precision=precision, reader_precision=precision)


def passages_of_tokens(encoder, paragraphs: list[str], tokens: int, n: int) -> list[str]:
    """``n`` passages of ``tokens`` tokens (prompt excluded), cut from consecutive paragraphs."""
    tok = encoder.model.tokenizer  # untruncated
    ids: list[int] = []
    for p in paragraphs:
        ids += tok.encode(p, add_special_tokens=False).ids
        if len(ids) >= tokens * n:
            break
    return [tok.decode(ids[i * tokens : (i + 1) * tokens]) for i in range(n)]


def median_time(fn, repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return sorted(runs)[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from benchmarks import viwiki
    from benchmarks.serve import peak_rss_mb, percentiles

    p = argparse.ArgumentParser()
    p.add_argument("backend", help="BACKEND:PRECISION")
    p.add_argument("index")
    p.add_argument("--passages", type=int, default=64)
    args = p.parse_args(argv)
    settings = settings_for(args.backend)
    encoder = settings.encoder()
    encoder.warm_up()
    out: dict = {"backend": args.backend, "encode": {}}
    paragraphs = viwiki.paragraphs(viwiki.extract())
    for tokens in (128, 256):
        texts = passages_of_tokens(encoder, paragraphs, tokens, args.passages)
        encoder.encode_documents(texts[:8])
        s = median_time(lambda: encoder.encode_documents(texts))  # noqa: B023 - called at once
        out["encode"][str(tokens)] = {"passages_per_s": args.passages / s}

    from rag.assistant import Assistant

    qa = Assistant.from_index(args.index, settings=settings.with_(answerer="reader"), encoder=encoder)
    rows = [json.loads(line) for line in (ROOT / "evals" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    questions = [r["question"] for r in rows]
    answerer = qa.answerer_named("reader")
    read = []
    passages = {q: [r.chunk.text for r in qa.retriever.run(q).passages[: settings.reader.reader_passages]] for q in questions}
    for q in questions[:3]:
        answerer.reader.read(q, passages[q])
    for _ in range(2):
        for q in questions:
            t = time.perf_counter()
            answerer.reader.read(q, passages[q])
            read.append((time.perf_counter() - t) * 1000)
    out["reader_ms"] = percentiles(read)
    for q in questions[:5]:
        qa.ask(q)
    ask = []
    for _ in range(3):
        for q in questions:
            t = time.perf_counter()
            qa.ask(q)
            ask.append((time.perf_counter() - t) * 1000)
    out["ask_reader_ms"] = percentiles(ask)
    out["peak_rss_mb"] = peak_rss_mb()
    out["torch_loaded"] = "torch" in sys.modules
    out["mean_read_ms"] = float(np.mean(read))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
