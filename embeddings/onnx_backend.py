"""The ONNX Runtime backend of the encoder: the tokenizer, one onnxruntime session, mean pooling in numpy.
No torch: this is what a question pays for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ModelError
from .onnx_build import OnnxSpec, build, session
from .tokenizer import plain_tokenizer, truncated

INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("last_hidden_state",)


def encoder_spec(folder: Path, source: str) -> OnnxSpec:
    """What the encoder's ONNX files are made from: ``source`` fingerprints the weights."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        heads, hidden = int(config["num_attention_heads"]), int(config["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"{folder}: no BERT config.json the ONNX backend can read ({exc}); use `--set backend=torch`."
        raise ModelError(msg) from exc
    return OnnxSpec("encoder", source, INPUTS, OUTPUTS, heads, hidden)


def build_encoder(torch_model, spec: OnnxSpec, home: Path, precision: str) -> Path:
    """Export a :class:`~embeddings.torch_backend.TorchModel`'s transformer (mean-pooled models only)."""
    from .torch_backend import Positional

    transformer = torch_model.transformer()
    if transformer is None:
        msg = "The ONNX backend takes mean-pooled sentence-transformers models only; use `--set backend=torch`."
        raise ModelError(msg)
    example = torch_model.model.preprocess(["Cụm thi đua số 2 gồm những tỉnh nào?"], prompt="query: ")
    return build(spec, Positional(transformer, list(INPUTS)), tuple(example[n] for n in INPUTS), home, precision)


class OnnxModel:
    """An encoder's ONNX file: ``embed(texts, prompt)`` → L2-normalised float32 vectors, as sentence-transformers
    computes them (its tokenisation, mean pooling over every token the mask keeps, prompt included)."""

    name = "onnx"
    pads = False  # one text per run (embed)

    def __init__(self, path: Path, folder: Path, *, threads: int) -> None:
        folder = Path(folder)
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            st_config = folder / "sentence_bert_config.json"
            limit = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length") if st_config.is_file() else None
        except (OSError, ValueError) as exc:
            msg = f"{folder}: cannot read the tokenizer or configuration ({exc}); run `virag model build`."
            raise ModelError(msg) from exc
        self.max_tokens = int(limit or config.get("max_position_embeddings", 512))
        self.dimension = int(config["hidden_size"])
        self.tokenizer = plain_tokenizer(folder / "tokenizer.json")  # shared: never reconfigured
        self.session = session(path, threads)
        self.path = Path(path)

    def embed(self, texts: list[str], prompt: str) -> np.ndarray:
        """One text per run: int8 scales activations per run, so a batch would make a passage's vector depend
        on its batch mates (an added document would not embed as in a fresh build); unpadded runs are also no
        slower here (ViQuAD passages, 2 cores: 20.0 passages/s one by one, 18.3 in batches of 32)."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch([prompt + t for t in texts])):
            ids = np.asarray([truncated(encoding.ids, self.max_tokens)], dtype=np.int64)
            tokens = self.session.run(list(OUTPUTS), {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
            vec = tokens[0].mean(axis=0)
            out[row] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return out

    embed_question = embed
