"""Embed: one sentence-transformers model behind ``encode_query`` / ``encode_documents``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from .home import BUILTIN_MODEL, default_home
from .builtin import STAMP, build_builtin_model, builtin_model_dir, quick_check
from .errors import ModelError

logger = logging.getLogger(__name__)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Threads of *other* processes running right now: ``/proc/loadavg`` counts every runnable thread,
    this process's own are subtracted. 0 where there is no /proc."""
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat", encoding="ascii", errors="replace") as fh:
                    own += fh.read().rsplit(")", 1)[1].split()[0] == "R"
            except OSError:
                pass  # the thread ended meanwhile
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - own)


class Encoder:
    """Queries and passages to L2-normalised float32 vectors.

    The model is loaded on first use (``warm_up``), so constructing is free.

    Example::

        enc = Encoder()                                     # the built-in multilingual-e5-small
        q = enc.encode_query(["Ai chủ trì hội nghị?"])      # (1, 384)
        p = enc.encode_documents(["Đồng chí Trương Thị Mai chủ trì hội nghị."])
        float(q @ p.T)                                      # cosine similarity
    """

    def __init__(self, model: str = BUILTIN_MODEL, *, home: str | Path | None = None, query_prompt: str = "query: ",
                 document_prompt: str = "passage: ", batch_size: int = 32,
                 precision: Literal["float32", "bfloat16"] = "float32", threads: int = 0) -> None:
        """``model``: "builtin" or a sentence-transformers id or folder; ``home``: where the built-in one is built
        (default ``$VIRAG_HOME`` or ``~/.cache/virag``); ``threads``: torch threads, 0 for every core."""
        self.model_name = model
        self.home = Path(home).expanduser() if home else default_home()
        self.query_prompt, self.document_prompt = query_prompt, document_prompt
        self.batch_size, self.precision, self.threads = batch_size, precision, threads
        self._model = None
        self._tokenizer = None
        self._counter = None  # a tokenizer for counting only (warm_up)
        self._threads = 1
        self._traced = None  # (TorchScript module, input names), False once found not to apply
        self._fingerprint: str | None = None  # reads and hashes the model stamp: once per encoder

    # -- loading -----------------------------------------------------------
    def builtin_path(self) -> str:
        """The built-in model's folder (built if missing): the reader's base, whatever model embeds."""
        folder = builtin_model_dir(self.home)
        if not quick_check(folder):
            logger.warning("Default model missing or incomplete at %s; building it (one-off, ~20 s).", folder)
            build_builtin_model(self.home)
        return str(folder)

    def model_path(self) -> str:
        """Folder or hub id of the configured model, building the default one if needed."""
        return self.builtin_path() if self.model_name == BUILTIN_MODEL else self.model_name

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import torch
        from sentence_transformers import SentenceTransformer

        self._threads = self.threads or cores()
        torch.set_num_threads(self._threads)
        path = self.model_path()
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or self.model_name == BUILTIN_MODEL
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=offline)
        except Exception as exc:  # sentence-transformers raises many kinds here
            msg = f"Cannot load embedding model '{self.model_name}' ({path}): {exc}"
            raise ModelError(msg) from exc
        self._model.eval()
        if self.precision == "bfloat16":
            self._model.to(torch.bfloat16)
        self._tokenizer = self._model.tokenizer
        # Counting has its own copy, never reconfigured: the model's tokenizer is reconfigured (truncation,
        # padding) by calls that ask for other settings, and a Rust tokenizer being reconfigured while another
        # thread encodes with it raises "Already borrowed" (huggingface/tokenizers#537). Encoding alone is safe.
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_str(self._tokenizer.backend_tokenizer.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()
        # one short pass: torch's one-time kernel set-up (~0.3 s) belongs to loading, not to the first call
        self._run(["Xin chào."], self.document_prompt)

    @property
    def model(self):
        self.warm_up()
        return self._model

    # -- encoding ----------------------------------------------------------
    def _run(self, texts: list[str], prompt: str) -> np.ndarray:
        """One batch straight through the model's modules: what ``SentenceTransformer.encode`` does for
        each batch (same vectors, bit for bit), without its per-call bookkeeping (~2 ms of a 12 ms query)."""
        import torch

        with torch.inference_mode():
            features = self.model.preprocess(list(texts), prompt=prompt)
            vecs = torch.nn.functional.normalize(self.model(features)["sentence_embedding"], p=2, dim=1)
        return np.ascontiguousarray(vecs.float().cpu().numpy(), dtype=np.float32)

    def _forward(self, texts: list[str], prompt: str) -> np.ndarray:
        """:meth:`_run` (one question: :meth:`_run_traced`) on only the cores no other process is running
        on: a question's forward pass is ~100 small parallel steps, each waiting for its slowest thread,
        so a thread on a busy core turns 12 ms into 100-900 ms (2 shared cores; 1 thread: 19 ms)."""
        import torch

        self.warm_up()
        threads = max(1, min(self._threads, cores() - busy_cores()))
        if threads != self._threads:
            torch.set_num_threads(threads)
        try:
            traced = self._traced_model() if len(texts) == 1 else None  # the first question traces, on these cores too
            return self._run_traced(traced, texts, prompt) if traced else self._run(texts, prompt)
        finally:
            if threads != self._threads:
                torch.set_num_threads(self._threads)

    def _run_traced(self, traced, texts: list[str], prompt: str) -> np.ndarray:
        import torch

        module, names = traced
        with torch.no_grad():
            features = self.model.preprocess(list(texts), prompt=prompt)
            tokens = module(*(features[n] for n in names))
            mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            vecs = torch.nn.functional.normalize((tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9), p=2, dim=1)
        return np.ascontiguousarray(vecs.float().cpu().numpy(), dtype=np.float32)

    def _traced_model(self):
        if self._traced is None:
            self._traced = self._trace() or False
        return self._traced or None

    def _trace(self):
        """The transformer traced and frozen (TorchScript) for one question at a time: freezing removes
        op-dispatch overhead, 15 → 11 ms for a 19-token ViQuAD question on 2 cores. Only for the plain
        transformer → mean pooling → normalise pipeline in float32, and only when its vectors match
        :meth:`_run`'s on probe questions (1e-5; measured 1.5e-7); else None (the eager path)."""
        import warnings

        import torch

        modules = list(self.model)
        pooling = modules[1] if len(modules) > 1 else None
        if (self.precision != "float32" or len(modules) not in (2, 3) or not hasattr(modules[0], "auto_model")
                or getattr(pooling, "pooling_mode", None) != "mean" or not getattr(pooling, "include_prompt", False)
                or (len(modules) == 3 and type(modules[2]).__name__ != "Normalize")):
            return None
        prompt = self.query_prompt
        probes = ["Cụm thi đua số 2 gồm những tỉnh nào?", "Ai?",
                  "Hội nghị tổng kết công tác thi đua năm 2024 của các tỉnh miền núi phía Bắc được tổ chức ở đâu"]
        example = self.model.preprocess(probes[:1], prompt=prompt)
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]

        class Positional(torch.nn.Module):
            def __init__(self, model) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors):
                return self.model(**dict(zip(names, tensors)), return_dict=False)[0]

        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        try:
            # quiet: tracer warnings about shape-dependent Python branches, and transformers' notes on
            # the attributes (loss_function …) that tracing walks through
            hf_logging.set_verbosity_error()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(Positional(modules[0].auto_model).eval(), tuple(example[n] for n in names),
                                         check_trace=False, strict=False)
                module = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            traced = (module, names)
            worst = max(float(np.abs(self._run_traced(traced, [p], prompt) - self._run([p], prompt)).max()) for p in probes)
        except Exception as exc:  # tracing is an optimisation: any failure means the eager path
            logger.info("Questions use the eager model (tracing failed: %s).", exc)
            return None
        finally:
            hf_logging.set_verbosity(verbosity)
        if worst > 1e-5:
            logger.info("Questions use the eager model (traced vectors differ by %.1e).", worst)
            return None
        return traced

    def _batched(self, texts: list[str], prompt: str, show_progress: bool) -> np.ndarray:
        """Embed in batches of similar *token* counts, longest first.

        sentence-transformers sorts by characters: on ViQuAD's chunks that left 13% of every batch
        as padding (128k tokens computed for 113k real ones); sorting by tokens leaves 2.5%.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.warm_up()
        lengths = [min(len(e.ids), self.max_tokens) for e in self._counter.encode_batch([prompt + t for t in texts])]
        order = np.argsort([-n for n in lengths], kind="stable")
        size = self.batch_size
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), size)
        if show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Embedding", unit="batch")
        for i in starts:
            batch = order[i : i + size]
            out[batch] = self._run([texts[j] for j in batch], prompt)
        return out

    def encode_query(self, texts: list[str]) -> np.ndarray:
        if 0 < len(texts) <= self.batch_size:  # a question: on the latency path
            return self._forward(texts, self.query_prompt)
        return self._batched(texts, self.query_prompt, False)

    def encode_documents(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        return self._batched(texts, self.document_prompt, show_progress)

    # -- facts about the model ---------------------------------------------
    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 512)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone, without special tokens."""
        self.warm_up()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def prompt_overhead(self, prompt: str) -> int:
        """Tokens the prompt and special tokens add to every input."""
        self.warm_up()
        return len(self._counter.encode(prompt).ids)

    def fingerprint(self) -> str:
        """Identifies the exact weights: an index built with another model must be rebuilt."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        path = Path(self.model_path())
        stamp = path / STAMP
        if stamp.is_file():
            files = json.loads(stamp.read_text())["files"]
            basis = json.dumps({k: v["sha256"] for k, v in files.items()}, sort_keys=True)
        elif path.is_dir():
            basis = json.dumps(sorted((p.name, p.stat().st_size) for p in path.rglob("*") if p.is_file()))
        else:
            basis = self.model_name
        digest = hashlib.sha256(basis.encode()).hexdigest()[:16]
        precision = "" if self.precision == "float32" else f":{self.precision}"
        return f"{self.model_name}:{digest}{precision}:{self.query_prompt!r}:{self.document_prompt!r}"
