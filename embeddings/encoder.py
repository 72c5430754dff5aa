"""Embed: one sentence-transformers model behind ``encode_query`` / ``encode_documents``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from rag.config import BUILTIN_MODEL, Settings
from rag.errors import ModelError

from .builtin import STAMP, build_builtin_model, builtin_model_dir, quick_check

logger = logging.getLogger(__name__)


class Encoder:
    """Queries and passages to L2-normalised float32 vectors.

    The model is loaded on first use (``warm_up``), so constructing is free.

    Example::

        enc = Encoder(Settings())
        q = enc.encode_query(["Ai chủ trì hội nghị?"])      # (1, 384)
        p = enc.encode_documents(["Đồng chí Trương Thị Mai chủ trì hội nghị."])
        float(q @ p.T)                                      # cosine similarity
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._model = None
        self._tokenizer = None
        self._fingerprint: str | None = None  # reads and hashes the model stamp: once per encoder

    # -- loading -----------------------------------------------------------
    def model_path(self) -> str:
        """Folder or hub id of the configured model, building the default one if needed."""
        if self.settings.model == BUILTIN_MODEL:
            folder = builtin_model_dir(self.settings.home_dir)
            if not quick_check(folder):
                logger.warning("Default model missing or incomplete at %s; building it (one-off, ~20 s).", folder)
                build_builtin_model(self.settings.home_dir)
            return str(folder)
        return self.settings.model

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.settings.threads or max(1, os.cpu_count() or 1))
        path = self.model_path()
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or self.settings.model == BUILTIN_MODEL
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=offline)
        except Exception as exc:  # sentence-transformers raises many kinds here
            msg = f"Cannot load embedding model '{self.settings.model}' ({path}): {exc}"
            raise ModelError(msg) from exc
        self._model.eval()
        if self.settings.precision == "bfloat16":
            self._model.to(torch.bfloat16)
        self._tokenizer = self._model.tokenizer

    @property
    def model(self):
        self.warm_up()
        return self._model

    # -- encoding ----------------------------------------------------------
    def _encode(self, texts: list[str], prompt: str, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        # sentence-transformers sorts the texts by length, so each batch carries little padding
        with torch.inference_mode():
            vecs = self.model.encode(
                list(texts), prompt=prompt, batch_size=self.settings.batch_size,
                normalize_embeddings=True, convert_to_tensor=True, show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vecs.float().cpu().numpy(), dtype=np.float32)

    def encode_query(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.settings.query_prompt, False)

    def encode_documents(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.settings.document_prompt, show_progress)

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
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_overhead(self, prompt: str) -> int:
        """Tokens the prompt and special tokens add to every input."""
        self.warm_up()
        return len(self._tokenizer(prompt)["input_ids"])

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
            basis = self.settings.model
        digest = hashlib.sha256(basis.encode()).hexdigest()[:16]
        precision = "" if self.settings.precision == "float32" else f":{self.settings.precision}"
        return f"{self.settings.model}:{digest}{precision}:{self.settings.query_prompt!r}:{self.settings.document_prompt!r}"
