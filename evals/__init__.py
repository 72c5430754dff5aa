"""virag's eval stage: question sets, deterministic metrics (one evaluator per module), runner and reports.

Names are imported lazily, so ``import evals`` (and the ``virag eval`` argument parser) stays light.

Example::

    from evals import EvalRunner, load_questions
    result = EvalRunner(assistant, k=10).run(load_questions("evals/seed_dev.jsonl").questions)
    result.retrieval["doc_ndcg@10"]
"""

from importlib import import_module

_EXPORTS = {
    "Question": ".questions",
    "QuestionSet": ".questions",
    "QuestionFileError": ".questions",
    "load_questions": ".questions",
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


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    msg = f"module 'evals' has no attribute {name!r}"
    raise AttributeError(msg)
