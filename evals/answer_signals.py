"""What both answerers say about each question of a training fold, for fitting the decision between them
(issue 28): one JSON line per question and condition (asked normally, and with its gold paragraph removed).

Both answerers are forced to answer (no threshold), so a line holds what each would say, how sure it is
and whether it would be right; the decision and its thresholds are fitted on these lines alone::

    .venv/bin/python -m evals.viquad_folds
    .venv/bin/python -m evals.answer_signals bench_out/viquad_folds/fold0.json.xz \\
        --reader-weights runs/reader_without0/reader.safetensors -o bench_out/viquad_folds/signals0.jsonl

The corpus is the fold's own paragraphs (``bench_out/viquad_folds/corpus-<name>``), so retrieval is
as realistic as on a user's folder of related articles. Resumable: questions already in the output
are skipped.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _overlaps(span, citations) -> bool:
    return any(c.source == span.source and c.start < span.end and span.start < c.end for c in citations)


def line_for(question, qa, proposer, k: int, gold_removed: bool) -> dict:
    """One line: the decision's signals (:func:`rag.answer.decision.signals`) for one retrieval, what each
    answerer said, and whether each would be right (asked without its gold paragraph, answering is wrong)."""
    from rag.answer.decision import signals

    from .runner import judge, without_gold

    q = without_gold(question) if gold_removed else question
    query = qa.analyse(question.question)
    retrieval = qa.retriever.run(query, k, question.docs if gold_removed else ())
    reader, sentences = proposer.propose(retrieval)
    r, s = judge(q, reader, 0.0, qa.index.texts), judge(q, sentences, 0.0, qa.index.texts)
    short = reader.short_answer
    held = held_quote(sentences, reader)
    h = judge(q, held, 0.0, qa.index.texts) if held is not None else None
    return {
        "id": question.id, "article": _article(question), "gold_removed": gold_removed, "kind": query.kind,
        "signals": {k: round(v, 5) for k, v in signals(retrieval, reader, sentences).items()},
        "reader": {"correct": r.correct, "chars": len(reader.text), "text": short.text if short else None,
                   "cited_ok": [c.supported for c in r.citations]},
        "sentences": {"correct": s.correct, "chars": len(sentences.text),
                      "cited_ok": [c.supported for c in s.citations]},
        # the scorer's answer cut to the one quote that holds the reader's span (None: no such cut)
        "held": None if h is None else {"correct": h.correct, "chars": len(held.text),
                                        "cited_ok": [c.supported for c in h.citations]},
        "raw": raw_signals(retrieval, proposer),
    }


def raw_signals(retrieval, proposer) -> dict:
    """More than the decision reads today, for trying other signals on the folds without another run: the
    reader's margin on every passage it reads (read again, all of them), the sentence scorer's three best
    sentence scores, and the first passages' fused and dense scores and lexical ranks."""
    import numpy as np

    from rag.answer.evidence import WEIGHTS

    reader = proposer.reader
    read = reader.read(retrieval.query, retrieval.readable(reader.options.reader_passages))
    _, matrix = proposer.sentences.candidates(retrieval)
    scores = np.sort(matrix @ WEIGHTS)[::-1][:3] if len(matrix) else np.zeros(0)
    top = retrieval.passages[:5]
    return {"reader": [[p.rank, round(m, 4), b - a] for p, m, a, b in read],
            "sentence_scores": [round(float(v), 4) for v in scores],
            "fused": [round(p.score, 5) for p in top], "dense": [round(p.dense_score or 0.0, 5) for p in top],
            "keyword_rank": [p.keyword_rank for p in top]}


def held_quote(quoted, read):
    """``quoted`` (several quotes) reduced to the one holding ``read``'s span, the span bolded: a candidate
    rendering of the scorer's answer, measured on the folds before any adoption. None when there is
    nothing to cut."""
    from dataclasses import replace

    from rag.answer.combined import marked_quote

    found = marked_quote(quoted, read) if len(quoted.citations) > 1 else None
    if found is None:
        return None
    holding, marked = found
    return replace(quoted, text=f"{marked} [1]", citations=[replace(holding, n=1)], short_answer=read.short_answer)


def sentence_rows(question, qa, answerer, k: int, gold_removed: bool) -> dict:
    """One line for refitting the sentence scorer: every candidate sentence's features, whether it holds
    the answer (a supported citation, as the eval judges one), and the retrieval's best cosine."""
    from .matching import citation_supported

    query = qa.analyse(question.question)
    retrieval = qa.retriever.run(query, k, question.docs if gold_removed else ())
    candidates, matrix = answerer.candidates(retrieval)
    docs = () if gold_removed else question.docs
    labels = [citation_supported(c.text, c.passage.chunk.source, c.start, c.end, list(docs), question.evidence,
                                 question.answers, qa.index.texts.get(c.passage.chunk.source)) for c in candidates]
    passages = retrieval.readable(answerer.options.answer_passages)
    return {"id": question.id, "article": _article(question), "gold_removed": gold_removed,
            "cosine": round(max((p.dense_score or 0.0) for p in passages), 5) if passages else 0.0,
            "features": [[round(float(v), 4) for v in row] for row in matrix], "labels": labels}


def _article(question) -> str:
    return question.docs[0].rsplit("-", 1)[0] if question.docs else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.answer_signals", description=__doc__.split("\n\n")[0])
    p.add_argument("squad", type=Path, help="a fold of SQuAD JSON (.json or .json.xz)")
    p.add_argument("-o", "--out", type=Path, required=True, help="JSONL written (appended: resumable)")
    p.add_argument("--reader-weights", help="a reader that never saw this fold (default: the shipped one, which did)")
    p.add_argument("--corpus", type=Path, help="where the fold's paragraphs are written (default: beside the file)")
    p.add_argument("--limit", type=int, help="the first N questions only")
    p.add_argument("--every", type=int, default=1, help="every Nth question only (a sample across all articles)")
    p.add_argument("--shard", default="0/1", help="K/N: the Kth of N interleaved parts (parallel processes)")
    p.add_argument("--sentences", action="store_true",
                   help="the sentence scorer's candidates and their features instead (for refitting its weights)")
    p.add_argument("-k", "--top-k", type=int, default=5)
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)

    from rag import Assistant
    from rag.settings_sources import load_settings

    from .squad import load_squad, write_corpus

    squad = args.squad
    if squad.suffix == ".xz":  # load_squad reads plain JSON
        import lzma

        plain = squad.with_suffix("")
        if not plain.exists():
            plain.write_bytes(lzma.decompress(squad.read_bytes()))
        squad = plain
    qs = load_squad(squad)
    corpus = args.corpus or squad.parent / f"corpus-{squad.stem}"
    if not corpus.is_dir() or not any(corpus.iterdir()):
        write_corpus(qs.contexts, corpus)
    settings = load_settings()
    if args.reader_weights:
        settings = settings.with_(reader_weights=args.reader_weights)
    qa = Assistant.from_folder(corpus, settings=settings)
    if args.sentences:
        answerer = qa.answerer_named("sentences")
        write = functools.partial(sentence_rows, qa=qa, answerer=answerer, k=args.top_k)
    else:
        from rag.answer.combined import CombinedAnswerer

        proposer = CombinedAnswerer(qa.answerer_named("reader"), qa.answerer_named("sentences"), decision=None)
        write = functools.partial(line_for, qa=qa, proposer=proposer, k=args.top_k)
    done = set()
    if args.out.exists():
        done = {(json.loads(line)["id"], json.loads(line)["gold_removed"]) for line in args.out.open(encoding="utf-8")}
    k, n = (int(v) for v in args.shard.split("/"))
    questions = [q for q in qs.questions if q.answerable][:: args.every]
    random.Random(13).shuffle(questions)  # any prefix is a sample of every article: a run stopped early is usable
    questions = questions[: args.limit][k::n]
    from tqdm import tqdm

    with args.out.open("a", encoding="utf-8") as out:
        for q in tqdm(questions, desc="signals", unit="q", disable=args.quiet):
            for removed in (False, True):
                if (q.id, removed) not in done:
                    out.write(json.dumps(write(q, gold_removed=removed), ensure_ascii=False) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
