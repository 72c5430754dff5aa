"""Run a question set through :meth:`rag.Assistant.ask` and score it.

Every question goes through exactly the code path of ``virag ask``; each answer is judged
against its gold data (:mod:`evals.matching`) into a :class:`QuestionResult`, and the metric
evaluators turn those rows into the summary of an :class:`EvalResult`.

Example::

    from rag import Assistant, Settings
    from evals.loading import load_questions
    from evals.runner import EvalRunner

    qa = Assistant.from_folder("seeds", settings=Settings().with_(top_k=10))
    result = EvalRunner(qa, k=10).run(load_questions("evals/seed_dev.jsonl").questions)
    result.retrieval["doc_recall@5"], result.answer["accuracy"], result.latency_ms["p50"]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from rag.types import Citation

from .abstention import AbstentionEvaluator
from .answer_accuracy import AnswerAccuracyEvaluator
from .answer_length import AnswerLengthEvaluator
from .answer_overlap import SpanOverlapEvaluator
from .citation_precision import CitationPrecisionEvaluator
from .doc_mrr import DocumentMRREvaluator
from .doc_ndcg import DocumentNDCGEvaluator
from .doc_recall import DocumentRecallEvaluator
from .evidence_mrr import EvidenceMRREvaluator
from .evidence_recall import EvidenceRecallEvaluator
from .latency import LatencyEvaluator
from .section_precision import SectionPrecisionEvaluator
from .matching import answer_matches, citation_supported, evidence_hit
from .questions import Question
from .ranking import best_ranks, first_hit

logger = logging.getLogger(__name__)

RETRIEVAL_KEYS = ("doc_recall@1", "doc_recall@5", "doc_recall@10", "doc_mrr@10", "doc_ndcg@10",
                  "evidence_recall@1", "evidence_recall@5", "evidence_mrr@10")
ANSWER_KEYS = ("accuracy", "exact_match", "answer_f1", "abstention_recall", "false_abstention_rate",
               "citation_precision", "section_precision", "median_answer_chars")
LATENCY_KEYS = ("p50", "p95")
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class PassageResult:
    """One retrieved passage of a question, and whether it holds the evidence."""

    rank: int
    source: str
    start: int
    end: int
    score: float
    evidence_hit: bool
    snippet: str


@dataclass(frozen=True)
class CitationResult(Citation):
    """One citation of an answer, and whether it points at gold support."""

    supported: bool = False


@dataclass
class QuestionResult:
    """One row of ``per_question``: the gold data, what the assistant did, and how it was judged."""

    question: Question
    answer: str
    abstained: bool
    confidence: float
    latency_ms: float
    passages: list[PassageResult] = field(default_factory=list)
    citations: list[CitationResult] = field(default_factory=list)
    short_answer: str | None = None  # the reader's span, when the answerer gives one

    @property
    def prediction(self) -> str:
        """What exact match and F1 score: the short answer, else the whole answer text."""
        return self.short_answer if self.short_answer is not None else self.answer

    @property
    def retrieved_documents(self) -> list[str]:
        return [p.source for p in sorted(self.passages, key=lambda p: p.rank)]

    @property
    def evidence_flags(self) -> list[bool]:
        return [p.evidence_hit for p in sorted(self.passages, key=lambda p: p.rank)]

    @property
    def doc_ranks(self) -> dict[str, int | None]:
        """Each gold document's best passage rank (None: not retrieved)."""
        ranks = best_ranks(self.retrieved_documents)
        return {d: ranks.get(d) for d in dict.fromkeys(self.question.docs)}

    @property
    def evidence_rank(self) -> int | None:
        return first_hit(self.evidence_flags, len(self.passages))

    @property
    def correct(self) -> bool:
        """Answerable: not abstained and the answer matches; unanswerable: abstained."""
        q = self.question
        if not q.answerable:
            return self.abstained
        return not self.abstained and answer_matches(self.answer, q.answers, q.match)

    def hits(self) -> dict[str, bool] | None:
        if not self.question.answerable:
            return None
        ranks = [r for r in self.doc_ranks.values() if r is not None]
        ev = self.evidence_rank
        out = {f"doc@{k}": bool(ranks) and min(ranks) <= k for k in (1, 5, 10)}
        out.update({f"evidence@{k}": ev is not None and ev <= k for k in (1, 5, 10)})
        return out

    def to_dict(self) -> dict:
        q = self.question
        return {
            **q.to_dict(), "kind": q.kind,
            "answer": self.answer, "short_answer": self.short_answer, "abstained": self.abstained, "confidence": round(self.confidence, 4),
            "correct": self.correct, "latency_ms": round(self.latency_ms, 2),
            "doc_ranks": self.doc_ranks, "evidence_rank": self.evidence_rank, "hits": self.hits(),
            "citations": [asdict(c) for c in self.citations],
            "passages": [{**asdict(p), "score": round(p.score, 6)} for p in self.passages],
        }


def judge(question: Question, answer, latency_ms: float, documents: Mapping[str, str]) -> QuestionResult:
    """Judge one :class:`rag.Answer` against its question; ``documents`` maps sources to their text."""
    passages = []
    for p in sorted(answer.passages, key=lambda p: p.rank):
        c = p.chunk
        hit = question.answerable and evidence_hit(c.text, c.source, c.start, c.end, question.evidence,
                                                   question.docs, documents.get(c.source))
        passages.append(PassageResult(p.rank, c.source, c.start, c.end, float(p.score), hit,
                                      " ".join(c.text.split())[:SNIPPET_CHARS]))
    citations = [
        CitationResult(**{**asdict(c), "score": float(c.score)},
                       supported=citation_supported(c.quote, c.source, c.start, c.end, question.docs,
                                                    question.evidence, question.answers, documents.get(c.source)))
        for c in answer.citations
    ]
    short = answer.short_answer.text if getattr(answer, "short_answer", None) else None
    return QuestionResult(question, answer.text, bool(answer.abstained), float(answer.confidence), latency_ms,
                          passages, citations, short)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def compute_metrics(rows: Sequence[QuestionResult]) -> dict[str, dict[str, float | None]]:
    """The summary of ``rows``: ``{"retrieval": {...}, "answer": {...}, "latency_ms": {...}}``.

    Retrieval metrics and accuracy cover answerable questions only; a metric with nothing to
    measure (no answerable question, no citation) is None.
    """
    answerable = [r for r in rows if r.question.answerable]
    gold = [r.question.docs for r in answerable]
    retrieved = [r.retrieved_documents for r in answerable]
    flags = [r.evidence_flags for r in answerable]
    retrieval = {
        "doc_recall@1": DocumentRecallEvaluator(1).run(gold, retrieved)["score"],
        "doc_recall@5": DocumentRecallEvaluator(5).run(gold, retrieved)["score"],
        "doc_recall@10": DocumentRecallEvaluator(10).run(gold, retrieved)["score"],
        "doc_mrr@10": DocumentMRREvaluator(10).run(gold, retrieved)["score"],
        "doc_ndcg@10": DocumentNDCGEvaluator(10).run(gold, retrieved)["score"],
        "evidence_recall@1": EvidenceRecallEvaluator(1).run(flags)["score"],
        "evidence_recall@5": EvidenceRecallEvaluator(5).run(flags)["score"],
        "evidence_mrr@10": EvidenceMRREvaluator(10).run(flags)["score"],
    }
    overlap = SpanOverlapEvaluator().run([r.prediction for r in answerable], [r.question.answers for r in answerable],
                                         [r.abstained for r in answerable])
    abstention = AbstentionEvaluator().run([r.question.answerable for r in rows], [r.abstained for r in rows])
    answer = {
        "accuracy": AnswerAccuracyEvaluator().run(
            [r.answer for r in answerable], [r.question.answers for r in answerable],
            [r.question.match for r in answerable], [r.abstained for r in answerable])["score"],
        "exact_match": overlap["exact_match"],
        "answer_f1": overlap["answer_f1"],
        "abstention_recall": abstention["abstention_recall"],
        "false_abstention_rate": abstention["false_abstention_rate"],
        "citation_precision": CitationPrecisionEvaluator().run(
            [[c.supported for c in r.citations] for r in rows])["score"],
        "section_precision": SectionPrecisionEvaluator().run(
            [r.question.section for r in rows], [r.question.docs for r in rows],
            [[(c.source, c.section) for c in r.citations] for r in rows])["score"],
        "median_answer_chars": AnswerLengthEvaluator().run([r.answer for r in rows],
                                                           [r.abstained for r in rows])["score"],
    }
    latency = LatencyEvaluator().run([r.latency_ms for r in rows])
    return {
        "retrieval": {k: _rounded(v, 4) for k, v in retrieval.items()},
        "answer": {k: _rounded(v, 1 if k == "median_answer_chars" else 4) for k, v in answer.items()},
        "latency_ms": {k: _rounded(v, 2) for k, v in latency.items()},
    }


@dataclass
class EvalResult:
    """A whole run: the summary metrics, the configuration, and one row per question."""

    retrieval: dict[str, float | None]
    answer: dict[str, float | None]
    latency_ms: dict[str, float | None]
    config: dict
    per_question: list[QuestionResult]

    @property
    def n_questions(self) -> int:
        return len(self.per_question)

    def to_dict(self) -> dict:
        """The ``--json`` layout."""
        return {"n_questions": self.n_questions, "retrieval": self.retrieval, "answer": self.answer,
                "latency_ms": self.latency_ms, "config": self.config,
                "per_question": [r.to_dict() for r in self.per_question]}


def without_gold(question: Question) -> Question:
    """``question`` as it stands once its gold documents are gone from the corpus: unanswerable.

    The rest of the corpus stays, the gold document's article included when it is split in passages
    (ViQuAD's corpus is one file per paragraph): related text is there, the answer is not.
    """
    return replace(question, answers=[], match="none", docs=[], evidence=[], answerable=False, section=None)


def missing_documents(questions: Sequence[Question], documents: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(question id, file)`` for every gold document that is not in the corpus index."""
    return [(q.id, d) for q in questions for d in q.docs if d not in documents]


class EvalRunner:
    """Ask every question through ``assistant.ask``, judge the answers, and summarise.

    Args:
        assistant: a :class:`rag.Assistant`.
        k: passages retrieved per question (the @10 metrics need ``k >= 10``), recorded in the config.
        show_progress: draw a tqdm progress bar with ETA on stderr.
    """

    def __init__(self, assistant, *, k: int = 10, show_progress: bool = False, gold_removed: bool = False) -> None:
        self.assistant = assistant
        self.k = k
        self.show_progress = show_progress
        self.gold_removed = gold_removed

    def config(self) -> dict:
        """``Settings.to_dict()`` plus k and the fingerprint of the model the index was built with."""
        return {**self.assistant.settings.to_dict(), "k": self.k, "gold_removed": self.gold_removed,
                "model_fingerprint": self.assistant.index.manifest.model}

    def ask_all(self, questions: Sequence[Question]) -> list[QuestionResult]:
        """Ask each question (timed; the first one is asked once more, untimed, to warm up) and judge it."""
        from tqdm import tqdm

        documents = self.assistant.index.texts
        if questions:  # untimed: loads the model (when the index was reused) and warms caches
            self.assistant.ask(questions[0].question, top_k=self.k)
        rows = []
        for q in tqdm(questions, desc="eval", unit="q", disable=not self.show_progress, mininterval=0.5,
                      dynamic_ncols=True):
            exclude = ()
            if self.gold_removed and q.answerable:  # asked without the documents that answer it: should abstain
                q, exclude = without_gold(q), q.docs
            started = time.perf_counter()
            answer = self.assistant.ask(q.question, top_k=self.k, exclude=exclude)
            rows.append(judge(q, answer, (time.perf_counter() - started) * 1000, documents))
        return rows

    def run(self, questions: Sequence[Question], *, config: dict | None = None) -> EvalResult:
        """Ask and score ``questions``; ``config`` entries (corpus, questions file, …) are added to the config."""
        started = time.perf_counter()
        rows = self.ask_all(questions)
        metrics = compute_metrics(rows)
        logger.info("Evaluated %d questions in %.1fs.", len(rows), time.perf_counter() - started)
        return EvalResult(metrics["retrieval"], metrics["answer"], metrics["latency_ms"],
                          {**self.config(), **(config or {})}, rows)
