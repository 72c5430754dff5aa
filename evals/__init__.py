"""virag's eval stage: question sets, deterministic metrics (one evaluator per module), runner and reports.

Names are imported lazily, so ``import evals`` (and the ``virag eval`` argument parser) stays light.

Example::

    from evals import EvalRunner, load_questions
    result = EvalRunner(assistant, k=10).run(load_questions("evals/seed_dev.jsonl").questions)
    result.retrieval["doc_ndcg@10"]
"""

from rag.lazy import lazy_exports

_EXPORTS = {
    "Question": ".questions",
    "QuestionSet": ".questions",
    "QuestionFileError": ".questions",
    "load_questions": ".loading",
    "load_squad": ".squad",
    "EvalRunner": ".runner",
    "EvalResult": ".runner",
    "QuestionResult": ".runner",
    "compute_metrics": ".runner",
    "DocumentRecallEvaluator": ".doc_recall",
    "DocumentMRREvaluator": ".doc_mrr",
    "DocumentNDCGEvaluator": ".doc_ndcg",
    "EvidenceRecallEvaluator": ".evidence_recall",
    "EvidenceMRREvaluator": ".evidence_mrr",
    "AnswerAccuracyEvaluator": ".answer_accuracy",
    "AbstentionEvaluator": ".abstention",
    "CitationPrecisionEvaluator": ".citation_precision",
    "AnswerLengthEvaluator": ".answer_length",
    "LatencyEvaluator": ".latency",
}
__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
