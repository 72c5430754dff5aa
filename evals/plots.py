"""``--plots``: PNG charts of an eval run, drawn with matplotlib's Agg backend (no display needed).

Example::

    from evals.plots import write_plots
    write_plots(result, "plots/")      # [PosixPath('plots/recall_at_k.png'), PosixPath('plots/latency_ms.png')]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .doc_recall import DocumentRecallEvaluator
from .evidence_recall import EvidenceRecallEvaluator
from .runner import EvalResult, QuestionResult

logger = logging.getLogger(__name__)


def recall_curve(rows: Sequence[QuestionResult], max_k: int) -> dict[str, list[float | None]]:
    """``doc_recall@k`` and ``evidence_recall@k`` for k = 1 … ``max_k`` over the answerable rows."""
    answerable = [r for r in rows if r.question.answerable]
    gold = [r.question.docs for r in answerable]
    retrieved = [r.retrieved_documents for r in answerable]
    flags = [r.evidence_flags for r in answerable]
    return {
        "doc_recall": [DocumentRecallEvaluator(k).run(gold, retrieved)["score"] for k in range(1, max_k + 1)],
        "evidence_recall": [EvidenceRecallEvaluator(k).run(flags)["score"] for k in range(1, max_k + 1)],
    }


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def write_plots(result: EvalResult, folder: str | Path) -> list[Path]:
    """Write ``recall_at_k.png`` (recall against depth) and ``latency_ms.png`` (histogram) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = result.per_question
    max_k = max([len(r.passages) for r in rows] + [1])
    written = []

    curve = recall_curve(rows, max_k)
    fig = _figure()
    ax = fig.add_subplot()
    ks = list(range(1, max_k + 1))
    for name, values in curve.items():
        if any(v is not None for v in values):
            ax.plot(ks, [v if v is not None else float("nan") for v in values], marker="o", label=name)
    ax.set(xlabel="k (passages)", ylabel="recall@k", ylim=(0, 1.02), xticks=ks,
           title=f"Recall@k ({sum(r.question.answerable for r in rows)} answerable questions)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    written.append(folder / "recall_at_k.png")
    fig.savefig(written[-1])

    fig = _figure()
    ax = fig.add_subplot()
    latencies = [r.latency_ms for r in rows]
    ax.hist(latencies, bins=min(40, max(5, len(latencies) // 5)), color="tab:blue", alpha=0.8)
    for key, style in (("p50", "--"), ("p95", ":")):
        value = result.latency_ms.get(key)
        if value is not None:
            ax.axvline(value, color="black", linestyle=style, label=f"{key} {value:.1f} ms")
    ax.set(xlabel="latency of ask (ms)", ylabel="questions", title=f"Latency ({len(rows)} questions)")
    ax.legend()
    fig.tight_layout()
    written.append(folder / "latency_ms.png")
    fig.savefig(written[-1])
    logger.info("Wrote plots %s.", ", ".join(str(p) for p in written))
    return written
