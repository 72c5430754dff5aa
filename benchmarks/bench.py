"""``virag bench``: indexing throughput, warm latency, cold start, memory and index size; JSON + Markdown.

Sizes above the real-embedding budget are built from the real text of the paragraphs with
*synthetic vectors* (the first size's real vectors, perturbed and re-normalised): FAISS and BM25
latency and memory do not depend on which vectors they hold. ``--real`` embeds every size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench_out" / "bench"
VIQUAD = ROOT.parent / "shared" / "bench" / "viquad_dev"


def log(msg: str, tag: str = "bench") -> None:
    print(f"[{tag} {time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}] {msg}", file=sys.stderr, flush=True)


def child(module: str, *args: str, log_to: Path | None = None) -> dict:
    """Run ``python -m module args`` and parse the JSON of its last stdout line; stderr (progress bars) to ``log_to``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
    with open(log_to or os.devnull, "w", encoding="utf-8") as err:
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=err if log_to else subprocess.PIPE, text=True)
    if proc.returncode:
        tail = Path(log_to).read_text(encoding="utf-8")[-2000:] if log_to else proc.stderr[-2000:]
        msg = f"{module} failed ({proc.returncode}): {tail}"
        raise RuntimeError(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def dir_mb(path: Path) -> float:
    """MB of a file, or of every file below a folder."""
    path = Path(path)
    return (path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())) / 1e6


# -- backends: torch float32, ONNX float32, ONNX int8 ---------------------------
BACKENDS = "torch:float32,onnx:float32,onnx:int8"
COLD_QUESTION = "Cụm thi đua số 2 gồm bao nhiêu tỉnh?"


def _virag(spec: str):
    """A runner of ``virag`` commands with ``spec``'s backend and precisions (encoder and reader)."""
    backend, precision = spec.split(":")
    virag = Path(sys.executable).with_name("virag")
    sets = ["--set", f"backend={backend}", "--set", f"precision={precision}", "--set", f"reader_precision={precision}"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return lambda *words: subprocess.run([str(virag), *words, *sets], env=env, capture_output=True, check=True)


def cold_ask(spec: str, repeats: int = 3) -> dict:
    """Wall seconds of ``virag ask`` in a fresh process on the seeds (index built, model files cached), median
    of ``repeats``: what a person scripting a few questions pays each time."""
    virag = _virag(spec)
    virag("index", str(ROOT / "seeds"))
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        virag("ask", COLD_QUESTION, "--corpus", str(ROOT / "seeds"))
        runs.append(time.perf_counter() - t)
    return {"median_s": sorted(runs)[len(runs) // 2], "runs_s": runs}


def backend_comparison(result: dict, out: Path, args: argparse.Namespace) -> None:
    """Each backend in its own process (encoding, the reader, warm ask), then cold ``virag ask``, into
    ``result["backends"]``, with ratios to torch float32."""
    if not (out / "idx-seeds").is_dir():
        real_index(ROOT / "seeds", out / "idx-seeds")
    rows: dict = {}
    for spec in args.backends.split(","):
        log(f"backend {spec}: model files")
        _virag(spec)("model", "build")  # built before the clock starts: a child that builds them measures torch
        log(f"backend {spec}: encoding, reader, warm ask")
        rows[spec] = child("benchmarks.backends", spec, str(out / "idx-seeds"), "--passages", str(args.embed_passages))
        log(f"backend {spec}: cold virag ask")
        rows[spec]["cold_ask"] = cold_ask(spec)
        rows[spec]["load"] = os.getloadavg()[0]
        result["backends"] = {"rows": rows}
        save_results(result, out)
    base = rows.get("torch:float32")
    if base:
        result["backends"]["ratios_to_torch_float32"] = {spec: {
            "encode_128": r["encode"]["128"]["passages_per_s"] / base["encode"]["128"]["passages_per_s"],
            "encode_256": r["encode"]["256"]["passages_per_s"] / base["encode"]["256"]["passages_per_s"],
            "reader_mean": r["mean_read_ms"] / base["mean_read_ms"],
            "reader_p50": r["reader_ms"]["p50"] / base["reader_ms"]["p50"],
            "cold_ask": r["cold_ask"]["median_s"] / base["cold_ask"]["median_s"]} for spec, r in rows.items()}
    save_results(result, out)


# -- indexes at each size ----------------------------------------------------
def real_index(corpus: Path, index_dir: Path, log_to: Path | None = None) -> dict:
    """Index ``corpus`` for real in a child process (peak RSS), reusing an up-to-date index."""
    return child("benchmarks.index_child", str(corpus), str(index_dir), log_to=log_to)


def synthetic_index(paragraphs: list[str], base_dir: Path, dest: Path, settings, corpus: Path, seed: int = 0) -> dict:
    """An index over ``paragraphs`` (one chunk each) whose vectors are ``base_dir``'s, perturbed and re-normalised.

    Each file of ``corpus`` (``viwiki.write_corpus``) is recorded as it is on disk (hash, size, mtime), so
    ``virag index`` on the corpus finds every file unchanged: adding one document is timed as for a real index.
    """
    import hashlib

    import numpy as np

    from rag.ingest.chunking import split_sentences
    from rag.types import Chunk
    from rag.index.folder import read_index, write_index
    from rag.index.format import Manifest
    from rag.index.memory import StoredIndex, dense_moments
    from rag.index.vectors import new_vector_index

    base = read_index(base_dir)
    real = base.all_vectors()
    rng = np.random.default_rng(seed)
    n = len(paragraphs)
    vecs = real[np.arange(n) % len(real)] + rng.normal(0, 0.02, size=(n, real.shape[1])).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    chunks, texts = [], {}
    for i, text in enumerate(paragraphs):
        source = f"p{i:06d}.txt"
        texts[source] = text
        chunks.append(Chunk(source=source, start=0, end=len(text), text=text,
                            sentences=tuple(split_sentences(text, 0, len(text)))))
    started = time.perf_counter()
    index = new_vector_index(vecs, vecs.shape[1], flat_max=settings.index.flat_max_vectors,
                             nprobe=settings.index.ivf_nprobe)
    vector_s = time.perf_counter() - started
    files = {}
    for source in texts:
        path = corpus / source
        st = path.stat()
        files[source] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "chunks": 1,
                         "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    manifest = Manifest(model=base.manifest.model, dimension=vecs.shape[1], chunker=base.manifest.chunker,
                        files=files)
    stored = StoredIndex(manifest, chunks, index, texts, dense_moments(vecs, vecs.shape[1]))
    t = time.perf_counter()
    shutil.rmtree(dest, ignore_errors=True)
    write_index(dest, stored)  # builds and saves the BM25 index too
    return {"chunks": n, "vectors": "synthetic", "vector_index_build_s": vector_s,
            "bm25_build_and_write_s": time.perf_counter() - t}


def recall_at_10(index_dir: Path, queries: np.ndarray, settings) -> dict:
    """recall@10 of the inverted-file index against exact search on the same vectors, and both latencies."""
    import numpy as np

    from rag.index.folder import read_index
    from rag.index.vectors import new_vector_index

    vecs = read_index(index_dir).all_vectors()
    flat = new_vector_index(vecs, vecs.shape[1])
    t = time.perf_counter()
    ivf = new_vector_index(vecs, vecs.shape[1], flat_max=0, nprobe=settings.index.ivf_nprobe)
    build_s = time.perf_counter() - t
    out = {"ivf_build_s": build_s}
    for name, ix in (("flat", flat), ("ivf", ivf)):
        t = time.perf_counter()
        for q in queries:
            ix.search(q[None, :], 50)
        out[f"{name}_search_ms"] = (time.perf_counter() - t) * 1000 / len(queries)
    _, exact = flat.search(queries, 10)
    _, approx = ivf.search(queries, 10)
    out["ivf_recall@10"] = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)]))
    return out


def make_queries(paragraphs: list[str], n: int, seed: int = 1) -> list[str]:
    """Queries of 6–12 words cut from random paragraphs (accented, as users type them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(len(paragraphs), size=n, replace=False):
        words = paragraphs[i].split()
        start = int(rng.integers(0, max(1, len(words) - 12)))
        out.append(" ".join(words[start : start + int(rng.integers(6, 13))]))
    return out


def add_one_document(corpus: Path, index_dir: Path, repeats: int = 3) -> dict:
    """Seconds ``virag index`` takes to add one new document to an existing index (median of ``repeats``
    runs in fresh processes, model loading excluded); the index and corpus are put back after each."""
    extra = corpus / "zz_bench_added.txt"
    backup = index_dir.with_name(index_dir.name + ".before-add")
    runs = []
    for _ in range(repeats):
        shutil.rmtree(backup, ignore_errors=True)
        shutil.copytree(index_dir, backup, copy_function=os.link)  # version files are never modified: links do
        extra.write_text("Tài liệu thêm vào để đo thời gian cập nhật chỉ mục. Hà Nội là thủ đô của Việt Nam.\n",
                         encoding="utf-8")
        try:
            runs.append(child("benchmarks.index_child", str(corpus), str(index_dir)))
        finally:
            extra.unlink()
            shutil.rmtree(index_dir)
            backup.rename(index_dir)
    times = sorted(r["index_s"] for r in runs)
    log(f"add one document: {', '.join(f'{t:.2f}' for t in times)} s ({runs[-1]['summary']})")
    return {"add_one_document_s": times[len(times) // 2], "add_one_document_runs_s": times,
            "add_one_embedded": runs[-1]["embedded"], "add_one_load": os.getloadavg()[0]}


def _median_run(runs: list[dict]) -> dict:
    """One run's record with the median of each timing over ``runs`` (the last run's other fields)."""
    import numpy as np

    out = dict(runs[-1])
    out["index_s"] = float(np.median([r["index_s"] for r in runs]))
    key = "ask_ms" if "ask_ms" in out else "query_ms"
    out[key] = {**out[key], "p50": float(np.median([r[key]["p50"] for r in runs])),
                "p95": float(np.median([r[key]["p95"] for r in runs]))}
    out["rounds"] = len(runs)
    return out


# -- the run -------------------------------------------------------------------
def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="virag bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,50000,135000",
                   help="paragraph counts of Vietnamese Wikipedia ('all' = every paragraph; default: %(default)s)")
    p.add_argument("--real", action="store_true", help="embed every size for real (default: the first size only)")
    p.add_argument("--queries", type=int, default=200, help="warm queries per size (default: %(default)s)")
    p.add_argument("--embed-passages", type=int, default=64, help="passages of 128 and 256 tokens for the throughput test")
    p.add_argument("--backends", default=BACKENDS, help="BACKEND:PRECISION list compared (default: %(default)s)")
    p.add_argument("--no-stock", action="store_true", help="skip the LangChain comparison")
    p.add_argument("--stock-rounds", type=int, default=2,
                   help="runs of each side of the LangChain comparison, alternated A B B A (default: %(default)s)")
    p.add_argument("--viquad-limit", type=int, help="ViQuAD-dev questions for doc_ndcg@10 (default: all)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: backends,seeds,answerers,sizes,stock")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    return p


def load_results(out: Path) -> dict:
    """This machine's figures, with the parts of ``out/bench.json`` that this run may skip."""
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_at_start": os.getloadavg()}, "sizes": {}}
    path = out / "bench.json"
    if path.is_file():  # parts skipped this time keep their previous figures
        result = {**json.loads(path.read_text(encoding="utf-8")), "machine": result["machine"]}
    return result


def save_results(result: dict, out: Path) -> None:
    """``bench.json`` and ``bench.md`` in ``out``."""
    from .report import markdown

    (out / "bench.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "bench.md").write_text(markdown(result), encoding="utf-8")


def index_seeds(out: Path) -> dict:
    """A fresh index of the seeds, timed."""
    log("indexing the seeds")
    shutil.rmtree(out / "idx-seeds", ignore_errors=True)  # a fresh build is what is timed
    return real_index(ROOT / "seeds", out / "idx-seeds")


def answerer_latency(result: dict, out: Path) -> None:
    """Warm ask on the seeds, per answerer (the reader's latency budget), into ``result["answerers"]``."""
    if not (out / "idx-seeds").is_dir():
        real_index(ROOT / "seeds", out / "idx-seeds")
    qfile = out / "queries-seeds.json"
    rows = [json.loads(line) for line in (ROOT / "evals" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    qfile.write_text(json.dumps([r["question"] for r in rows] * 3, ensure_ascii=False), encoding="utf-8")
    result["answerers"] = {}
    for name in ("combined", "sentences", "reader"):
        log(f"seeds: warm ask with answerer={name}")
        result["answerers"][name] = {**child("benchmarks.serve", str(out / "idx-seeds"), str(qfile),
                                             "--set", f"answerer={name}"), "load": os.getloadavg()[0]}
        save_results(result, out)


def real_size(n: int, corpus: Path, index_dir: Path, out: Path, earlier: dict | None) -> dict:
    """The row of a size embedded for real; an index reused as it was keeps the figures of the run
    that embedded it (``earlier``: this size's row in the previous results)."""
    log(f"{n} paragraphs: real embedding (progress in {out}/index-{n}.log)")
    row = {"vectors": "real", **real_index(corpus, index_dir, out / f"index-{n}.log")}
    if not row["embedded"]:  # reused: keep the figures of the run that embedded it
        earlier = earlier or {}
        saved = out / f"real-{n}.json"
        if not earlier.get("passages_per_s") and saved.is_file():
            earlier = json.loads(saved.read_text(encoding="utf-8"))
        keys = ("index_s", "passages_per_s", "tokens_per_s", "indexing_peak_rss_mb", "embedded")
        row.update({k: earlier[k] for k in keys if earlier.get(k) is not None})
        row["indexing_note"] = "figures of the run that embedded this index"
    return row


def size_figures(paragraphs: list[str], corpus: Path, index_dir: Path, out: Path, n_queries: int, settings) -> dict:
    """Adding one document, index size, the serving benchmark and HNSW recall of the index of ``paragraphs``."""
    n = len(paragraphs)
    row = add_one_document(corpus, index_dir)
    row["index_mb"] = dir_mb(index_dir)
    queries = make_queries(paragraphs, n_queries)
    qfile = out / f"queries-{n}.json"
    qfile.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    log(f"{n}: serving benchmark")
    row.update(child("benchmarks.serve", str(index_dir), str(qfile), "--started", str(time.time())))

    qv = settings.encoder().encode_query(queries[:100])
    row.update(recall_at_10(index_dir, qv, settings))
    row["load"] = os.getloadavg()[0]
    return row


def corpus_sizes(result: dict, out: Path, paragraphs: list[str], sizes: list[int], args: argparse.Namespace,
                 settings) -> None:
    """Each size of Vietnamese Wikipedia indexed (for real, or with synthetic vectors) and measured,
    into ``result["sizes"]``."""
    from . import viwiki

    first = None
    for n in sizes:
        corpus = viwiki.write_corpus(paragraphs[:n], viwiki.EXTRACTED / f"corpus-{n}")
        index_dir = out / f"idx-{n}"
        if args.real or first is None:
            row = real_size(n, corpus, index_dir, out, result["sizes"].get(str(n)))
            first = first or index_dir
        else:
            log(f"{n} paragraphs: synthetic vectors")
            row = synthetic_index(paragraphs[:n], first, index_dir, settings, corpus)
        row.update(size_figures(paragraphs[:n], corpus, index_dir, out, args.queries, settings))
        result["sizes"][str(n)] = row
        save_results(result, out)


def stock_comparison(args: argparse.Namespace, out: Path, settings) -> dict:
    """virag against the stock LangChain recipe on ViQuAD-dev, rounds alternated; the medians and their ratios."""
    from embeddings.builtin import builtin_model_dir

    qs, corpus = VIQUAD / "questions.jsonl", VIQUAD / "corpus"
    extra = ["--limit", str(args.viquad_limit)] if args.viquad_limit else []
    runs: dict[str, list[dict]] = {"ours": [], "stock": []}
    # A B B A …: on shared CPUs the load drifts; alternating cancels the drift out of the ratios
    order = [("ours", "stock") if i % 2 == 0 else ("stock", "ours") for i in range(args.stock_rounds)]
    for pair in order:
        for who in pair:
            log(f"ViQuAD-dev: {'virag' if who == 'ours' else 'stock LangChain recipe'}")
            if who == "ours":
                r = child("benchmarks.ours", str(corpus), str(qs), str(out / "idx-viquad"), *extra)
            else:
                r = child("benchmarks.stock", str(corpus), str(qs), str(builtin_model_dir(settings.home_dir)), *extra)
            runs[who].append({**r, "load": os.getloadavg()[0], "seq": len(runs["ours"]) + len(runs["stock"])})
    ours, stock = (_median_run(runs[who]) for who in ("ours", "stock"))
    return {"ours": ours, "stock": stock, "runs": runs, "ratios": {
        "index_time": ours["index_s"] / stock["index_s"],
        "peak_rss": ours["peak_rss_mb"] / stock["peak_rss_mb"],
        "ask_p50_vs_similarity_search_p50": ours["ask_ms"]["p50"] / stock["query_ms"]["p50"],
        "doc_ndcg@10": ours["doc_ndcg@10"] / stock["doc_ndcg@10"]}}


def run(args: argparse.Namespace) -> int:
    from rag.config import Settings

    from . import viwiki
    from .report import markdown

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    settings = Settings()
    paragraphs = viwiki.paragraphs(viwiki.extract())
    sizes = [len(paragraphs) if s.strip() == "all" else min(int(s), len(paragraphs)) for s in args.sizes.split(",")]
    result = load_results(out)
    if "seeds" not in skip:
        result["seeds"] = index_seeds(out)
        save_results(result, out)
    if "backends" not in skip and "embed" not in skip:
        backend_comparison(result, out, args)
    if "answerers" not in skip:
        answerer_latency(result, out)
    if "sizes" not in skip:
        corpus_sizes(result, out, paragraphs, sizes, args, settings)
    if "stock" not in skip and not args.no_stock:
        result["stock"] = stock_comparison(args, out, settings)
        save_results(result, out)
    result["machine"]["load_at_end"] = os.getloadavg()
    save_results(result, out)
    print(markdown(result))
    log(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
