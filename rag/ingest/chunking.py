"""Chunk: split a document into sentence-aligned chunks that fit the embedding model.

Headings and photo captions (short lines) join the paragraph they introduce,
exact repeated lines are dropped, and every sentence keeps its character span
in the source so an answer can quote it exactly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from ..config import ChunkingOptions
from ..types import Chunk, Document, Span, Step
from ..vietnamese import lines, match_key, trim
from .structure import STRUCTURE_RULES, Outline, Unit, outline

logger = logging.getLogger(__name__)


TABLE_ROW = re.compile(r"\S \| \S")  # a table row as the DOCX and HTML readers write it: cells joined by " | "
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by space and a capital, digit or
# quote. Quotes may stand apart from the words (`. " Hai ngày sau`), as in text detokenised from
# word-segmented corpora.
SENTENCE_RULES = 4  # part of the index's chunker key: bump when sentences or blocks split differently
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
    return [trim(text, s, e) for s, e in spans if text[s:e].strip()]


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
        structure: bool = True,
    ) -> None:
        self.count_tokens = count_tokens
        self.budget = max(16, max_tokens - overhead)
        self.overlap = overlap_sentences
        self.heading_max_words = heading_max_words
        self.structure = structure

    def blocks(self, doc: Document) -> list[list[Span]]:
        """Paragraphs as sentence spans, each with the short heading/caption lines that precede it; a
        table (consecutive ``a | b | c`` rows, as the DOCX and HTML readers write them) is one block of rows."""
        return [spans for spans, _ in self._blocks(doc)]

    def _blocks(self, doc: Document) -> list[tuple[list[Span], Span | None]]:
        """(spans, the header row of a table block, else None)."""
        seen: set[str] = set()
        blocks: list[tuple[list[Span], Span | None]] = []
        pending: list[Span] = []  # headings waiting for their paragraph
        table: list[Span] = []

        def end_table() -> None:
            nonlocal pending, table
            if table:
                blocks.append((pending + table, table[0]))
                pending, table = [], []

        for s, e in lines(doc.text):
            if TABLE_ROW.search(doc.text, s, e):  # rows are kept, even repeated ones, and never split
                table.append((s, e))
                continue
            end_table()
            key = match_key(doc.text[s:e])
            if key in seen:
                logger.debug("%s: dropped repeated line %r", doc.source, doc.text[s:e][:60])
                continue
            seen.add(key)
            if len(doc.text[s:e].split()) <= self.heading_max_words:
                pending.append((s, e))
                continue
            blocks.append((pending + split_sentences(doc.text, s, e), None))
            pending = []
        end_table()
        if pending:
            if blocks:
                blocks[-1][0].extend(pending)
            else:
                blocks.append((pending, None))
        return blocks

    def run(self, doc: Document) -> list[Chunk]:
        structured = outline(doc.text) if self.structure else None
        if structured is not None:
            return self._structured(doc, structured)
        chunks: list[Chunk] = []
        current: list[Span] = []
        used = 0

        def flush() -> None:
            nonlocal current, used
            if current:
                chunks.append(self._chunk(doc, current))
            current, used = [], 0

        for block, header in self._blocks(doc):
            sizes = [self.count_tokens(doc.text[s:e]) for s, e in block]
            if sum(sizes) <= self.budget - used:
                current += block
                used += sum(sizes)
                continue
            flush()
            if sum(sizes) <= self.budget:
                current, used = list(block), sum(sizes)
                continue
            if header is None:
                chunks += [self._chunk(doc, window) for window in self._windows(doc, block, sizes)]
                continue
            # a table too long for one chunk: whole rows, each piece after the first headed by the header row
            head = doc.text[header[0]:header[1]]
            budget = self.budget - self.count_tokens(head) - 1
            for k, window in enumerate(self._windows(doc, block, sizes, budget, overlap=0)):
                chunks.append(self._chunk(doc, window, heading=head if k and window[0] != header else ""))
        flush()
        return chunks

    def _windows(self, doc: Document, block: list[Span], sizes: list[int], budget: int | None = None,
                 overlap: int | None = None) -> list[list[Span]]:
        """Split an over-long paragraph by sentences, repeating ``overlap`` sentences between windows."""
        budget = budget or self.budget
        spans, lens = [], []
        for span, n in zip(block, sizes):
            pieces = [span] if n <= budget else self._split_long(doc, span, budget)
            spans += pieces
            lens += [n] if len(pieces) == 1 else [self.count_tokens(doc.text[s:e]) for s, e in pieces]
        windows: list[list[Span]] = []
        i = 0
        while i < len(spans):
            j, used = i, 0
            while j < len(spans) and (j == i or used + lens[j] <= budget):
                used += lens[j]
                j += 1
            windows.append(spans[i:j])
            if j >= len(spans):
                break
            back = min(self.overlap if overlap is None else overlap, j - i - 1)
            while back and sum(lens[j - back : j + 1]) > budget:
                back -= 1
            i = j - back
        return windows

    def _split_long(self, doc: Document, span: Span, budget: int | None = None) -> list[Span]:
        """A single sentence longer than the budget: cut it between words."""
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", doc.text[span[0] : span[1]])]
        pieces, first, used = [], 0, 0
        for k, (ws, we) in enumerate(words):
            n = self.count_tokens(doc.text[span[0] + ws : span[0] + we])
            if used + n > (budget or self.budget) and k > first:
                pieces.append((span[0] + words[first][0], span[0] + words[k - 1][1]))
                first, used = k, 0
            used += n
        pieces.append((span[0] + words[first][0], span[0] + words[-1][1]))
        return pieces

    @staticmethod
    def _chunk(doc: Document, spans: list[Span], path: tuple[Step, ...] = (), heading: str = "") -> Chunk:
        spans = sorted(set(spans))
        text = " ".join(doc.text[s:e] for s, e in spans)
        return Chunk(source=doc.source, start=spans[0][0], end=spans[-1][1], text=text, sentences=tuple(spans),
                     path=path, heading=heading)

    # -- legal and administrative texts ---------------------------------------------
    def _structured(self, doc: Document, o: Outline) -> list[Chunk]:
        """One chunk per Điều where it fits; else its khoản packed in order, a khoản too long by its điểm,
        a điểm too long by sentences. Each chunk knows its path; its heading (the document's title, the
        Chương and Mục, and the Điều's own heading when the chunk does not start with it) is embedded
        and searched with it. Repeated lines are kept: laws repeat sentences on purpose."""
        chunks: list[Chunk] = []
        for unit in o.units:
            if unit.kind in ("dieu", "ket", "ghichu"):
                chunks += self._unit_chunks(doc, o, unit)
        return chunks

    def _sentences(self, doc: Document, o: Outline, start: int, end: int) -> list[Span]:
        spans: list[Span] = []
        for s, e in o.content:
            if e > start and s < end:
                spans += split_sentences(doc.text, max(s, start), min(e, end))
        return spans

    def _unit_chunks(self, doc: Document, o: Outline, unit: Unit) -> list[Chunk]:
        outer = [u for u in o.path(unit.start) if u.level < unit.level]
        context = [o.title] if o.title else []
        context += [f"{u.label}. {u.title}" if u.title else u.label for u in outer]
        whole_heading = " › ".join(context)
        own_heading = " › ".join([*context, doc.text[unit.start:unit.heading_end]])[:400]
        budget = self.budget - self.count_tokens(own_heading) - 2

        def pieces(parent: Unit, start: int, end: int) -> list[tuple[Unit | None, int, int]]:
            """(unit, start, end) of the parts of ``parent`` within [start, end): its intro (no unit), then
            its children."""
            children = [u for u in o.units if u.level == parent.level + 1 and start <= u.start < end
                        and u.kind in ("khoan", "diem")] or [
                u for u in o.units if u.kind == "diem" and start <= u.start < end and parent.kind == "dieu"]
            if not children:
                return [(None, start, end)]
            parts = [(None, start, children[0].start)] if children[0].start > start else []
            return parts + [(c, c.start, c.end) for c in children]

        def place(parents: list[Step], first: Unit | None, last: Unit | None) -> tuple[Step, ...]:
            """The parents' path, then the pieces held: one (khoản 2) or a range (khoản 2–4)."""
            if first is None:
                return tuple(parents)
            until = last.number if last is not None and last.label != first.label else ""
            return (*parents, Step(first.kind, first.number, first.label, until))

        def pack(parent: Unit, parents: list[Step], start: int, end: int) -> list[Chunk]:
            out: list[Chunk] = []
            group: list[Span] = []
            used, first, last = 0, None, None

            def flush(whole: bool = False) -> None:
                nonlocal group, used, first, last
                if group:
                    starts_heading = group[0][0] == unit.start
                    out.append(self._chunk(doc, group, tuple(parents) if whole else place(parents, first, last),
                                           whole_heading if starts_heading else own_heading))
                group, used, first, last = [], 0, None, None

            for name, a, b in pieces(parent, start, end):
                spans = self._sentences(doc, o, a, b)
                if not spans:
                    continue
                sizes = [self.count_tokens(doc.text[s:e]) for s, e in spans]
                if used + sum(sizes) <= budget:
                    group += spans
                    used += sum(sizes)
                    first, last = first or name, name
                    continue
                flush()
                if sum(sizes) <= budget:
                    group, used, first, last = list(spans), sum(sizes), name, name
                    continue
                if name is not None and name.kind == "khoan":
                    out += pack(name, [*parents, name.step()], a, b)
                else:
                    out += [self._chunk(doc, w, place(parents, name, name), own_heading)
                            for w in self._windows(doc, spans, sizes, budget)]
            flush(whole=not out)
            return out

        return pack(unit, [u.step() for u in (*outer, unit)], unit.start, unit.end)


def chunker_settings(options: ChunkingOptions, document_prompt: str) -> dict:
    """What changes chunks (the chunking options, and the prompt that shares their token budget): an index built
    with other values is rebuilt."""
    return {
        "chunk_tokens": options.chunk_tokens,
        "chunk_overlap_sentences": options.chunk_overlap_sentences,
        "heading_max_words": options.heading_max_words,
        "document_prompt": document_prompt,
        "sentence_rules": SENTENCE_RULES,
        "structure_rules": STRUCTURE_RULES if options.legal_structure else 0,
    }


def chunker_for(options: ChunkingOptions, encoder) -> Chunker:
    """The chunker of these options, counting tokens with ``encoder`` (its prompt included)."""
    return Chunker(
        encoder.count_tokens,
        max_tokens=min(options.chunk_tokens, encoder.max_tokens),
        overhead=encoder.prompt_overhead(encoder.document_prompt),
        overlap_sentences=options.chunk_overlap_sentences,
        heading_max_words=options.heading_max_words,
        structure=options.legal_structure,
    )
