"""Lists: a question that asks "which ones" is answered with the enumeration, not only the sentence
that names the group.

News prose often names a group in one sentence ("Cụm thi đua số III … khu vực miền Trung – Tây
nguyên") and lists its members in another ("… Tỉnh ủy Quảng Ngãi …; … Tỉnh ủy Quảng Nam …").
When the quoted evidence enumerates nothing, the passage's sentence that enumerates named items and
mentions the kind asked for ("những tỉnh nào" → "tỉnh") is quoted as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ..types import Query, Retrieved
from ..vietnamese import syllables

# An item of an enumeration: a piece between separators, short enough to be one entry.
_SEPARATOR = re.compile(r"[,;:]")
ITEM_WORDS = 12
# This many short items in a row make an enumeration.
MIN_ITEMS = 3


def items(text: str, *, names: bool = False) -> int:
    """The longest run of consecutive short comma/semicolon-separated pieces in ``text``; with ``names``,
    only pieces that open with a capital (named members, not the short clauses of ordinary prose)."""
    best = run = 0
    for piece in _SEPARATOR.split(text):
        words = piece.split()
        short = 0 < len(words) <= ITEM_WORDS and (not names or words[0][0].isupper())
        run = run + 1 if short else 0
        best = max(best, run)
    return best


def enumerates(text: str) -> bool:
    return items(text) >= MIN_ITEMS


def completing_sentence(query: Query, passage: Retrieved, quotes: Iterable[str], quoted: tuple[int, int],
                        text_of: Callable[[str, int, int], str]) -> tuple[int, int] | None:
    """The sentence of ``passage`` that lists what a list question asks for, when none of ``quotes`` (the
    evidence already quoted; the first at ``quoted`` offsets of ``passage``) lists anything: it enumerates
    named items and mentions what the question lists. The one with the most items, the nearest first on
    ties; ``None`` when there is none."""
    if query.kind != "list" or not query.listed or any(enumerates(q) for q in quotes):
        return None
    found = []
    for start, end in passage.chunk.sentences:
        if end <= start or (start < quoted[1] and end > quoted[0]):
            continue
        text = text_of(passage.chunk.source, start, end)
        n = items(text, names=True)
        if n >= MIN_ITEMS and f" {query.listed} " in f" {' '.join(syllables(text, folded=query.folded))} ":
            found.append((-n, abs(start - quoted[0]), start, end))
    return min(found)[2:] if found else None
