"""The Markdown tables of ``virag bench`` (from its JSON)."""

from __future__ import annotations


def _f(x, digits: int = 1) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}" if isinstance(x, (int, float)) else str(x)


def markdown(r: dict) -> str:
    lines = []
    m = r.get("machine", {})
    lines.append(f"Machine: {m.get('cpus')} CPUs, Python {m.get('python')}; load average at start "
                 f"{_f((m.get('load_at_start') or [None])[0], 2)}, at end {_f((m.get('load_at_end') or [None])[0], 2)}.")
    b = r.get("backends")
    if b:
        ratios = b.get("ratios_to_torch_float32", {})
        lines += ["", "### Backends (each in its own process; ratios to torch float32 in brackets)", "",
                  "| backend | encode 128 tok passages/s | encode 256 tok passages/s | reader per question p50 / mean ms "
                  "| warm ask, reader, p50 / p95 ms | cold `virag ask` s | torch loaded | load |", "|---|---|---|---|---|---|---|---|"]
        for spec, x in b["rows"].items():
            q = ratios.get(spec, {})
            lines.append(
                f"| {spec} | {_f(x['encode']['128']['passages_per_s'])} ({_f(q.get('encode_128'), 2)}×) "
                f"| {_f(x['encode']['256']['passages_per_s'])} ({_f(q.get('encode_256'), 2)}×) "
                f"| {_f(x['reader_ms']['p50'])} / {_f(x['mean_read_ms'])} ({_f(q.get('reader_mean'), 2)}×) "
                f"| {_f(x['ask_reader_ms']['p50'])} / {_f(x['ask_reader_ms']['p95'])} "
                f"| {_f(x['cold_ask']['median_s'], 2)} ({_f(q.get('cold_ask'), 2)}×) | {x.get('torch_loaded')} | {_f(x.get('load'), 2)} |")
    s = r.get("seeds")
    if s:
        lines += ["", f"Seeds: {s['chunks']} chunks indexed in {_f(s['index_s'])} s "
                  f"({_f(s['passages_per_s'])} passages/s, {_f(s['tokens_per_s'], 0)} tokens/s), "
                  f"peak RSS {_f(s['indexing_peak_rss_mb'], 0)} MB."]
    answerers = r.get("answerers") or {}
    if answerers:
        lines += ["", "### Warm ask on the seeds, by answerer (the seed dev questions, 3 rounds)", "",
                  "| answerer | retrieval p50 / p95 ms | ask p50 / p95 ms | serving peak RSS MB | load |", "|---|---|---|---|---|"]
        for name, x in answerers.items():
            lines.append(f"| {name} | {_f(x['retrieve_ms']['p50'])} / {_f(x['retrieve_ms']['p95'])} "
                         f"| {_f(x['ask_ms']['p50'])} / {_f(x['ask_ms']['p95'])} | {_f(x['serving_peak_rss_mb'], 0)} "
                         f"| {_f(x['load'], 2)} |")
    sizes = r.get("sizes") or {}
    if sizes:
        lines += ["", "### Vietnamese Wikipedia paragraphs (≥ 100 characters)", "",
                  "| paragraphs | vectors | chunks | vector index | index MB | indexing s | passages/s | tokens/s "
                  "| indexing peak RSS MB | add 1 doc s | cold start s | retrieval p50 / p95 ms | ask p50 / p95 ms "
                  "| serving peak RSS MB | flat / IVF search ms | IVF recall@10 | load |",
                  "|" + "---|" * 17]
        for n, x in sizes.items():
            vec = x.get("vectors")
            vec = "**synthetic vectors**" if vec == "synthetic" else vec
            indexing_s = x.get("index_s") if x.get("vectors") == "real" else None
            lines.append(
                f"| {int(n):,} | {vec} | {x.get('chunks'):,} | {x.get('vector_index')} | {_f(x.get('index_mb'), 0)} "
                f"| {_f(indexing_s)} | {_f(x.get('passages_per_s'))} | {_f(x.get('tokens_per_s'), 0)} "
                f"| {_f(x.get('indexing_peak_rss_mb'), 0)} | {_f(x.get('add_one_document_s'), 2)} "
                f"| {_f(x.get('cold_start_s'), 2)} | {_f(x['retrieve_ms']['p50'])} / {_f(x['retrieve_ms']['p95'])} "
                f"| {_f(x['ask_ms']['p50'])} / {_f(x['ask_ms']['p95'])} | {_f(x.get('serving_peak_rss_mb'), 0)} "
                f"| {_f(x.get('flat_search_ms'), 2)} / {_f(x.get('ivf_search_ms'), 2)} | {_f(x.get('ivf_recall@10'), 3)} "
                f"| {_f(x.get('load'), 2)} |")
        if any(x.get("vectors") == "synthetic" for x in sizes.values()):
            lines += ["", "Synthetic vectors: the real text of the paragraphs (BM25, chunks, documents) with the first "
                      "size's real vectors reused, perturbed (σ = 0.02) and re-normalised; no indexing time is "
                      "reported for them (`--real` embeds every size)."]
    st = r.get("stock")
    if st:
        o, k, q = st["ours"], st["stock"], st["ratios"]
        rounds = f", median of {o['rounds']} alternated runs each" if o.get("rounds", 1) > 1 else ""
        lines += ["", f"### virag vs the stock LangChain recipe (ViQuAD-dev, {o['n_questions']} questions{rounds})", "",
                  "| | chunks | indexing s | peak RSS MB | query p50 ms | doc_ndcg@10 |", "|---|---|---|---|---|---|",
                  f"| virag (`ask`) | {o['chunks']} | {_f(o['index_s'])} | {_f(o['peak_rss_mb'], 0)} | {_f(o['ask_ms']['p50'])} "
                  f"| {_f(o['doc_ndcg@10'], 3)} |",
                  f"| stock (`similarity_search`) | {k['chunks']} | {_f(k['index_s'])} | {_f(k['peak_rss_mb'], 0)} "
                  f"| {_f(k['query_ms']['p50'])} | {_f(k['doc_ndcg@10'], 3)} |",
                  f"| ratio ours / stock | | {_f(q['index_time'], 2)} | {_f(q['peak_rss'], 2)} "
                  f"| {_f(q['ask_p50_vs_similarity_search_p50'], 2)} | {_f(q['doc_ndcg@10'], 3)} |"]
        runs = st.get("runs") or {}
        if len(runs.get("ours", [])) > 1:
            every = sorted([("virag", r) for r in runs["ours"]] + [("stock", r) for r in runs["stock"]],
                           key=lambda x: x[1].get("seq", 0))
            lines += ["", "Each run, in order (indexing s, query p50 ms, load): " + "; ".join(
                f"{who} {_f(r['index_s'])} s, {_f((r.get('ask_ms') or r.get('query_ms'))['p50'])} ms, {_f(r.get('load'), 2)}"
                for who, r in every) + "."]
    return "\n".join(lines) + "\n"
