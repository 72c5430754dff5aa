"""Scale benchmark (docs/scale.md): plain vs Ray indexing, and Milvus-lite vs FAISS at query time.

    python -m benchmarks.scale --n 3000 --query-n 20000          # writes bench_out/scale/scale.{json,md}

Indexing runs embed ``--n`` real Wikipedia paragraphs, each mode in a fresh child process, with peak
RSS sampled over the whole process tree (driver, Ray's daemons, workers). Query latency is measured
on ``--query-n`` paragraphs whose vectors are the indexed ones perturbed (``benchmarks.bench``'s
synthetic vectors): search latency depends on how many vectors there are, not on which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from benchmarks import bench
from benchmarks.serve import percentiles

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench_out" / "scale"
MODES = ("plain", "ray1", "ray2")


def log(msg: str) -> None:
    bench.log(msg, "scale")


# -- memory of a process tree -------------------------------------------------------
def _tree_rss() -> dict[int, tuple[int, str]]:
    """pid → (RSS bytes, command) of this process and all its descendants (Ray's daemons and workers)."""
    procs: dict[int, tuple[int, int, str]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            rss = int((d / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:80]
        except (OSError, IndexError, ValueError):
            continue
        procs[int(d.name)] = (ppid, rss, cmd)
    keep, frontier = {}, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        if pid in procs and pid not in keep:
            keep[pid] = procs[pid][1:]
            frontier += [p for p, (pp, _, _) in procs.items() if pp == pid]
    return keep


class PeakRSS(threading.Thread):
    """Samples the process tree every ``every`` seconds: peak total, driver and largest worker RSS."""

    def __init__(self, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.every, self.stop = every, threading.Event()
        self.total = self.driver = self.worker = 0

    def run(self) -> None:
        while not self.stop.is_set():
            tree = _tree_rss()
            self.total = max(self.total, sum(r for r, _ in tree.values()))
            self.driver = max(self.driver, tree.get(os.getpid(), (0, ""))[0])
            workers = [r for r, cmd in tree.values() if "_Worker" in cmd]
            self.worker = max([self.worker, *workers])
            self.stop.wait(self.every)

    def mb(self) -> dict:
        return {"peak_rss_tree_mb": self.total / 1e6, "peak_rss_driver_mb": self.driver / 1e6,
                "peak_rss_worker_mb": self.worker / 1e6 or None}


# -- one indexing run (child process) -------------------------------------------------
def index_child(corpus: Path, index_dir: Path, mode: str) -> dict:
    from rag.config import Settings
    from rag.index.distributed import RayIndexer
    from rag.index.indexer import Indexer

    label, (mode, _, backend) = mode, mode.partition("@")  # "plain@torch": the encoder's backend named
    settings = Settings().with_(backend=backend) if backend else Settings()
    shutil.rmtree(index_dir, ignore_errors=True)
    sampler = PeakRSS()
    sampler.start()
    times: list[float] = []
    load = os.getloadavg()
    started = time.perf_counter()
    if mode == "plain":
        encoder = settings.encoder()
        encoder.warm_up()
        ready = time.perf_counter() - started
        report = Indexer(settings, encoder).run(corpus, index_dir)
    else:
        workers = int(mode.removeprefix("ray"))
        indexer = RayIndexer(settings.with_(ray_workers=workers), settings.encoder(),
                             progress=lambda p: times.append(time.perf_counter()))
        report = indexer.run(corpus, index_dir)
        ready = indexer.timings["workers_ready"]
    total = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    n = report.embedded_chunks
    out = {"mode": label, "documents": len(report.index.manifest.files), "passages": n, "total_s": total,
           "passages_per_s": n / total, "ready_s": ready, "after_ready_passages_per_s": n / (total - ready),
           "skipped": len(report.skipped), "load_before": load,
           "load_after": os.getloadavg(), **sampler.mb()}
    if times:
        out["first_result_s"] = times[0] - started
    return out


# -- query latency: FAISS vs Milvus-lite ------------------------------------------
def _ms(seconds: list[float]) -> dict:
    return percentiles([t * 1000 for t in seconds])


def query_latency(base_index: Path, paragraphs: list[str], out: Path, n_queries: int = 100) -> dict:
    import numpy as np

    from rag.config import Settings
    from rag.index.milvus import build_vectors
    from rag.search.retriever import HybridRetriever
    from rag.index.folder import read_index, write_index
    from rag.index.memory import StoredIndex

    settings = Settings().with_(threads=1)  # 2 torch threads on 2 shared cores: 20 ms queries become 400 ms (contention)
    faiss_dir, milvus_dir = out / f"q-faiss-{len(paragraphs)}", out / f"q-milvus-{len(paragraphs)}"
    from benchmarks.viwiki import EXTRACTED, write_corpus

    corpus = write_corpus(paragraphs, EXTRACTED / f"corpus-{len(paragraphs)}")
    bench.synthetic_index(paragraphs, base_index, faiss_dir, settings, corpus)
    f_index = read_index(faiss_dir)
    shutil.rmtree(milvus_dir, ignore_errors=True)
    s_m = settings.with_(store="milvus")
    vectors = f_index.all_vectors()
    t = time.perf_counter()
    mv = build_vectors(s_m, milvus_dir, f_index.manifest, f_index.chunks, vectors, None)
    write_s = time.perf_counter() - t
    write_index(milvus_dir, StoredIndex(f_index.manifest, f_index.chunks, mv, f_index.texts, f_index.dense_stats,
                                        keywords=f_index.keywords))
    m_index = read_index(milvus_dir)
    encoder = settings.encoder()
    queries = bench.make_queries(paragraphs, n_queries)
    qvecs = encoder.encode_query(queries)
    rng = np.random.default_rng(0)
    result = {"vectors": len(vectors), "milvus_write_s": write_s, "milvus_write_per_s": len(vectors) / write_s,
              "faiss_vectors_mb": bench.dir_mb(f_index.path / "vectors.faiss"),
              "milvus_db_mb": bench.dir_mb(milvus_dir / "milvus.db"), "load_before": os.getloadavg()}
    retrieved = {}
    for name, index in (("faiss", f_index), ("milvus", m_index)):
        for q in qvecs[:5]:  # warm-up
            index.search(q[None, :], 50)
        search, fetch, full = [], [], []
        for q in qvecs:
            t = time.perf_counter()
            index.search(q[None, :], 50)
            search.append(time.perf_counter() - t)
            ids = rng.choice(len(vectors), size=100, replace=False).tolist()
            t = time.perf_counter()
            index.vectors_of(ids)
            fetch.append(time.perf_counter() - t)
        retriever = HybridRetriever(settings, encoder, index)
        for q in queries[:5]:  # warm-up (lazy BM25 and tokenizer state)
            retriever.run(q)
        tops = []
        for q in queries:
            t = time.perf_counter()
            r = retriever.run(q)
            full.append(time.perf_counter() - t)
            tops.append([p.chunk_id for p in r.passages])
        retrieved[name] = tops
        result[name] = {"dense_search_k50_ms": _ms(search), "vectors_of_100_ms": _ms(fetch),
                        "retrieve_ms": _ms(full)}
    result["same_top5"] = float(np.mean([a == b for a, b in zip(retrieved["faiss"], retrieved["milvus"])]))
    result["load_after"] = os.getloadavg()
    return result


# -- report ---------------------------------------------------------------------------
def markdown(data: dict) -> str:
    lines = [f"Machine: {os.cpu_count()} CPUs shared with other jobs; load averages (1, 5, 15 min) are per row.", "",
             f"### Indexing {data['n']} Vietnamese Wikipedia paragraphs (real embeddings)", "",
             "| mode | passages | total s | passages/s (end to end) | model(s) loaded at s | passages/s after that | "
             "peak RSS tree MB | driver MB | largest worker MB | load before → after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["indexing"]:
        worker = f"{r['peak_rss_worker_mb']:,.0f}" if r.get("peak_rss_worker_mb") else "—"
        lines.append(f"| {r['mode']} | {r['passages']:,} | {r['total_s']:.1f} | {r['passages_per_s']:.1f} | {r['ready_s']:.1f} | "
                     f"{r['after_ready_passages_per_s']:.1f} | "
                     f"{r['peak_rss_tree_mb']:,.0f} | {r['peak_rss_driver_mb']:,.0f} | {worker} | "
                     f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f} |")
    q = data.get("query")
    if q:
        lines += ["", f"### Query latency at {q['vectors']:,} vectors (synthetic: the indexed vectors perturbed)", "",
                  "| store | dense search k=50 p50 / p95 ms | 100 vectors by id p50 / p95 ms | "
                  "hybrid retrieve p50 / p95 ms |", "|---|---|---|---|"]
        for name in ("faiss", "milvus"):
            r = q[name]
            lines.append(f"| {name} | {r['dense_search_k50_ms']['p50']:.2f} / {r['dense_search_k50_ms']['p95']:.2f} | "
                         f"{r['vectors_of_100_ms']['p50']:.2f} / {r['vectors_of_100_ms']['p95']:.2f} | "
                         f"{r['retrieve_ms']['p50']:.1f} / {r['retrieve_ms']['p95']:.1f} |")
        lines += ["", f"Same top-5 passages (FAISS vs Milvus): {q['same_top5']:.0%}. Milvus-lite write: "
                  f"{q['milvus_write_per_s']:,.0f} vectors/s. On disk: vectors.faiss {q['faiss_vectors_mb']:.1f} MB, "
                  f"milvus.db {q['milvus_db_mb']:.1f} MB. Load {q['load_before'][0]:.2f} → {q['load_after'][0]:.2f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3000, help="paragraphs embedded per indexing run (default: %(default)s)")
    p.add_argument("--query-n", type=int, default=20000, help="vectors for the query latency (default: %(default)s)")
    p.add_argument("--modes", default=",".join(MODES), help="indexing runs (default: %(default)s)")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: bench_out/scale)")
    p.add_argument("--child", nargs=3, metavar=("CORPUS", "INDEX", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.child:
        corpus, index_dir, mode = args.child
        print(json.dumps(index_child(Path(corpus), Path(index_dir), mode)))
        return 0
    from benchmarks.viwiki import EXTRACTED, extract, paragraphs, write_corpus

    args.out.mkdir(parents=True, exist_ok=True)
    paras = paragraphs(extract(), limit=max(args.n, args.query_n))
    corpus = write_corpus(paras[: args.n], EXTRACTED / f"corpus-{args.n}")
    data = {"n": args.n, "indexing": []}
    for mode in filter(None, args.modes.split(",")):
        log(f"indexing {args.n} paragraphs: {mode}")
        row = bench.child("benchmarks.scale", "--child", str(corpus), str(args.out / f"idx-{mode}-{args.n}"), mode)
        log(json.dumps(row))
        data["indexing"].append(row)
        (args.out / "scale.json").write_text(json.dumps(data, indent=1))
    if args.query_n:
        log(f"query latency at {args.query_n} vectors")
        base = args.out / f"idx-{(args.modes or 'plain').split(',')[0]}-{args.n}"
        data["query"] = query_latency(base, paras[: args.query_n], args.out)
        log(json.dumps(data["query"]))
    (args.out / "scale.json").write_text(json.dumps(data, indent=1))
    (args.out / "scale.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
