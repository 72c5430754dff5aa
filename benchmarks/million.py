"""A million passages on this machine (docs/scale.md): the streaming indexer's memory and time, a serving
process's memory and latency, IVF recall, adding one document, at each size.

    python -m benchmarks.million --sizes 100000,1000000        # writes bench_out/million/million.{json,md}

The corpus is Vietnamese Wikipedia's articles (``../shared/bench/viwiki.tar.xz``), repeated in
folders ``r1/``, ``r2/`` … with a marker line ("Bản 2.") until it holds enough passages, plus
ViQuAD dev's 515 passages (``viquad/``) for the quality check. Indexing is ``virag index``'s own
path (:class:`rag.index.indexer.Indexer`: scan, read, chunk, stream to disk) with one stand-in:
embedding 1M passages for real takes 7–14 hours here, so each chunk gets one of ``--base``'s real
Wikipedia vectors, perturbed (σ 0.02) and re-normalised; ViQuAD's passages get their real vectors,
so its questions, asked with the real model, measure retrieval among a million distractors.
Each step runs in a fresh process; peak RSS is sampled over the process every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import bench
from benchmarks.scale import PeakRSS
from benchmarks.serve import percentiles

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench_out" / "million"
VIQUAD = ROOT.parent / "shared" / "bench" / "viquad_dev"
MIN_CHARS = 100
CHUNKS_PER_PARAGRAPH = 0.7  # measured on 300 articles with the default chunker (256 tokens)


def log(msg: str) -> None:
    bench.log(msg, "million")


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _rss_parts_mb() -> dict:
    """Resident memory by kind: anonymous (the process's own) and file-backed (memory-mapped index files,
    page cache the kernel can drop)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1e3
    return out


# -- the corpus -------------------------------------------------------------------
def _paragraphs(text: str) -> list[str]:
    return [p for p in (" ".join(line.split()) for line in text.splitlines()) if len(p) >= MIN_CHARS]


def write_corpus(passages: int, dest: Path) -> Path:
    """Articles, repeated with a marker, until they make about ``passages`` chunks; and ViQuAD dev's passages."""
    from benchmarks.viwiki import extract

    marker = dest / ".complete"
    if marker.is_file() and marker.read_text() == str(passages):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    articles = sorted(extract().rglob("*.txt"))
    shutil.copytree(VIQUAD / "corpus", dest / "viquad")
    count, r = 0, 0
    while count < passages:
        folder = dest / f"r{r}"
        folder.mkdir(parents=True)
        for path in articles:
            text = path.read_text(encoding="utf-8", errors="replace")
            n = len(_paragraphs(text))
            if n == 0:
                continue
            (folder / path.name).write_text((f"Bản {r + 1}.\n" if r else "") + text, encoding="utf-8")
            count += n * CHUNKS_PER_PARAGRAPH
            if count >= passages:
                break
        r += 1
    marker.write_text(str(passages))
    return dest


# -- the stand-in encoder -----------------------------------------------------------
class StandIn:
    """The real encoder (tokenizer, fingerprint, queries), but documents get real Wikipedia vectors,
    perturbed, in the order they are embedded; texts starting as a ViQuAD passage get their real vector."""

    def __init__(self, real, base: np.ndarray, keep: set[str]) -> None:
        self.real, self.base, self.keep = real, base, keep
        self.done = 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def encode_documents(self, texts: list[str], **kw) -> np.ndarray:
        out = np.empty((len(texts), self.base.shape[1]), dtype=np.float32)
        real = [i for i, t in enumerate(texts) if t[:60] in self.keep]
        if real:
            out[real] = self.real.encode_documents([texts[i] for i in real])
        other = np.setdiff1d(np.arange(len(texts)), real)
        rng = np.random.default_rng(self.done)
        v = self.base[(self.done + np.arange(len(other))) % len(self.base)]
        v = v + rng.normal(0, 0.02, size=v.shape).astype(np.float32)
        out[other] = v / np.linalg.norm(v, axis=1, keepdims=True)
        self.done += len(texts)
        return out


def _viquad_starts() -> set[str]:
    return {" ".join(p.read_text(encoding="utf-8").split())[:60] for p in (VIQUAD / "corpus").glob("*.txt")}


# -- the steps (each in a child process) ------------------------------------------------
def build(corpus: Path, index_dir: Path, base: Path) -> dict:
    from rag.config import Settings
    from rag.index.indexer import Indexer

    settings = Settings()
    shutil.rmtree(index_dir, ignore_errors=True)
    sampler = PeakRSS(every=0.2)
    sampler.start()
    encoder = StandIn(settings.encoder(), np.load(base), _viquad_starts())
    started = time.perf_counter()
    report = Indexer(settings, encoder).run(corpus, index_dir)
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    documents, passages = report.totals()
    return {"documents": documents, "passages": passages, "index_s": seconds, "passages_per_s": passages / seconds,
            "skipped": len(report.skipped), "driver_peak_rss_mb": sampler.driver / 1e6,
            "index_mb": bench.dir_mb(index_dir), "load": os.getloadavg()}


def _timed_questions(retriever, corpus: Path, n: int) -> tuple[list[str], list[float]]:
    """``n`` questions cut from the corpus's first copy, and the seconds each took (after 5 to warm up)."""
    texts = [p for path in sorted((corpus / "r0").glob("*.txt"))[:2000]
             for p in _paragraphs(path.read_text(encoding="utf-8"))]
    queries = bench.make_queries(texts, n)
    for q in queries[:5]:
        retriever.run(q)
    times = []
    for q in queries:
        t = time.perf_counter()
        retriever.run(q)
        times.append(time.perf_counter() - t)
    return queries, times


def serve(index_dir: Path, corpus: Path, n_queries: int) -> dict:
    from rag.config import Settings
    from rag.index.folder import read_index
    from rag.search.retriever import HybridRetriever
    from rag.vietnamese import fold

    settings = Settings().with_(threads=1)
    encoder = settings.encoder()
    encoder.warm_up()
    before = _rss_mb()
    started = time.perf_counter()
    index = read_index(index_dir)
    open_s = time.perf_counter() - started
    opened = _rss_mb()
    retriever = HybridRetriever(settings.retrieval, encoder, index)
    queries, times = _timed_questions(retriever, corpus, n_queries)
    stages = {"dense": [], "bm25": []}
    unaccented = []  # typed without diacritics: restored from the index's own counts first
    for q in queries:
        t = time.perf_counter()
        retriever.run(fold(q))
        unaccented.append(time.perf_counter() - t)
    qvecs = encoder.encode_query(queries)
    for q in qvecs:
        t = time.perf_counter()
        index.search(q[None, :], settings.retrieval.candidates)
        stages["dense"].append(time.perf_counter() - t)
    for q in queries:
        t = time.perf_counter()
        retriever.keywords.scores(retriever.analyse(q))
        stages["bm25"].append(time.perf_counter() - t)
    ms = {k: percentiles([t * 1000 for t in v])
          for k, v in (("retrieve", times), ("retrieve_unaccented", unaccented), *stages.items())}
    return {"open_s": open_s, "model_rss_mb": before, "rss_after_open_mb": opened, "rss_after_queries_mb": _rss_mb(),
            "peak_rss_mb": _peak_mb(), "rss_parts_mb": _rss_parts_mb(), "queries": n_queries, "ms": ms, "load": os.getloadavg(),
            "vectors": type(index.vectors).__name__, "lists": getattr(index.vectors, "index", None) and int(index.vectors.index.nlist)}


def quality(index_dir: Path, n_queries: int) -> dict:
    """IVF against exact search, on ViQuAD dev's questions: recall@10 of the dense top 10, and doc nDCG@10
    and top-10 passages through the whole retriever, with the IVF and with an exact flat index."""
    from evals.doc_ndcg import DocumentNDCGEvaluator
    from rag.config import Settings
    from rag.index.folder import read_index
    from rag.index.vectors import FaissVectors, new_vector_index
    from rag.search.retriever import HybridRetriever

    settings = Settings().with_(threads=1)
    encoder = settings.encoder()
    index = read_index(index_dir)
    ivf = index.vectors
    questions = [json.loads(line) for line in (VIQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    qvecs = encoder.encode_query([q["question"] for q in questions])
    exact = FaissVectors([new_vector_index(ivf.raw, ivf.d)])  # read a block at a time
    approx_scores, approx_ids = ivf.search(qvecs, 10)
    exact_scores, exact_ids = exact.search(qvecs, 10)
    # ann-benchmarks' recall: a neighbour found counts when it scores at least the 10th exact score. The
    # stand-in corpus repeats ViQuAD's passages with their real vectors, so the exact top 10 holds ties that
    # the ids alone would count as misses.
    recall = float(np.mean(np.minimum((approx_scores >= exact_scores[:, 9:10] - 1e-6).sum(axis=1), 10) / 10))
    id_overlap = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx_ids, exact_ids)]))
    gold = [[f"viquad/{d}" for d in q["docs"]] for q in questions]
    out = {"dense_recall@10_vs_exact": recall, "dense_id_overlap@10": id_overlap, "recall_queries": len(questions),
           "lists": int(ivf.index.nlist), "nprobe": ivf.nprobe}
    tops = {}
    for name, vectors in (("ivf", ivf), ("exact", exact)):
        index.vectors = vectors
        retriever = HybridRetriever(settings.retrieval, encoder, index)
        runs = [retriever.run(q["question"], k=10) for q in questions]
        tops[name] = [[p.chunk_id for p in r.passages] for r in runs]
        retrieved = [[p.chunk.source for p in r.passages] for r in runs]
        out[f"viquad_doc_ndcg@10_{name}"] = DocumentNDCGEvaluator(k=10).run(
            ground_truth_documents=gold, retrieved_documents=retrieved)["score"]
    out["viquad_same_top10"] = float(np.mean([a == b for a, b in zip(tops["ivf"], tops["exact"])]))
    out["viquad_questions"] = len(questions)
    return out


def milvus(index_dir: Path, corpus: Path, uri: str, n_queries: int) -> dict:
    """The index's vectors written to Milvus (``uri`` "lite": milvus-lite's ``milvus.db`` beside the index, run
    inside this process; else a server's URI), its index built, then hybrid retrieval with them: p50/p95, and
    this process's memory. A collection already holding them (an earlier run) is reused."""
    from rag.config import Settings
    from rag.index.folder import read_index
    from rag.index.milvus import MilvusVectors, build_vectors, chunk_keys, client, collection_name, wait_for_index
    from rag.search.retriever import HybridRetriever

    db = index_dir.parent / f"milvus-{index_dir.name}"
    uri = str(db / "milvus.db") if uri == "lite" else uri
    settings = Settings().with_(threads=1, store="milvus", milvus_uri=uri)
    encoder = settings.encoder()
    encoder.warm_up()
    index = read_index(index_dir)
    started = time.perf_counter()
    c, name = client(uri), collection_name(settings, db, index.manifest.dimension)
    if c.has_collection(name):  # written by an earlier run: only wait for its index
        c.load_collection(name)
        wait_for_index(c, name)
        index.vectors = MilvusVectors(c, uri, uri, name, chunk_keys(index.manifest, index.chunks),
                                      index.manifest.dimension, ef_search=settings.index.hnsw_ef_search,
                                      written_at=time.time())
        write_s = None
    else:
        index.vectors = build_vectors(settings, db, index.manifest, index.chunks, index.vectors.raw, None)
        write_s = time.perf_counter() - started
    ready_s = time.perf_counter() - started
    retriever = HybridRetriever(settings.retrieval, encoder, index)
    queries, times = _timed_questions(retriever, corpus, n_queries)
    qvecs = encoder.encode_query(queries)
    dense, read_back = [], []
    for q in qvecs:
        t = time.perf_counter()
        ids = index.search(q[None, :], settings.retrieval.candidates)[1][0]
        dense.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.vectors_of(ids[ids >= 0].tolist())  # the candidates' exact vectors, as the retriever reads them
        read_back.append(time.perf_counter() - t)
    return {"uri": uri, "write_s": write_s, "vectors_per_s": write_s and len(index.chunks) / write_s,
            "ready_s": ready_s, "index": c.describe_index(name, "vector"),
            "ms": {"retrieve": percentiles([t * 1000 for t in times]), "dense": percentiles([t * 1000 for t in dense]),
                   "read_back": percentiles([t * 1000 for t in read_back])},
            "rss_mb": _rss_mb(), "peak_rss_mb": _peak_mb(), "milvus_db_mb": bench.dir_mb(db) if db.exists() else None,
            "load": os.getloadavg()}


class MilvusServer:
    """The embedded Milvus Lite 2.3 server (``pip install milvus``: C++ Milvus standalone in a child process),
    its data in ``folder``; :meth:`rss_mb` is that process's resident memory."""

    def __init__(self, folder: Path) -> None:
        from milvus import default_server

        self.server = default_server
        self.server.set_base_dir(str(folder))

    def __enter__(self) -> str:
        self.server.start()
        return f"http://127.0.0.1:{self.server.listen_port}"

    def __exit__(self, *exc) -> None:
        self.server.stop()

    def rss_mb(self) -> dict:
        status = Path(f"/proc/{self.server.server_proc.pid}/status").read_text()
        parts = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {k: int(parts[k].split()[0]) / 1e3 for k in ("VmRSS", "VmHWM")}


def add_one(corpus: Path, index_dir: Path) -> dict:
    return bench.add_one_document(corpus, index_dir, repeats=3)


# -- the run ----------------------------------------------------------------------
def markdown(rows: list[dict]) -> str:
    lines = ["| passages | documents | index s | passages/s | driver peak RSS MB | index on disk MB | open s | "
             "serving RSS MB (open + 100 queries) | hybrid retrieve p50 / p95 ms | dense / BM25 p95 ms | "
             "dense recall@10 vs exact | ViQuAD nDCG@10 IVF / exact | same top 10 | add one document s |",
             "|" + "---|" * 14]
    for r in rows:
        b, s, q = r["build"], r.get("serve", {}), r.get("quality", {})
        ms = s.get("ms", {})
        lines.append(
            f"| {b['passages']:,} | {b['documents']:,} | {b['index_s']:.0f} | {b['passages_per_s']:.0f} | "
            f"{b['driver_peak_rss_mb']:,.0f} | {b['index_mb']:,.0f} | {s.get('open_s', 0):.2f} | "
            f"{s.get('peak_rss_mb', 0):,.0f} | {ms.get('retrieve', {}).get('p50', 0):.1f} / "
            f"{ms.get('retrieve', {}).get('p95', 0):.1f} | {ms.get('dense', {}).get('p95', 0):.1f} / "
            f"{ms.get('bm25', {}).get('p95', 0):.1f} | {q.get('dense_recall@10_vs_exact', 0):.3f} | "
            f"{q.get('viquad_doc_ndcg@10_ivf', 0):.4f} / {q.get('viquad_doc_ndcg@10_exact', 0):.4f} | "
            f"{q.get('viquad_same_top10', 0):.0%} | {r.get('add', {}).get('add_one_document_s', 0):.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.million", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000", help="passages (default: %(default)s)")
    p.add_argument("--base", type=Path, default=OUT / "base-vectors.npy",
                   help="real passage vectors the stand-in perturbs (.npy; default: %(default)s)")
    p.add_argument("--queries", type=int, default=100, help="timed questions (default: %(default)s)")
    p.add_argument("--steps", default="build,serve,quality,add", help="(default: %(default)s)")
    p.add_argument("--milvus", default="lite", help='the milvus step\'s store: "lite" (milvus-lite in the process), '
                   '"server" (the embedded Milvus Lite 2.3 server, started here) or a server URI (default: %(default)s)')
    p.add_argument("-o", "--out", type=Path, default=OUT)
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        step, *rest = args.child
        fn = {"build": build, "serve": serve, "quality": quality, "milvus": milvus}[step]
        paths = [Path(x) for x in rest[:-1]] if step != "build" else [Path(x) for x in rest]
        extra = [] if step == "build" else [int(rest[-1])]
        if step == "milvus":  # index, corpus, uri (not a path: "http://" would lose a slash), queries
            paths, extra = paths[:2], [rest[2], *extra]
        print(json.dumps(fn(*paths, *extra)))
        return 0
    if not args.base.is_file():
        log(f"no base vectors at {args.base}: run `python -m benchmarks.scale --n 20000 --query-n 0 --modes plain` "
            "and save its index's vectors there")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "million.json"
    rows = json.loads(results_path.read_text()) if results_path.is_file() else []
    steps = args.steps.split(",")
    for n in map(int, args.sizes.split(",")):
        corpus = write_corpus(n, args.out / f"corpus-{n}")
        index_dir = args.out / f"index-{n}"
        row = next((r for r in rows if r["size"] == n), None) or {"size": n}
        if row not in rows:
            rows.append(row)
        for step in steps:
            key = "milvus-server" if step == "milvus" and args.milvus == "server" else step  # the row's entry
            log(f"{n:,} passages: {step}")
            if step == "build":
                row["build"] = bench.child("benchmarks.million", "--child", "build", str(corpus), str(index_dir),
                                           str(args.base))
            elif step == "serve":
                row["serve"] = bench.child("benchmarks.million", "--child", "serve", str(index_dir), str(corpus),
                                           str(args.queries))
            elif step == "quality":
                row["quality"] = bench.child("benchmarks.million", "--child", "quality", str(index_dir),
                                             str(args.queries))
            elif key == "milvus-server":
                server = MilvusServer(args.out / f"milvus-server-{n}")
                with server as uri:
                    found = bench.child("benchmarks.million", "--child", "milvus", str(index_dir), str(corpus), uri,
                                        str(args.queries))
                    row[key] = {**found, "server_rss_mb": server.rss_mb()}
            elif step == "milvus":
                row["milvus"] = bench.child("benchmarks.million", "--child", "milvus", str(index_dir), str(corpus),
                                            args.milvus, str(args.queries))
            elif step == "add":
                row["add"] = add_one(corpus, index_dir)
            log(json.dumps(row[key]))
            results_path.write_text(json.dumps(rows, indent=1))
    (args.out / "million.md").write_text(markdown([r for r in rows if "build" in r]))
    print(markdown([r for r in rows if "build" in r]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
