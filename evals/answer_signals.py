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
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORCED = {"reader_threshold": -1e9, "abstain_threshold": 0.0}  # both always answer; the decision chooses


def _overlaps(span, citations) -> bool:
    return any(c.source == span.source and c.start < span.end and span.start < c.end for c in citations)


def signals(question, query, reader, sentences, documents, gold_removed: bool) -> dict:
    """One line: the retrieval's shape, each answerer's answer and confidence, their agreement, the labels."""
    from .runner import judge, without_gold

    q = without_gold(question) if gold_removed else question
    r, s = judge(q, reader, 0.0, documents), judge(q, sentences, 0.0, documents)
    scores = [p.score for p in reader.passages]
    short = reader.short_answer
    return {
        "id": question.id, "article": question.docs[0].rsplit("-", 1)[0] if question.docs else "",
        "gold_removed": gold_removed, "answerable": q.answerable, "kind": query.kind, "wants": query.wants,
        "folded": query.folded, "terms": len(query.terms),
        "retrieval": {"top": scores[:5], "gap": scores[0] - scores[1] if len(scores) > 1 else None},
        "reader": {"margin": short.score if short else None,  # its margin over "no answer" (no threshold)
                   "text": short.text if short else None, "rank": _rank_of(short, reader.passages),
                   "correct": r.correct, "cited_ok": [c.supported for c in r.citations],
                   "chars": len(reader.text)},
        "sentences": {"answerability": sentences.confidence, "correct": s.correct,
                      "cited_ok": [c.supported for c in s.citations], "chars": len(sentences.text),
                      "sentences": len(sentences.citations)},
        "agree": bool(short) and _overlaps(short, sentences.citations),
    }


def _rank_of(short, passages) -> int | None:
    if short is None:
        return None
    return next((p.rank for p in passages if p.chunk.source == short.source
                 and p.chunk.start <= short.start < p.chunk.end), None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.answer_signals", description=__doc__.split("\n\n")[0])
    p.add_argument("squad", type=Path, help="a fold of SQuAD JSON (.json or .json.xz)")
    p.add_argument("-o", "--out", type=Path, required=True, help="JSONL written (appended: resumable)")
    p.add_argument("--reader-weights", help="a reader that never saw this fold (default: the shipped one, which did)")
    p.add_argument("--corpus", type=Path, help="where the fold's paragraphs are written (default: beside the file)")
    p.add_argument("--limit", type=int, help="the first N questions only")
    p.add_argument("-k", "--top-k", type=int, default=5)
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
    settings = load_settings().with_(**FORCED)
    if args.reader_weights:
        settings = settings.with_(reader_weights=args.reader_weights)
    qa = Assistant.from_folder(corpus, settings=settings)
    done = set()
    if args.out.exists():
        done = {(json.loads(line)["id"], json.loads(line)["gold_removed"]) for line in args.out.open(encoding="utf-8")}
    questions = [q for q in qs.questions if q.answerable][: args.limit]
    from tqdm import tqdm

    with args.out.open("a", encoding="utf-8") as out:
        for q in tqdm(questions, desc="signals", unit="q"):
            for removed in (False, True):
                if (q.id, removed) in done:
                    continue
                exclude = q.docs if removed else ()
                reader = qa.ask(q.question, answerer="reader", top_k=args.top_k, exclude=exclude)
                sentences = qa.ask(q.question, answerer="sentences", top_k=args.top_k, exclude=exclude)
                line = signals(q, qa.analyse(q.question), reader, sentences, qa.index.texts, removed)
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
