"""The torch backend of the encoder: sentence-transformers itself (the reference; training; a GPU)."""

from __future__ import annotations

import logging

import numpy as np

from .errors import ModelError
from .threads import busy_cores, cores

logger = logging.getLogger(__name__)


class TorchModel:
    """A sentence-transformers model: ``embed(texts, prompt)`` → L2-normalised float32 vectors."""

    name = "torch"
    pads = True  # batches are padded to their longest text: the encoder sorts them by tokens

    def __init__(self, path: str, *, label: str, offline: bool, precision: str = "float32", threads: int = 0) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.precision = precision
        self.threads = threads or cores()
        torch.set_num_threads(self.threads)
        try:
            self.model = SentenceTransformer(path, device="cpu", local_files_only=offline)
        except Exception as exc:  # sentence-transformers raises many kinds here
            msg = f"Cannot load embedding model '{label}' ({path}): {exc}"
            raise ModelError(msg) from exc
        self.model.eval()
        if precision == "bfloat16":
            self.model.to(torch.bfloat16)
        # for counting: its own copy, never reconfigured (sentence-transformers configures the one it holds)
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(get())
        self.max_tokens = int(self.model.max_seq_length or 512)
        self._traced = None  # (TorchScript module, input names), False once found not to apply

    def embed(self, texts: list[str], prompt: str) -> np.ndarray:
        """One batch straight through the model's modules: what ``SentenceTransformer.encode`` does for
        each batch (same vectors, bit for bit), without its per-call bookkeeping (~2 ms of a 12 ms query)."""
        import torch

        with torch.inference_mode():
            features = self.model.preprocess(list(texts), prompt=prompt)
            vecs = torch.nn.functional.normalize(self.model(features)["sentence_embedding"], p=2, dim=1)
        return np.ascontiguousarray(vecs.float().cpu().numpy(), dtype=np.float32)

    def embed_question(self, texts: list[str], prompt: str) -> np.ndarray:
        """:meth:`embed` (one question: the traced model) on only the cores no other process is running
        on: a question's forward pass is ~100 small parallel steps, each waiting for its slowest thread,
        so a thread on a busy core turns 12 ms into 100-900 ms (2 shared cores; 1 thread: 19 ms)."""
        import torch

        threads = max(1, min(self.threads, cores() - busy_cores()))
        if threads != self.threads:
            torch.set_num_threads(threads)
        try:
            traced = self._traced_model(prompt) if len(texts) == 1 else None  # the first question traces, on these cores too
            return self._run_traced(traced, texts, prompt) if traced else self.embed(texts, prompt)
        finally:
            if threads != self.threads:
                torch.set_num_threads(self.threads)

    def _run_traced(self, traced, texts: list[str], prompt: str) -> np.ndarray:
        import torch

        module, names = traced
        with torch.no_grad():
            features = self.model.preprocess(list(texts), prompt=prompt)
            tokens = module(*(features[n] for n in names))
            mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            vecs = torch.nn.functional.normalize((tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9), p=2, dim=1)
        return np.ascontiguousarray(vecs.float().cpu().numpy(), dtype=np.float32)

    def _traced_model(self, prompt: str):
        if self._traced is None:
            self._traced = self._trace(prompt) or False
        return self._traced or None

    def transformer(self):
        """The transformer under mean pooling and normalisation, or None for any other model layout."""
        modules = list(self.model)
        pooling = modules[1] if len(modules) > 1 else None
        if (len(modules) not in (2, 3) or not hasattr(modules[0], "auto_model")
                or getattr(pooling, "pooling_mode", None) != "mean" or not getattr(pooling, "include_prompt", False)
                or (len(modules) == 3 and type(modules[2]).__name__ != "Normalize")):
            return None
        return modules[0].auto_model

    def _trace(self, prompt: str):
        """The transformer traced and frozen (TorchScript) for one question at a time: freezing removes
        op-dispatch overhead, 15 → 11 ms for a 19-token ViQuAD question on 2 cores. Only for the plain
        transformer → mean pooling → normalise pipeline in float32, and only when its vectors match
        :meth:`embed`'s on probe questions (1e-5; measured 1.5e-7); else None (the eager path)."""
        import warnings

        import torch

        transformer = self.transformer()
        if self.precision != "float32" or transformer is None:
            return None
        probes = ["Cụm thi đua số 2 gồm những tỉnh nào?", "Ai?",
                  "Hội nghị tổng kết công tác thi đua năm 2024 của các tỉnh miền núi phía Bắc được tổ chức ở đâu"]
        example = self.model.preprocess(probes[:1], prompt=prompt)
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        try:
            # quiet: tracer warnings about shape-dependent Python branches, and transformers' notes on
            # the attributes (loss_function …) that tracing walks through
            hf_logging.set_verbosity_error()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(Positional(transformer, names).eval(), tuple(example[n] for n in names),
                                         check_trace=False, strict=False)
                module = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            traced = (module, names)
            worst = max(float(np.abs(self._run_traced(traced, [p], prompt) - self.embed([p], prompt)).max()) for p in probes)
        except Exception as exc:  # tracing is an optimisation: any failure means the eager path
            logger.info("Questions use the eager model (tracing failed: %s).", exc)
            return None
        finally:
            hf_logging.set_verbosity(verbosity)
        if worst > 1e-5:
            logger.info("Questions use the eager model (traced vectors differ by %.1e).", worst)
            return None
        return traced


def Positional(model, names: list[str]):  # noqa: N802 - builds a torch module class on demand (torch loads lazily)
    """``model`` called with its inputs positionally (``names`` order), returning the token states: what
    tracing and ONNX export take."""
    import torch

    class _Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(names, tensors)), return_dict=False)[0]

    return _Positional()

