"""Shared pieces of the ranking metrics: document ranks from passage ranks, input checks, means."""

from __future__ import annotations

from collections.abc import Sequence


def best_ranks(retrieved: Sequence[str]) -> dict[str, int]:
    """Each document's best 1-based rank in a list of passage sources, best passage first.

    A retrieved passage counts for its source file; a document counts once, at its best rank:
    its later passages add nothing (and the positions they take are not given to others).

    Example::

        best_ranks(["b.txt", "a.txt", "b.txt", "c.txt"])     # {'b.txt': 1, 'a.txt': 2, 'c.txt': 4}
    """
    ranks: dict[str, int] = {}
    for rank, source in enumerate(retrieved, start=1):
        ranks.setdefault(source, rank)
    return ranks


def first_hit(hits: Sequence[bool], k: int) -> int | None:
    """The 1-based rank of the first true flag within the top ``k``, or None."""
    return next((rank for rank, hit in enumerate(hits[:k], start=1) if hit), None)


def check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        msg = f"k must be a positive integer, got {k!r}."
        raise ValueError(msg)


def check_lengths(**lists: Sequence) -> None:
    """All lists have one entry per question."""
    lengths = {name: len(v) for name, v in lists.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} ({n})" for name, n in lengths.items())
        msg = f"The inputs must have one entry per question; lengths differ: {shown}."
        raise ValueError(msg)


def check_ground_truth(ground_truth_documents: Sequence[Sequence[str]]) -> None:
    """Document metrics are defined only for questions with gold documents (the answerable ones)."""
    for i, gold in enumerate(ground_truth_documents):
        if not gold:
            msg = (f"Question {i} has no ground-truth documents; retrieval metrics cover answerable "
                   "questions only: leave the others out.")
            raise ValueError(msg)


def mean(scores: Sequence[float]) -> float | None:
    """The mean, or None when there is nothing to average."""
    return sum(scores) / len(scores) if scores else None


class DocumentMetric:
    """Base of the document-level metrics: validation and the per-question loop.

    A subclass implements :meth:`score` for one question: its gold documents and the best rank
    of every document among the retrieved passages (only the top ``k`` are looked at).
    """

    def __init__(self, k: int = 10) -> None:
        check_k(k)
        self.k = k

    def score(self, gold: set[str], ranks: dict[str, int]) -> float:
        raise NotImplementedError

    def run(self, ground_truth_documents: Sequence[Sequence[str]],
            retrieved_documents: Sequence[Sequence[str]]) -> dict:
        """Score each question.

        Args:
            ground_truth_documents: the gold file names of each question (non-empty).
            retrieved_documents: the source file of each retrieved passage, best first.

        Returns:
            ``{"score": mean or None when there is no question, "individual_scores": [...]}``.
        """
        check_lengths(ground_truth_documents=ground_truth_documents, retrieved_documents=retrieved_documents)
        check_ground_truth(ground_truth_documents)
        scores = [self.score(set(gold), best_ranks(retrieved[: self.k]))
                  for gold, retrieved in zip(ground_truth_documents, retrieved_documents)]
        return {"score": mean(scores), "individual_scores": scores}


class EvidenceMetric:
    """Base of the evidence-level metrics: :meth:`score` turns one question's first-hit rank into a score."""

    def __init__(self, k: int = 10) -> None:
        check_k(k)
        self.k = k

    def score(self, rank: int | None) -> float:
        raise NotImplementedError

    def run(self, hits: Sequence[Sequence[bool]]) -> dict:
        """Score each question.

        Args:
            hits: per question, one flag per retrieved passage (best first): does it hold the evidence?

        Returns:
            ``{"score": mean or None when there is no question, "individual_scores": [...]}``.
        """
        scores = [self.score(first_hit(flags, self.k)) for flags in hits]
        return {"score": mean(scores), "individual_scores": scores}
