"""The reader alone, on each question's gold paragraph: SQuAD-style exact match and F1 (``virag eval --reader-only``)."""

from __future__ import annotations

import random
from pathlib import Path

from rag.answer.training import read_squad

from .answer_overlap import SpanOverlapEvaluator


def gold_rows(path: Path, limit: int | None = None, seed: int = 13) -> list[tuple[str, str, list[str]]]:
    """``(question, gold paragraph, answers)`` of a SQuAD file; a random ``limit`` of them when given."""
    rows = [(q, context, [a for _, a in answers]) for paragraphs in read_squad(path) for context, qas in paragraphs
            for _, q, answers in qas if answers]
    return random.Random(seed).sample(rows, limit) if limit and limit < len(rows) else rows


def score_reader(reader, rows: list[tuple[str, str, list[str]]], *, threshold: float | None = None,
                 max_tokens: int | None = None) -> dict:
    """EM and F1 of ``reader`` on ``rows``; with ``threshold``, a margin at or below it counts as abstaining.
    ``max_tokens``: the longest span (default: the weights' own)."""
    spans = []
    for c in range(0, len(rows), 32):
        part = rows[c : c + 32]
        spans += reader.read_pairs([q for q, _, _ in part], [ctx for _, ctx, _ in part], max_tokens=max_tokens)
    abstained = [threshold is not None and s.margin <= threshold for s in spans]
    result = SpanOverlapEvaluator().run([s.text for s in spans], [a for _, _, a in rows], abstained)
    return {"n": len(rows), "exact_match": round(result["exact_match"], 4), "answer_f1": round(result["answer_f1"], 4),
            "abstain_at_0": round(sum(s.margin <= 0 for s in spans) / max(1, len(spans)), 4)}
