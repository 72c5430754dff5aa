"""Follow-up questions: turn "Còn cụm số III thì sao?" into a question that stands alone.

Without an LLM, a question that reads like a follow-up (it opens with "còn", ends with "thì
sao", leans on "đó/ấy/này/họ", or is very short) borrows the previous question: the previous
question with its specifics (numbers, names) replaced by the new ones. With an LLM, the model
rewrites it (langchain's condense-question step).
"""

from __future__ import annotations

import functools
import re

from ..vietnamese import fold
from ..types import Query
from .query import analyse

_OPENERS = ("còn", "thế còn", "vậy còn", "vậy", "và", "thế")
_CLOSERS = ("thì sao", "thì thế nào", "thì như thế nào", "ra sao", "thế nào")
_PRONOUNS = ("đó", "ấy", "này", "họ", "nó", "đấy", "trên")
_SPECIFIC = re.compile(r"\b(?:\d+(?:[./]\d+)*|[IVXLC]+)\b|\b[A-ZĐ][^\W\d_]*(?:\s+[A-ZĐ][^\W\d_]*)+")
CONDENSE_PROMPT = (
    "Dựa vào các câu hỏi trước trong cuộc trò chuyện, viết lại câu hỏi tiếp theo thành một câu hỏi "
    "đầy đủ, tự hiểu được, bằng tiếng Việt. Chỉ trả lời bằng câu hỏi đã viết lại."
)


def _key(text: str) -> str:
    return " ".join(fold(text.lower()).split())


def is_followup(question: Query | str) -> bool:
    """Does ``question`` lean on an earlier one?"""
    query = analyse(question) if isinstance(question, str) else question
    key = _key(query.text).rstrip("?!. ")
    if any(key.startswith(_key(o) + " ") for o in _OPENERS) or any(key.endswith(_key(c)) for c in _CLOSERS):
        return True
    if not query.folded:
        words = set(re.findall(r"\w+", query.text.lower()))
        if words & set(_PRONOUNS):
            return True
    return len(query.terms) <= 2


def condense(question: Query | str, history: list[str]) -> str:
    """The question to search for: ``question`` itself, or completed from the last question of ``history``."""
    query = analyse(question) if isinstance(question, str) else question
    if not history or not is_followup(query):
        return query.text
    previous = history[-1]
    olds, news = list(_SPECIFIC.finditer(previous)), [m.group(0) for m in _SPECIFIC.finditer(query.text)]
    if olds and len(olds) == len(news) and not _new_words(query, previous, news):
        # "Còn cụm số III thì sao?" after "Cụm thi đua số 2 gồm những tỉnh nào?": the same question about III
        replacements = iter(news)
        return _SPECIFIC.sub(lambda _: next(replacements), previous)
    if news:
        previous = _SPECIFIC.sub(" ", previous)
    return " ".join(f"{previous} {query.text}".split())


def _new_words(query: Query, previous: str, specifics: list[str]) -> set[str]:
    """The follow-up's content words that are neither in the previous question nor among its specifics."""
    known = set(analyse(previous).terms) | {t for s in specifics for t in analyse(s).terms}
    return set(query.terms) - known - _framing()


@functools.cache
def _framing() -> frozenset[str]:
    """The syllables of the openers and closers ("còn", "thì sao"): a follow-up's frame, not its content."""
    return frozenset(t for phrase in (*_OPENERS, *_CLOSERS) for t in analyse(phrase).syllables)


def condense_with_llm(chat_model, question: Query | str, history: list[str]) -> str:
    """Ask the chat model for a stand-alone question (falls back to :func:`condense` on failure)."""
    question = question if isinstance(question, str) else question.text
    if not history:
        return question
    lines = "\n".join(f"- {h}" for h in history[-4:])
    try:
        reply = chat_model.invoke([("system", CONDENSE_PROMPT),
                                   ("human", f"Các câu hỏi trước:\n{lines}\n\nCâu hỏi tiếp theo: {question}")])
        text = str(reply.content).strip()
    except Exception:  # a flaky server must not break the conversation
        return condense(question, history)
    return text or condense(question, history)
