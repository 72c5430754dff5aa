"""Chunk: split a document into sentence-aligned chunks that fit the embedding model.

Headings and photo captions (short lines) join the paragraph they introduce,
exact repeated lines are dropped, and every sentence keeps its character span
in the source so an answer can quote it exactly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from ..types import Chunk, Document, Span
from ..vietnamese import match_key

logger = logging.getLogger(__name__)


_LINE = re.compile(r"[^\r\n]+")
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by space and a capital, digit or
# quote. Quotes may stand apart from the words (`. " Hai ngày sau`), as in text detokenised from
# word-segmented corpora.
SENTENCE_RULES = 3  # part of the index's chunker key: bump when sentences split differently
_BOUNDARY = re.compile(r"[.!?…]+(?:\s?[\"'”’)\]])*\s+(?=[\"'“‘(\[–-]?\s?[A-ZÀ-Ỹ0-9Đ])")
# Text without capitals (lower-cased exports, some OCR output): any word may open a sentence.
_CASELESS_BOUNDARY = re.compile(r"[.!?…]+(?:\s?[\"'”’)\]])*\s+(?=[\"'“‘(\[–-]?\s?\w)")
_CASELESS_SHARE = 0.005  # capitals among the letters, below which a text counts as caseless
_ABBREVIATIONS = {
    "tp", "ts", "ths", "pgs", "gs", "bs", "ks", "nxb", "ths", "ngs", "nsnd", "nsưt", "mr", "mrs", "dr",
    "st", "no", "vs", "etc", "q", "p", "tt", "ub", "ubnd", "hđnd", "v.v",
}


def caseless(text: str) -> bool:
    """Too few capitals to mark where sentences start (at least 80 letters to judge)."""
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 80 and sum(ch.isupper() for ch in text) < _CASELESS_SHARE * letters


def split_sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentence spans (whitespace-trimmed) of ``text[start:end]``."""
    spans: list[Span] = []
    cursor = start
    boundary = _CASELESS_BOUNDARY if caseless(text[start:end]) else _BOUNDARY
    for m in boundary.finditer(text, start, end):
        before = text[cursor : m.start()].rsplit(None, 1)
        last_word = before[-1] if before else ""
        # an initial ("George H. W. Bush"), not a one-letter word ("ngoại ô.", "người Ý.")
        if last_word.lower() in _ABBREVIATIONS or (len(last_word) == 1 and "A" <= last_word <= "Z"):
            continue
        spans.append((cursor, m.start() + len(m.group(0).rstrip())))
        cursor = m.end()
    spans.append((cursor, end))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _trim(text: str, s: int, e: int) -> Span:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


class Chunker:
    """Split documents into chunks of at most ``max_tokens`` tokens (prompt and special tokens included).

    Example::

        chunker = Chunker(count_tokens=encoder.count_tokens, max_tokens=256, overhead=4)
        chunks = chunker.run(document)
    """

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        *,
        max_tokens: int = 256,
        overhead: int = 0,
        overlap_sentences: int = 1,
        heading_max_words: int = 14,
    ) -> None:
        self.count_tokens = count_tokens
        self.budget = max(16, max_tokens - overhead)
        self.overlap = overlap_sentences
        self.heading_max_words = heading_max_words

    def blocks(self, doc: Document) -> list[list[Span]]:
        """Paragraphs as sentence spans, each with the short heading/caption lines that precede it."""
        seen: set[str] = set()
        blocks: list[list[Span]] = []
        pending: list[Span] = []  # headings waiting for their paragraph
        for m in _LINE.finditer(doc.text):
            s, e = _trim(doc.text, m.start(), m.end())
            if s == e:
                continue
            key = match_key(doc.text[s:e])
            if key in seen:
                logger.debug("%s: dropped repeated line %r", doc.source, doc.text[s:e][:60])
                continue
            seen.add(key)
            if len(doc.text[s:e].split()) <= self.heading_max_words:
                pending.append((s, e))
                continue
            blocks.append(pending + split_sentences(doc.text, s, e))
            pending = []
        if pending:
            if blocks:
                blocks[-1].extend(pending)
            else:
                blocks.append(pending)
        return blocks

    def run(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        current: list[Span] = []
        used = 0

        def flush() -> None:
            nonlocal current, used
            if current:
                chunks.append(self._chunk(doc, current))
            current, used = [], 0

        for block in self.blocks(doc):
            sizes = [self.count_tokens(doc.text[s:e]) for s, e in block]
            if sum(sizes) <= self.budget - used:
                current += block
                used += sum(sizes)
                continue
            flush()
            if sum(sizes) <= self.budget:
                current, used = list(block), sum(sizes)
                continue
            for window in self._windows(doc, block, sizes):
                chunks.append(self._chunk(doc, window))
        flush()
        return chunks

    def _windows(self, doc: Document, block: list[Span], sizes: list[int]) -> list[list[Span]]:
        """Split an over-long paragraph by sentences, repeating ``overlap`` sentences between windows."""
        spans, lens = [], []
        for span, n in zip(block, sizes):
            pieces = [span] if n <= self.budget else self._split_long(doc, span)
            spans += pieces
            lens += [n] if len(pieces) == 1 else [self.count_tokens(doc.text[s:e]) for s, e in pieces]
        windows: list[list[Span]] = []
        i = 0
        while i < len(spans):
            j, used = i, 0
            while j < len(spans) and (j == i or used + lens[j] <= self.budget):
                used += lens[j]
                j += 1
            windows.append(spans[i:j])
            if j >= len(spans):
                break
            back = min(self.overlap, j - i - 1)
            while back and sum(lens[j - back : j + 1]) > self.budget:
                back -= 1
            i = j - back
        return windows

    def _split_long(self, doc: Document, span: Span) -> list[Span]:
        """A single sentence longer than the budget: cut it between words."""
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", doc.text[span[0] : span[1]])]
        pieces, first, used = [], 0, 0
        for k, (ws, we) in enumerate(words):
            n = self.count_tokens(doc.text[span[0] + ws : span[0] + we])
            if used + n > self.budget and k > first:
                pieces.append((span[0] + words[first][0], span[0] + words[k - 1][1]))
                first, used = k, 0
            used += n
        pieces.append((span[0] + words[first][0], span[0] + words[-1][1]))
        return pieces

    @staticmethod
    def _chunk(doc: Document, spans: list[Span]) -> Chunk:
        spans = sorted(set(spans))
        text = " ".join(doc.text[s:e] for s, e in spans)
        return Chunk(source=doc.source, start=spans[0][0], end=spans[-1][1], text=text, sentences=tuple(spans))


def chunker_settings(settings) -> dict:
    """The settings that change chunks (from a :class:`rag.config.Settings`): an index built with others is rebuilt."""
    return {
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_sentences": settings.chunk_overlap_sentences,
        "heading_max_words": settings.heading_max_words,
        "document_prompt": settings.document_prompt,
        "sentence_rules": SENTENCE_RULES,
    }
