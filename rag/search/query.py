"""The question, analysed once at the front of the flow; every later stage reads this, none re-derives it.

NFC first: a question typed in decomposed Unicode (NFD, as some macOS and Windows input methods
produce) has its accents as separate code points, which would read as "no diacritics".
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from ..errors import QuestionError
from ..index.lexical import content_terms
from ..vietnamese import fold, has_diacritics, looks_vietnamese, match_key, nfc, syllables
from ..types import Query
from .sections import parse_reference

if TYPE_CHECKING:
    from ..index.lexical import KeywordIndex

logger = logging.getLogger(__name__)

# What a question asks for, first match wins: the answer stage looks for a new one of these.
_WANTS = (
    ("number", re.compile(r"bao nhiêu|mấy|how many|how much|số lượng|bao nhieu|\bmay\b")),
    ("date", re.compile(r"ngày nào|khi nào|năm nào|tháng nào|bao giờ|lúc nào|when|ngay nao|khi nao|nam nao")),
    ("name", re.compile(r"^ai\b|\bai\b|who|đồng chí nào|người nào")),
)
# Broader shapes of answer, matched on the accent-folded question.
_SHAPES = (
    ("why", re.compile(r"\b(?:tai sao|vi sao|vi ly do gi|ly do|why)\b")),
    ("how", re.compile(r"\b(?:nhu the nao|the nao|bang cach nao|ra sao|how)\b")),
    ("list", re.compile(r"\b(?:nhung|cac|gom)\b.*\bnao\b|\bliet ke\b|\bgom nhung\b|\bwhich\b")),
)


def wants(question: str) -> str | None:
    """The kind of thing a question asks for: 'number', 'date', 'name' or None."""
    q = question.lower()
    return next((kind for kind, pattern in _WANTS if pattern.search(q)), None)


def answer_kind(question: str) -> str | None:
    """'name', 'number' or 'date' (:func:`wants`), else 'why', 'how' or 'list', else None."""
    found = wants(question)
    if found:
        return found
    folded = fold(question.lower())
    return next((kind for kind, pattern in _SHAPES if pattern.search(folded)), None)


def listed_noun(tokens: list[str]) -> str | None:
    """The noun a list question asks for: 'tỉnh' in "gồm những tỉnh nào", 'tôn giáo' in "các tôn giáo
    nào", as typed (``tokens`` are the question's syllables); ``None`` when the question does not ask "which ones"."""
    folded = [fold(t) for t in tokens]
    for i, word in enumerate(folded[:-2]):
        if word in ("nhung", "cac") and "nao" in folded[i + 2:i + 4]:
            return " ".join(tokens[i + 1:folded.index("nao", i + 2)])
    return None


def clean(text: object, max_chars: int) -> str:
    """NFC, whitespace collapsed, at most ``max_chars`` characters; :class:`QuestionError` when not text or empty."""
    if not isinstance(text, str):
        msg = f"The question must be text, got {type(text).__name__}."
        raise QuestionError(msg)
    text = " ".join(nfc(text).split())
    if not text:
        msg = "Câu hỏi trống. / The question is empty."
        raise QuestionError(msg)
    if len(text) > max_chars:
        logger.warning("Question of %d characters truncated to %d (setting 'max_question_chars').", len(text), max_chars)
        text = text[:max_chars]
    return text


def analyse(text: object, keywords: KeywordIndex | None = None, *, max_chars: int = 2000,
            restore: bool = True) -> Query:
    """Clean and analyse ``text`` into the :class:`Query` every later stage reads; ``keywords`` (the
    corpus's BM25 index) restores missing diacritics.

    Example::

        q = analyse("Cum thi dua so 2 gom nhung tinh nao?", keywords)
        q.folded        # True: typed without diacritics
        q.dense_text    # 'Cụm thi đua số 2 gồm những tỉnh nào?' (restored from the corpus)
        q.terms         # ('cum', 'thi', 'dua', 'so', '2', 'gom', 'tinh')
    """
    text = clean(text, max_chars)
    folded = not has_diacritics(text)
    dense = keywords.restore(text) if folded and restore and keywords is not None else text
    tokens = syllables(text, folded=folded)
    return Query(text=text, folded=folded, syllables=tuple(tokens), terms=tuple(content_terms(tokens, folded)),
                 dense_text=dense, wants=wants(text), kind=answer_kind(text), listed=listed_noun(tokens),
                 vietnamese=looks_vietnamese(text), key=match_key(fold(text)) if folded else match_key(text),
                 reference=parse_reference(text))
