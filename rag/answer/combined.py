"""The default answer: the reader and the sentence scorer both propose, a learned decision chooses.

The reader proposes a short answer and the sentence that holds it; the sentence scorer proposes its
best sentences; :class:`~rag.answer.decision.Decision` says which is likely right. The reader's form
when it is; the scorer's sentences (the reader's span bolded inside them when it lies there) when only
they are; "the documents do not say", with the closest passages, when neither is.
"""

from __future__ import annotations

from dataclasses import replace

from ..types import Answer, Retrieval
from .decision import Decision, signals
from .protocol import Answerer
from .reader_answerer import ReaderAnswerer
from .sentences import SentenceAnswerer, abstention


class CombinedAnswerer(Answerer):
    """Answers with whichever of the reader and the sentence scorer the decision trusts, or abstains.

    Example::

        combined = CombinedAnswerer(reader_answerer, sentence_answerer, Decision.load())
        answer = combined.run(retrieval)
        answer.short_answer.text    # '14 tỉnh' (the reader's form) …
        answer.confidence           # … the decision's chance that it is right
    """

    name = "combined"

    def __init__(self, reader: ReaderAnswerer, sentences: SentenceAnswerer, decision: Decision,
                 abstain_below: float | None = None) -> None:
        # both propose without their own thresholds: the decision is the only one that abstains
        self.reader = ReaderAnswerer(replace(reader.options, reader_threshold=float("-inf")), reader.index,
                                     reader.reader)
        self.sentences = SentenceAnswerer(replace(sentences.options, abstain_threshold=0.0), sentences.index,
                                          sentences.keywords)
        self.decision = decision
        self.abstain_below = abstain_below

    def propose(self, retrieval: Retrieval) -> tuple[Answer, Answer]:
        """What each answerer would say, unthresholded."""
        return self.reader.run(retrieval), self.sentences.run(retrieval)

    def run(self, retrieval: Retrieval) -> Answer:
        read, quoted = self.propose(retrieval)
        choice, chance = self.decision.choose(signals(retrieval, read, quoted), self.abstain_below)
        if choice == "neither":
            return abstention(retrieval.query, retrieval, chance, answerer=self.name)
        if choice == "reader":
            return replace(read, confidence=chance, answerer=self.name)
        return replace(bolded(quoted, read), confidence=chance, answerer=self.name)


def bolded(quoted: Answer, read: Answer) -> Answer:
    """The sentence answer with the reader's span in bold where one of its quotes holds it (the span is
    then its short answer too); unchanged otherwise."""
    short = read.short_answer
    holding = next((c for c in quoted.citations if short is not None and c.source == short.source
                    and c.start <= short.start and short.end <= c.end), None)
    if holding is None:
        return quoted
    a, b = short.start - holding.start, short.end - holding.start
    marked = f"{holding.quote[:a]}**{holding.quote[a:b].strip()}**{holding.quote[b:]}"
    old = f"{' '.join(holding.quote.split())} [{holding.n}]"
    new = f"{' '.join(marked.split())} [{holding.n}]"
    return replace(quoted, text=quoted.text.replace(old, new, 1), short_answer=short)


__all__ = ["CombinedAnswerer", "bolded"]
