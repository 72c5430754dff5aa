"""How answers, retrieved passages and citations are judged against gold data (rules of the question-set format).

Example::

    from evals.matching import answer_matches, citation_supported, evidence_hit
    answer_matches("Ông Nguyễn Văn Thủy chủ trì. [1]", ["nguyễn văn thuỷ"], "any")      # True
    doc = "Hội nghị diễn ra tại 28 điểm cầu."
    evidence_hit(doc[:20], "a.txt", 0, 20, ["tại 28 điểm cầu"], ["a.txt"], doc)      # True (overlap >= half)
    citation_supported(doc, "a.txt", 0, len(doc), ["a.txt"], [], ["28"], doc)       # True (holds a gold answer)
"""

from __future__ import annotations

from functools import lru_cache

from rag.vietnamese import canonical_tones, match_key, nfc


def answer_matches(answer: str, gold: list[str], match: str) -> bool:
    """``any``: contains one gold string; ``all``: contains every one; ``none``: judged by abstention instead.

    The answer is read as shown: its Markdown bold (``**short answer**``) is formatting, not text."""
    key = match_key(answer.replace("**", ""))
    found = [match_key(g) in key for g in gold if g.strip()]
    if match == "all":
        return bool(found) and all(found)
    if match == "any":
        return any(found)
    return False


@lru_cache(maxsize=64)
def _search_key(text: str) -> tuple[str, bool]:
    """``text`` with canonical tones, lower-cased, when that keeps every offset (and True); else ``text``."""
    key = canonical_tones(nfc(text)).lower()
    return (key, True) if len(key) == len(text) else (text, False)


def evidence_spans(document_text: str, evidence: list[str]) -> list[tuple[int, int]]:
    """Every ``(start, end)`` where an evidence string occurs in the document.

    The search ignores case and tone-mark placement ("hòa"/"hoà") when that keeps offsets unchanged.
    """
    doc_key, normalised = _search_key(document_text)
    spans = []
    for e in evidence:
        if not e or not e.strip():
            continue
        needle = canonical_tones(nfc(e)).lower() if normalised else nfc(e)
        pos = doc_key.find(needle)
        while pos >= 0:
            spans.append((pos, pos + len(needle)))
            pos = doc_key.find(needle, pos + 1)
    return spans


def evidence_hit(text: str, source: str, start: int, end: int, evidence: list[str], docs: list[str],
                 document_text: str | None = None) -> bool:
    """A passage hits when it contains an evidence string, or its span overlaps one by half its length."""
    if docs and source not in docs:
        return False
    key = match_key(text)
    if any(match_key(e) in key for e in evidence if e.strip()):
        return True
    if document_text is None:
        return False
    for s, e in evidence_spans(document_text, evidence):
        overlap = min(end, e) - max(start, s)
        if overlap >= (e - s) / 2:
            return True
    return False


def citation_supported(quote: str, source: str, start: int, end: int, docs: list[str], evidence: list[str],
                       answers: list[str], document_text: str | None = None) -> bool:
    """A citation is supported when its span lies in a gold document and either overlaps an evidence span
    (by at least one character, or by quoting an evidence string) or contains a gold answer.

    A question without gold documents (an unanswerable one) supports no citation.
    """
    if source not in docs:
        return False
    key = match_key(quote)
    if any(match_key(s) in key for s in [*evidence, *answers] if s.strip()):
        return True
    if document_text is None:
        return False
    return any(min(end, e) - max(start, s) > 0 for s, e in evidence_spans(document_text, evidence))
