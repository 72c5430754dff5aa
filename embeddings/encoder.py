"""Embed: one model behind ``encode_query`` / ``encode_documents``, on ONNX Runtime (int8, the default on
CPU) or on torch through sentence-transformers (the reference, training, a GPU)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from .home import BUILTIN_MODEL, default_home
from .builtin import STAMP, build_builtin_model, builtin_model_dir, quick_check
from .errors import ModelError
from .onnx_build import OnnxSpec, cached
from .threads import cores

logger = logging.getLogger(__name__)

Backend = Literal["auto", "onnx", "torch"]
Precision = Literal["auto", "float32", "bfloat16", "int8"]


class Encoder:
    """Queries and passages to L2-normalised float32 vectors.

    The model is loaded on first use (``warm_up``), so constructing is free.

    Example::

        enc = Encoder()                                     # the built-in multilingual-e5-small, ONNX int8
        q = enc.encode_query(["Ai chủ trì hội nghị?"])      # (1, 384)
        p = enc.encode_documents(["Đồng chí Trương Thị Mai chủ trì hội nghị."])
        float(q @ p.T)                                      # cosine similarity
    """

    def __init__(self, model: str = BUILTIN_MODEL, *, home: str | Path | None = None, query_prompt: str = "query: ",
                 document_prompt: str = "passage: ", batch_size: int = 32, precision: Precision = "auto",
                 threads: int = 0, backend: Backend = "auto") -> None:
        """``model``: "builtin" or a sentence-transformers id or folder; ``home``: where the built-in one is built
        (default ``$VIRAG_HOME`` or ``~/.cache/virag``); ``backend``: "onnx" (the built-in model's default),
        "torch" or "auto"; ``precision``: int8 or float32 on ONNX, float32 or bfloat16 on torch ("auto": int8
        on ONNX, float32 on torch); ``threads``: intra-op threads, 0 for every core."""
        self.model_name = model
        self.home = Path(home).expanduser() if home else default_home()
        self.query_prompt, self.document_prompt = query_prompt, document_prompt
        self.batch_size, self.threads = batch_size, threads
        self.backend, self.precision = resolve_runtime(backend, precision, onnx_possible=model == BUILTIN_MODEL,
                                                       onnx=("int8", "float32"))
        self._model = None
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

    def _torch_model(self, precision: str):
        from .torch_backend import TorchModel

        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or self.model_name == BUILTIN_MODEL
        return TorchModel(self.model_path(), label=self.model_name, offline=offline, precision=precision,
                          threads=self.threads)

    def onnx_spec(self) -> OnnxSpec:
        from .onnx_backend import encoder_spec

        folder = Path(self.model_path())
        if not folder.is_dir():
            msg = f"The ONNX backend needs a local model folder, not '{self.model_name}'; use `--set backend=torch`."
            raise ModelError(msg)
        source = self._weights_digest()
        if not (folder / STAMP).is_file():  # a model of one's own: rewritten weights keep their sizes, not their times
            source += f":{max(p.stat().st_mtime_ns for p in folder.rglob('*') if p.is_file())}"
        return encoder_spec(folder, source)

    def build_onnx(self, precision: str | None = None) -> Path:
        """The ONNX file for ``precision`` (default: this encoder's), exported now if it is not cached."""
        from .onnx_backend import build_encoder

        precision = precision or (self.precision if self.backend == "onnx" else "int8")
        spec = self.onnx_spec()
        found = cached(spec, self.home, precision)
        if found is not None:
            return found
        logger.warning("Building the ONNX encoder (%s) under %s (one-off, about a minute).", precision,
                       spec.folder(self.home))
        return build_encoder(self._torch_model("float32"), spec, self.home, precision)

    def warm_up(self) -> None:
        if self._model is not None:
            return
        if self.backend == "onnx":
            from .onnx_backend import OnnxModel

            model = OnnxModel(self.build_onnx(), Path(self.model_path()), threads=self.threads or cores())
        else:
            model = self._torch_model(self.precision)
        # one short pass: the one-time kernel set-up belongs to loading, not to the first call
        model.embed(["Xin chào."], self.document_prompt)
        self._model = model

    @property
    def model(self):
        """The loaded backend (:class:`~embeddings.onnx_backend.OnnxModel` or :class:`~embeddings.torch_backend.TorchModel`)."""
        self.warm_up()
        return self._model

    # -- encoding ----------------------------------------------------------
    def _batched(self, texts: list[str], prompt: str, show_progress: bool) -> np.ndarray:
        """Embed in batches of similar *token* counts, longest first.

        sentence-transformers sorts by characters: on ViQuAD's chunks that left 13% of every batch
        as padding (128k tokens computed for 113k real ones); sorting by tokens leaves 2.5%.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.warm_up()
        if self._model.pads:
            lengths = [min(len(e.ids), self.max_tokens) for e in self._model.tokenizer.encode_batch([prompt + t for t in texts])]
            order = np.argsort([-n for n in lengths], kind="stable")
        else:  # one text per run: nothing to pad, nothing to sort
            order = np.arange(len(texts))
        size = self.batch_size
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), size)
        if show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Embedding", unit="batch")
        for i in starts:
            batch = order[i : i + size]
            out[batch] = self.model.embed([texts[j] for j in batch], prompt)
        return out

    def encode_query(self, texts: list[str]) -> np.ndarray:
        if 0 < len(texts) <= self.batch_size:  # a question: on the latency path
            self.warm_up()
            return self._model.embed_question(texts, self.query_prompt)
        return self._batched(texts, self.query_prompt, False)

    def encode_documents(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        return self._batched(texts, self.document_prompt, show_progress)

    # -- facts about the model ---------------------------------------------
    @property
    def dimension(self) -> int:
        return self.model.dimension

    @property
    def max_tokens(self) -> int:
        return self.model.max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone, without special tokens."""
        self.warm_up()
        return len(self._model.tokenizer.encode(text, add_special_tokens=False).ids)

    def prompt_overhead(self, prompt: str) -> int:
        """Tokens the prompt and special tokens add to every input."""
        self.warm_up()
        return len(self._model.tokenizer.encode(prompt).ids)

    def fingerprint(self) -> str:
        """Identifies the exact weights: an index built with another model must be rebuilt."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _weights_digest(self) -> str:
        return weights_digest(Path(self.model_path()), self.model_name)

    def _compute_fingerprint(self) -> str:
        # The backend and int8 are not in it: their vectors are the same model's within measured tolerance
        # (evals/RESULTS.md), so an index built with one is searched with the other. bfloat16 indexes predate that.
        precision = ":bfloat16" if self.precision == "bfloat16" else ""
        return f"{self.model_name}:{self._weights_digest()}{precision}:{self.query_prompt!r}:{self.document_prompt!r}"


def weights_digest(path: Path, name: str) -> str:
    """16 hex digits naming a model's weights: from the built-in model's stamp, else the folder's file sizes."""
    stamp = path / STAMP
    if stamp.is_file():
        files = json.loads(stamp.read_text())["files"]
        basis = json.dumps({k: v["sha256"] for k, v in files.items()}, sort_keys=True)
    elif path.is_dir():
        basis = json.dumps(sorted((p.name, p.stat().st_size) for p in path.rglob("*") if p.is_file()))
    else:
        basis = name
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def resolve_runtime(backend: str, precision: str, *, onnx_possible: bool, onnx: tuple[str, str],
                    torch: tuple[str, str] = ("float32", "bfloat16"), setting: str = "precision") -> tuple[str, str]:
    """A model's backend and precision from the settings: "auto" runs on ONNX Runtime where it is installed
    and ``onnx_possible``, else torch; precision "auto" is the first of the backend's two (``onnx``, ``torch``)."""
    if backend not in ("auto", "onnx", "torch"):
        msg = f"Setting 'backend' must be 'auto', 'onnx' or 'torch', got {backend!r}."
        raise ModelError(msg)
    if backend == "auto":
        backend = "onnx" if onnx_possible and importlib.util.find_spec("onnxruntime") else "torch"
    allowed = onnx if backend == "onnx" else torch
    if precision == "auto":
        return backend, allowed[0]
    if precision not in allowed:
        msg = (f"Setting '{setting}' on the {backend} backend must be 'auto', {allowed[0]!r} or {allowed[1]!r}, "
               f"got {precision!r}.")
        raise ModelError(msg)
    return backend, precision
