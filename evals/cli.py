"""``virag eval``: its arguments and the command. Light at import time; heavy modules load inside the command.

Example::

    virag eval evals/seed_dev.jsonl --corpus seeds --json out.json --report out.md --plots plots/
    virag eval squad-dev.json --corpus /tmp/squad-corpus --write-corpus --limit 200
    virag eval --compare before.json after.json
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from pathlib import Path

from rag.errors import ConfigError, ViragError

logger = logging.getLogger(__name__)

MAX_SHOWN_ISSUES = 20


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"must be a positive integer, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return n


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """Define the arguments of ``virag eval`` on its subparser."""
    p.add_argument("questions", nargs="?", metavar="QUESTIONS",
                   help="question set: JSONL (see ../shared/evals/README.md) or SQuAD-v1 JSON")
    p.add_argument("-c", "--corpus", help="corpus folder the questions are about (SQuAD: the folder of its passages)")
    p.add_argument("-i", "--index", help="index folder (default: a cache folder keyed by the corpus path)")
    p.add_argument("-k", "--k", type=_positive, default=10, help="passages retrieved per question (default: 10)")
    p.add_argument("-m", "--model", help="sentence-transformers model id or path (default: builtin)")
    p.add_argument("-j", "--json", metavar="OUT.json", help="write metrics, config and per-question rows as JSON")
    p.add_argument("-r", "--report", metavar="OUT.md", help="write a Markdown report (summary, by kind, failures)")
    p.add_argument("-p", "--plots", metavar="DIR", help="write PNG plots (recall@k curve, latency histogram)")
    p.add_argument("-n", "--limit", type=_positive, metavar="N", help="evaluate the first N questions only")
    p.add_argument("--kind", metavar="SLICE", help="evaluate only the questions of this kind")
    p.add_argument("-s", "--strict", action="store_true", help="stop at the first malformed line (default: skip it)")
    p.add_argument("--write-corpus", action="store_true",
                   help="SQuAD input: write its passages into --corpus (done anyway when the folder is empty)")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                   help="print the metrics of two --json runs side by side with deltas, and exit")
    p.add_argument("--reader-only", action="store_true",
                   help="score the trained reader alone on each question's gold document: exact_match, answer_f1")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a setting of rag.Settings, e.g. --set fusion=rrf (repeatable)")
    p.add_argument("--config", metavar="FILE", help="settings file to read instead of ./virag.toml")
    p.add_argument("--gold-removed", action="store_true",
                   help="ask each answerable question without its gold documents (the rest of the corpus stays) "
                        "and score it as unanswerable: does it abstain where related text is there but the "
                        "answer is not?")


def _reader_only(qa, questions, args) -> int:
    """The reader on each answerable question's gold document(s), read whole: EM, F1, latency."""
    import json

    from .reader_only import score_reader

    rows = [(q.question, qa.index.texts[d], q.answers) for q in questions if q.answerable
            for d in q.docs[:1] if d in qa.index.texts]
    started = time.perf_counter()
    result = score_reader(qa.answerer.reader, rows, max_tokens=qa.settings.reader.reader_answer_tokens)
    result["ms_per_question"] = round((time.perf_counter() - started) * 1000 / max(1, len(rows)), 1)
    result["threshold"] = qa.settings.reader.reader_threshold
    print("| metric | value |\n|---|---:|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"reader_only": result, "questions": str(args.questions)}, indent=1),
                                   encoding="utf-8")
        print(f"Wrote {args.json}", file=sys.stderr)
    print(f"{len(rows)} questions in {time.perf_counter() - started:.1f}s.", file=sys.stderr)
    return 0


def _print_issues(qs) -> None:
    for issue in qs.issues[:MAX_SHOWN_ISSUES]:
        print(f"Warning: {issue}", file=sys.stderr)
    if len(qs.issues) > MAX_SHOWN_ISSUES:
        print(f"Warning: … and {len(qs.issues) - MAX_SHOWN_ISSUES} more.", file=sys.stderr)
    if qs.issues:
        n = len(qs.issues)
        print(f"Skipped {n} invalid {'entry' if n == 1 else 'entries'} of {qs.path} "
              "(use --strict to stop at the first).", file=sys.stderr)


def _prepare_squad_corpus(qs, corpus: Path, force: bool) -> None:
    from .squad import check_corpus, write_corpus

    if corpus.exists() and not corpus.is_dir():
        msg = f"--corpus '{corpus}' is a file; give the folder the passages of {qs.path} are (or will be) in."
        raise ConfigError(msg)
    empty = not corpus.exists() or not any(corpus.iterdir())
    if force or empty:
        n = write_corpus(qs.contexts, corpus)
        print(f"Wrote {n} of {len(qs.contexts)} passages of {qs.path} to {corpus}.", file=sys.stderr)
        return
    wrong = check_corpus(qs.contexts, corpus)
    if wrong:
        shown = ", ".join(wrong[:3]) + (", …" if len(wrong) > 3 else "")
        msg = (f"{len(wrong)} of the {len(qs.contexts)} passages of {qs.path} are missing from '{corpus}' or differ "
               f"({shown}); pass --write-corpus to write them, or point --corpus at an empty folder.")
        raise ConfigError(msg)


def _encoder(settings):
    """The embedding model (a seam for tests, which share one loaded model)."""

    return settings.encoder()


def _assistant(args: argparse.Namespace, settings):
    from rag.assistant import Assistant

    if args.index and not args.corpus:
        return Assistant.from_index(args.index, settings=settings, encoder=_encoder(settings))
    qa = Assistant.from_folder(args.corpus, settings=settings, index_dir=args.index, encoder=_encoder(settings),
                               show_progress=sys.stderr.isatty() and not args.quiet)
    report = qa.report
    for s in report.skipped:
        print(f"Skipped: {s.reason}", file=sys.stderr)
    print(f"Index: {report.summary()}", file=sys.stderr)
    return qa


def _compare(args: argparse.Namespace) -> int:
    from .report import compare, read_json

    if args.questions:
        msg = "Give either QUESTIONS or --compare A.json B.json, not both."
        raise ConfigError(msg)
    a, b = (read_json(p) for p in args.compare)
    print(compare(a, b, names=(Path(args.compare[0]).name, Path(args.compare[1]).name)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Run a question set through ``ask`` and print the summary; write JSON, report and plots on request."""
    if args.compare:
        return _compare(args)
    if not args.questions:
        msg = "Missing QUESTIONS: `virag eval QUESTIONS --corpus DIR`, or `virag eval --compare A.json B.json`."
        raise ConfigError(msg)
    if not args.corpus and not args.index:
        msg = "Missing --corpus DIR: the folder of documents the questions are about."
        raise ConfigError(msg)
    if args.plots and importlib.util.find_spec("matplotlib") is None:  # say so before the run, not after it
        msg = "--plots needs matplotlib, in the 'plots' extra: pip install 'virag[plots]' (make setup installs it)."
        raise ConfigError(msg)
    from .loading import load_questions
    from .questions import select

    started = time.perf_counter()
    qs = load_questions(args.questions, strict=args.strict)
    _print_issues(qs)
    questions = select(qs.questions, kind=args.kind, limit=args.limit)
    if not questions:
        kinds = ", ".join(repr(k) for k in qs.kinds) or "none"
        msg = f"No question of kind {args.kind!r} in {qs.path}; kinds there: {kinds}."
        raise ConfigError(msg)
    if qs.contexts is not None:
        if not args.corpus:
            msg = "A SQuAD file needs --corpus DIR: the folder its passages are (or will be) written to."
            raise ConfigError(msg)
        _prepare_squad_corpus(qs, Path(args.corpus), args.write_corpus)

    from rag.settings_sources import load_settings

    from .report import summary_table, write_json, write_report
    from .runner import EvalRunner, missing_documents

    settings = load_settings(config=args.config).with_(
        top_k=args.k, **({"model": args.model} if args.model else {})).with_overrides(args.set or [])
    if args.k < 10:
        print(f"Note: with --k {args.k}, the @10 metrics see only {args.k} passages.", file=sys.stderr)
    if args.reader_only:
        settings = settings.with_(answerer="reader")
    qa = _assistant(args, settings)
    if args.reader_only:
        return _reader_only(qa, questions, args)
    missing = missing_documents(questions, qa.index.texts)
    if missing:
        shown = ", ".join(f"{q} ({d})" for q, d in missing[:5]) + (", …" if len(missing) > 5 else "")
        print(f"Warning: {len(missing)} gold documents are not in the index, so never retrieved: {shown}",
              file=sys.stderr)
    config = {"corpus": str(args.corpus) if args.corpus else None,
              "index": str(args.index or settings.index_dir_for(Path(args.corpus))),
              "questions": str(qs.path), "format": qs.format, "limit": args.limit, "kind": args.kind,
              "invalid_lines": [str(i) for i in qs.issues]}
    result = EvalRunner(qa, k=args.k, show_progress=not args.quiet, gold_removed=args.gold_removed).run(
        questions, config=config)

    print(summary_table(result.to_dict()))
    if qs.issues:
        print(f"\n{len(qs.issues)} invalid entries skipped.")
    written = []
    if args.json:
        written.append(write_json(result, args.json))
    if args.report:
        written.append(write_report(result, args.report))
    if args.plots:
        from .plots import write_plots

        written += write_plots(result, args.plots)
    for path in written:
        print(f"Wrote {path}", file=sys.stderr)
    print(f"{len(questions)} questions in {time.perf_counter() - started:.1f}s.", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``virag eval`` without the rest of the command line (the sweep and benchmark scripts call this)."""
    parser = argparse.ArgumentParser(prog="virag eval", description=__doc__.split("\n\n")[0])
    add_eval_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_eval(args)
    except ViragError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
