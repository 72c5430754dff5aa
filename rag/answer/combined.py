"""The default answer: the reader and the sentence scorer both propose, a learned decision chooses.

The reader proposes a short answer and the sentence that holds it; the sentence scorer proposes its
best sentences; :class:`~rag.answer.decision.Decision` says which is likely right. The reader's form
when it is; the scorer's sentences (the reader's span bolded inside them when it lies there) when only
they are; "the documents do not say", with the closest passages, when neither is.
"""

from __future__ import annotations

from dataclasses import replace

from ..types import Answer, Citation, Retrieval
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


def marked_quote(quoted: Answer, read: Answer) -> tuple[Citation, str] | None:
    """The quote of ``quoted`` that holds ``read``'s short answer, and its text with that span in bold
    (whitespace collapsed, as answers show quotes); None when no quote holds it."""
    short = read.short_answer
    holding = next((c for c in quoted.citations if short is not None and c.source == short.source
                    and c.start <= short.start and short.end <= c.end), None)
    if holding is None:
        return None
    a, b = short.start - holding.start, short.end - holding.start
    return holding, " ".join(f"{holding.quote[:a]}**{holding.quote[a:b].strip()}**{holding.quote[b:]}".split())


def bolded(quoted: Answer, read: Answer) -> Answer:
    """The sentence answer with the reader's span in bold where one of its quotes holds it (the span is
    then its short answer too); unchanged otherwise."""
    found = marked_quote(quoted, read)
    if found is None:
        return quoted
    holding, marked = found
    old = f"{' '.join(holding.quote.split())} [{holding.n}]"
    return replace(quoted, text=quoted.text.replace(old, f"{marked} [{holding.n}]", 1), short_answer=read.short_answer)


__all__ = ["CombinedAnswerer", "bolded", "marked_quote"]
