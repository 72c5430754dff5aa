"""Keyword search: BM25 over Vietnamese syllables and syllable pairs, as numpy arrays read from disk.

Most Vietnamese words are two syllables, so matching pairs ("thi_đua") as well
as single syllables rewards the right words, not just the right letters. A
query typed without any diacritics is matched on accent-folded twins of both
fields, so "cum thi dua so 2" finds "Cụm thi đua số 2".

The index keeps term frequencies, not finished scores: the corpus statistics BM25 needs
(chunk count, average length, document frequencies) are combined at query time over
every segment, so a small segment appended for new documents scores exactly as a
rebuild would. Scores equal bm25s's (method "lucene", k1 1.2, b 0.75) bit for bit.
"""

from __future__ import annotations

import functools
import hashlib
import json
from array import array
from collections.abc import Iterable
import logging
import math
import re
import threading
from pathlib import Path

import numpy as np

from ..vietnamese import fold, has_diacritics, syllables
from .diskarray import DiskArray

logger = logging.getLogger(__name__)

# Question words and the most frequent function words: never evidence on their own.
STOPWORDS = frozenset(
    """ai gì nào đâu bao nhiêu mấy sao thế như vì tại không có là của và các những được trong
    cho đã về theo này thì khi vào với một hay hoặc ra đến từ mà đó nó cũng lại rằng nhất bị
    do nên để ở trên dưới còn đang sẽ phải hãy what who when where which how many much is are the of""".split()
)
FOLDED_STOPWORDS = frozenset(fold(w) for w in STOPWORDS)


def pairs(tokens: list[str]) -> list[str]:
    return [f"{a}_{b}" for a, b in zip(tokens, tokens[1:])]


def content_terms(tokens, folded: bool) -> list[str]:
    """The syllables that carry meaning (question and function words removed)."""
    stop = FOLDED_STOPWORDS if folded else STOPWORDS
    return [t for t in tokens if t not in stop]


def term_hashes(terms: list[str]) -> np.ndarray:
    """Stable 64-bit hashes of terms (blake2b): the saved vocabulary is these, sorted, not a dict of strings."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
                        for t in terms), dtype=np.uint64, count=len(terms))


K1, B = 1.2, 0.75  # BM25 (the "lucene" variant bm25s uses: idf = ln(1 + (N - df + ½)/(df + ½)))
FIELDS = ("exact.unigrams", "exact.pairs", "folded.unigrams", "folded.pairs")
_POSTINGS = ("terms", "indptr", "docs", "tf")
_SYLLABLES = ("blob", "offsets", "folded", "by_folded", "count")


def lexical_files(prefix: str = "") -> tuple[str, ...]:
    """The files one segment is saved as (``prefix`` tells the segments of an index apart)."""
    return (f"{prefix}lexical.json", f"{prefix}lexical.lengths.npy",
            *(f"{prefix}lexical.{f}.{a}.npy" for f in FIELDS for a in _POSTINGS),
            f"{prefix}lexical.exact.pairs.cf.npy",
            *(f"{prefix}lexical.syllables.{a}.npy" for a in _SYLLABLES))


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def pair_hashes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """64-bit hashes of syllable pairs, from the two syllables' hashes (splitmix64 of a combination):
    vectorised, so the millions of pairs of a large corpus are never hashed one string at a time."""
    x = np.asarray(left, dtype=np.uint64).reshape(-1) * _MIX[0] + np.asarray(right, dtype=np.uint64).reshape(-1)
    x ^= x >> np.uint64(30)
    x *= _MIX[1]
    x ^= x >> np.uint64(27)
    x *= _MIX[2]
    x ^= x >> np.uint64(31)
    return x


def _postings(doc: np.ndarray, term: np.ndarray, term_hash: np.ndarray, n_docs: int, cf: bool = False) -> dict:
    """Postings of one field: for each term (sorted by hash), the documents holding it and how often.

    One sort of ``(term rank, document)`` keys does it all: terms come out in hash order and
    each term's documents in id order.
    """
    order = np.argsort(term_hash, kind="stable")
    rank = np.empty(len(term_hash), dtype=np.int64)
    rank[order] = np.arange(len(term_hash))
    width = max(n_docs, 1)
    keys, tf = np.unique(rank[term] * width + doc, return_counts=True)
    r, d = np.divmod(keys, width)
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]]) if len(r) else np.zeros(0, dtype=np.int64)
    out = {"terms": term_hash[order][r[starts]], "indptr": np.append(starts, len(r)).astype(np.int64),
           "docs": d.astype(np.int32), "tf": tf.astype(np.uint16 if tf.max(initial=0) < 1 << 16 else np.uint32)}
    if cf:  # collection frequency: the diacritic restorer's pair counts
        out["cf"] = np.add.reduceat(tf, starts).astype(np.int64) if len(tf) else np.zeros(0, dtype=np.int64)
    return out


def _load_array(path: Path) -> np.ndarray | DiskArray:
    """Read where it lies, a lookup at a time: a serving process holds only what its queries read."""
    array = DiskArray.npy(path)
    return np.asarray(array) if array.size == 0 else array


class LexicalSegment:
    """The BM25 arrays and diacritic tables of a run of chunks: a whole index, or chunks added later.

    Everything is a numpy array (a :class:`DiskArray` on load, never pickled), holding term
    frequencies rather than finished scores, so segments combine exactly at query time.
    Terms are 64-bit hashes (blake2b for syllables, :func:`pair_hashes` for pairs); the
    syllables themselves are kept once, in first-seen order, for the diacritic restorer.
    """

    def __init__(self, n: int, lengths: np.ndarray, fields: dict[str, dict], syllables: dict) -> None:
        self.n, self.lengths, self.fields, self.syllables = n, lengths, fields, syllables

    @classmethod
    def build(cls, texts: list[str]) -> LexicalSegment:
        builder = SegmentBuilder()
        builder.add(texts)
        return builder.finish()

    def save(self, folder: Path, prefix: str = "") -> tuple[str, ...]:
        """Write the segment as :func:`lexical_files` ``(prefix)``; returns their names."""
        folder = Path(folder)
        np.save(folder / f"{prefix}lexical.lengths.npy", self.lengths, allow_pickle=False)
        for name, arrays in self.fields.items():
            for key, array in arrays.items():
                np.save(folder / f"{prefix}lexical.{name}.{key}.npy", array, allow_pickle=False)
        for key, array in self.syllables.items():
            np.save(folder / f"{prefix}lexical.syllables.{key}.npy", array, allow_pickle=False)
        meta = {"chunks": self.n, "fields": list(FIELDS), "term_hash": "blake2b-64", "pair_hash": "splitmix64",
                "k1": K1, "b": B}
        (folder / f"{prefix}lexical.json").write_text(json.dumps(meta), encoding="utf-8")
        return lexical_files(prefix)

    @classmethod
    def load(cls, folder: Path, prefix: str, n: int) -> LexicalSegment:
        """The segment :meth:`save` wrote, read from disk as queries need it (the chunk lengths are loaded);
        :class:`ValueError` naming the file when it does not fit."""
        folder = Path(folder)
        path = folder / f"{prefix}lexical.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("chunks") != n or meta.get("fields") != list(FIELDS) or meta.get("pair_hash") != "splitmix64":
            msg = f"{path}: BM25 index holds {meta.get('chunks')} chunks, the index has {n}."
            raise ValueError(msg)
        fields = {name: {key: _load_array(folder / f"{prefix}lexical.{name}.{key}.npy")
                         for key in (*_POSTINGS, *(("cf",) if name == "exact.pairs" else ()))} for name in FIELDS}
        table = {key: _load_array(folder / f"{prefix}lexical.syllables.{key}.npy") for key in _SYLLABLES}
        lengths = np.load(folder / f"{prefix}lexical.lengths.npy", allow_pickle=False)
        if len(lengths) != n:
            msg = f"{folder / f'{prefix}lexical.lengths.npy'}: {len(lengths)} chunks, the index has {n}."
            raise ValueError(msg)
        return cls(n, lengths, fields, table)


class SegmentBuilder:
    """Builds a :class:`LexicalSegment` from texts added a batch at a time: each text is tokenised when
    added and kept only as 4-byte syllable ids, so a shard's texts need not be held."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.ids = array("i")
        self.lengths = array("i")

    def __len__(self) -> int:
        return len(self.lengths)

    def add(self, texts: Iterable[str]) -> None:
        vocab, ids, lengths = self.vocab, self.ids, self.lengths
        add = vocab.setdefault
        for text in texts:
            tokens = syllables(text)
            lengths.append(len(tokens))
            ids.extend([add(t, len(vocab)) for t in tokens])

    def finish(self) -> LexicalSegment:
        n = len(self.lengths)
        lengths = np.frombuffer(self.lengths, dtype=np.int32).copy()
        ids = np.frombuffer(self.ids, dtype=np.int32).astype(np.int64)
        self.ids = array("i")  # freed before the postings are sorted
        doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
        words = list(self.vocab)
        folded_ids: dict[str, int] = {}
        fid = np.fromiter((folded_ids.setdefault(fold(w), len(folded_ids)) for w in words), dtype=np.int64,
                          count=len(words))
        hashes = {"exact": term_hashes(words), "folded": term_hashes(list(folded_ids))}
        same_doc = doc[1:] == doc[:-1]
        fields = {}
        for kind in ("exact", "folded"):
            tokens = ids if kind == "exact" else fid[ids]
            h, width = hashes[kind], max(len(hashes[kind]), 1)
            fields[f"{kind}.unigrams"] = _postings(doc, tokens, h, n)
            keys, pair = np.unique(tokens[:-1][same_doc] * width + tokens[1:][same_doc], return_inverse=True)
            pair_hash = pair_hashes(h[keys // width], h[keys % width])
            fields[f"{kind}.pairs"] = _postings(doc[1:][same_doc], pair.reshape(-1), pair_hash, n, cf=kind == "exact")
            del keys, pair, tokens
        encoded = [w.encode("utf-8", "surrogatepass") for w in words]
        folded = hashes["folded"][fid]
        by_folded = np.argsort(folded, kind="stable")  # stable: each folded key's forms stay in first-seen order
        table = {"blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
                 "offsets": np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int64),
                 "folded": folded[by_folded], "by_folded": by_folded.astype(np.int32),
                 "count": np.bincount(ids, minlength=len(words)).astype(np.int64)}
        return LexicalSegment(n, lengths, fields, table)


def _find(terms, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each hash is in a sorted ``terms`` array, and whether it is there."""
    if isinstance(terms, DiskArray):
        return terms.find(hashes)
    at = np.minimum(np.searchsorted(terms, hashes), len(terms) - 1)
    return at, terms[at] == hashes


def _spans(arrays: dict, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each term's postings start and end in one segment's field (an empty span when absent)."""
    start, end = np.zeros(len(hashes), dtype=np.int64), np.zeros(len(hashes), dtype=np.int64)
    if len(arrays["terms"]) == 0:
        return start, end
    at, found = _find(arrays["terms"], hashes)
    indptr = arrays["indptr"]
    for j in np.flatnonzero(found).tolist():  # a found term's two bounds are adjacent: one read
        start[j], end[j] = indptr[at[j] : at[j] + 2]
    return start, end


class _Field:
    """One BM25 field (say, folded syllable pairs) over every segment of an index.

    The score of a chunk is bm25s's to the last bit: float32 idf × float64 tf-part, rounded to
    float32 per term and summed in float32 in query-term order.
    """

    def __init__(self, name: str, segments: list[LexicalSegment], firsts: list[int], norm: np.ndarray) -> None:
        self.parts = [(s.fields[name], first) for s, first in zip(segments, firsts)]
        self.n = len(norm)
        self._norm = norm  # k1 · (1 − b + b · length / average length), per chunk
        self._idf_unseen = math.log(1 + (self.n + 0.5) / 0.5)

    def df(self, hashes: np.ndarray) -> np.ndarray:
        """Document frequency of each term hash, over every segment."""
        total = np.zeros(len(hashes), dtype=np.int64)
        for arrays, _ in self.parts:
            start, end = _spans(arrays, hashes)
            total += end - start
        return total

    def idf(self, token: str) -> float:
        c = int(self.df(term_hashes([token]))[0]) if token else 0
        if c == 0:
            return self._idf_unseen
        return math.log(1 + (self.n - c + 0.5) / (c + 0.5))

    def scores(self, hashes: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        if len(hashes) == 0:
            return out
        spans = [_spans(arrays, hashes) for arrays, _ in self.parts]
        df = sum(end - start for start, end in spans)
        for j in np.flatnonzero(df).tolist():  # every occurrence of a term counts, in query order (as bm25s)
            idf = float(np.float32(math.log(1 + (self.n - df[j] + 0.5) / (df[j] + 0.5))))
            held = [(arrays, first, int(start[j]), int(end[j])) for (arrays, first), (start, end) in zip(self.parts, spans)
                    if end[j] > start[j]]
            # segments hold disjoint chunks: the term's postings of all of them are scored at once
            docs = np.concatenate([arrays["docs"][lo:hi] + first for arrays, first, lo, hi in held])
            tf = np.concatenate([arrays["tf"][lo:hi] for arrays, _, lo, hi in held]).astype(np.float64)
            out[docs] += (idf * (tf / (self._norm[docs] + tf))).astype(np.float32)
        return out


class _Fields:
    """A unigram and a pair field over one tokenisation (exact or folded)."""

    def __init__(self, unigrams: _Field, pair_field: _Field) -> None:
        self.unigrams, self.pairs = unigrams, pair_field


def _norm(lengths: np.ndarray) -> np.ndarray:
    lengths = lengths.astype(np.int64)
    average = float(lengths.sum()) / len(lengths) if len(lengths) else 1.0  # = np.mean, as bm25s: exact for ints
    return K1 * ((1 - B) + B * lengths / average)


class KeywordIndex:
    """BM25 over the chunk texts: ``unigram + pair_weight × pair`` scores, over one or more segments.

    Example::

        kw = KeywordIndex(["Cụm thi đua số 2 gồm 14 tỉnh.", "Hà Nội là thủ đô."])
        kw.search("cum thi dua", k=1)   # → (array([0]), array([...]))
        kw.restore("cum thi dua")       # → 'cụm thi đua'
    """

    def __init__(self, texts: list[str] | None = None, *, pair_weight: float = 0.5,
                 segments: list[LexicalSegment] | None = None, fields: tuple | None = None) -> None:
        self.pair_weight = pair_weight
        self.segments = segments if segments is not None else [LexicalSegment.build(list(texts or []))]
        self.n = sum(s.n for s in self.segments)
        if fields is None:
            firsts = np.cumsum([0, *(s.n for s in self.segments)])[:-1].tolist()
            lengths = np.concatenate([np.asarray(s.lengths, dtype=np.int64) for s in self.segments])
            # bm25s gives a document without tokens one empty token: length at least 1 in both fields
            uni, pair = _norm(np.maximum(lengths, 1)), _norm(np.maximum(lengths - 1, 1))
            fields = tuple(_Fields(_Field(f"{kind}.unigrams", self.segments, firsts, uni),
                                   _Field(f"{kind}.pairs", self.segments, firsts, pair))
                           for kind in ("exact", "folded"))
            fields = (*fields, DiacriticRestorer(self.segments))
        self.exact, self.folded, self._restorer = fields

    def with_pair_weight(self, pair_weight: float) -> KeywordIndex:
        """The same fields scored with another ``pair_weight`` (shares the arrays)."""
        if pair_weight == self.pair_weight:
            return self
        return KeywordIndex(pair_weight=pair_weight, segments=self.segments,
                            fields=(self.exact, self.folded, self._restorer))

    def restore(self, query: str) -> str:
        """``query`` with the diacritics the corpus most likely meant ('cum thi dua' → 'cụm thi đua')."""
        return self._restorer.run(query)

    # -- persistence -------------------------------------------------------
    def save(self, folder: Path, prefix: str = "") -> tuple[str, ...]:
        """Write the index (one segment) to ``folder`` as ``lexical_files(prefix)``."""
        if len(self.segments) != 1:
            msg = f"Only a one-segment BM25 index can be saved as one; this one has {len(self.segments)}."
            raise ValueError(msg)
        return self.segments[0].save(folder, prefix)

    @classmethod
    def load(cls, folder: Path, segments: list[tuple[str, int]], *, pair_weight: float = 0.5) -> KeywordIndex:
        """The segments ``(prefix, chunks)`` saved in ``folder``, read from disk (:class:`ValueError` naming
        the file when one does not fit)."""
        return cls(pair_weight=pair_weight, segments=[LexicalSegment.load(folder, p, n) for p, n in segments])

    def unigrams(self, folded: bool) -> _Field:
        """The unigram field a query is matched on (for IDF): the accent-folded one for a query without diacritics."""
        return (self.folded if folded else self.exact).unigrams

    def scores(self, query) -> np.ndarray:
        """BM25 score of every chunk (zeros when no query term is in the corpus).

        ``query``: an analysed :class:`rag.search.query.Query` (its ``folded``, ``syllables`` and
        ``terms`` are used as they are), or a plain string, tokenised here.
        """
        if isinstance(query, str):
            folded = not has_diacritics(query)
            tokens = syllables(query, folded=folded)
            terms = content_terms(tokens, folded)
        else:
            folded, tokens, terms = query.folded, list(query.syllables), list(query.terms)
        fields = self.folded if folded else self.exact
        # pairs come from the whole query: dropping stopwords first would invent pairs the text never has
        h = term_hashes(tokens)
        unigrams = fields.unigrams.scores(term_hashes(terms))
        return unigrams + self.pair_weight * fields.pairs.scores(pair_hashes(h[:-1], h[1:]))

    def search(self, query, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunk ids with a positive score, best first."""
        return top_k(self.scores(query), k)


_QUESTION_WORDS = ("nào", "gì", "đâu", "nhiêu", "mấy", "thế", "sao", "bao", "giờ", "tại", "vì", "ai", "khi", "là")
# Question phrases, which documents seldom hold: counted as if the corpus had them this often, so
# 'bao nhieu' is not restored to the corpus's frequent 'bảo nhiều'.
_QUESTION_PAIRS = frozenset({("bao", "nhiêu"), ("bao", "giờ"), ("bao", "lâu"), ("tại", "sao"), ("vì", "sao"),
                             ("khi", "nào"), ("thế", "nào"), ("là", "gì"), ("ở", "đâu"), ("mấy", "giờ")})
_QUESTION_PAIR_COUNT = 1000


class DiacriticRestorer:
    """Restores Vietnamese diacritics from the corpus's own syllable and syllable-pair counts.

    Each unaccented syllable may stand for several accented ones ('so' → số, sở, sơ …); the
    most likely sequence is found by Viterbi over the corpus's pair counts, so neighbours
    decide ('thi dua' → 'thi đua'). The counts are the index's own arrays (syllable table,
    pair collection frequencies), read where they lie: nothing is built at query time.
    """

    def __init__(self, segments: list[LexicalSegment], max_forms: int = 6) -> None:
        self.segments, self.max_forms = segments, max_forms
        # each segment's tables are read from disk: the counts of the syllables and pairs queries use are kept
        self._bucket = functools.lru_cache(maxsize=1 << 14)(self._read_bucket)
        self._pairs: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _read_bucket(self, key: str) -> dict[str, tuple[int, tuple[int, int]]]:
        """Corpus syllables folding to ``key``: form → (count, first seen), over every segment."""
        h = term_hashes([key])[0]
        found: dict[str, list] = {}
        for si, seg in enumerate(self.segments):
            table = seg.syllables
            lo, hi = table["folded"].searchsorted(h, "left"), table["folded"].searchsorted(h, "right")
            if hi <= lo:
                continue
            ks = np.asarray(table["by_folded"][lo:hi], dtype=np.int64)
            bounds, counts = table["offsets"][np.concatenate([ks, ks + 1])], table["count"][ks]
            blob = table["blob"]
            for j, k in enumerate(ks.tolist()):
                form = bytes(blob[bounds[j] : bounds[len(ks) + j]]).decode("utf-8", "surrogatepass")
                entry = found.setdefault(form, [0, (si, k)])
                entry[0] += int(counts[j])
        return {form: (count, first) for form, (count, first) in found.items()}

    def _options(self, key: str) -> tuple[list[str], dict[str, int]] | None:
        """The most frequent forms of ``key`` (ties: the first seen), plus question words; and their counts."""
        bucket = self._bucket(key)
        forms = [f for f, _ in sorted(bucket.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[: self.max_forms]]
        # questions use words the documents may not
        forms += [w for w in _QUESTION_WORDS if fold(w) == key and w not in forms]
        if not forms:
            return None
        return forms, {f: bucket[f][0] if f in bucket else 0 for f in forms}

    def _pair_counts(self, left: list[str], right: list[str]) -> dict[tuple[str, str], int]:
        pairs_ = [(p, c) for p in left for c in right]
        with self._lock:
            counts = {pair: self._pairs[pair] for pair in pairs_ if pair in self._pairs}
        missing = [pair for pair in pairs_ if pair not in counts]
        if missing:
            h = pair_hashes(*(term_hashes([x[i] for x in missing]) for i in (0, 1)))
            total = np.zeros(len(h), dtype=np.int64)
            for seg in self.segments:
                arrays = seg.fields["exact.pairs"]
                if len(arrays["terms"]):
                    at, found = _find(arrays["terms"], h)
                    total[found] += arrays["cf"][at[found]]
            counts.update(zip(missing, total.tolist()))
            with self._lock:
                if len(self._pairs) > 1 << 16:
                    self._pairs.clear()
                self._pairs.update(zip(missing, total.tolist()))
        return counts

    def run(self, query: str) -> str:
        words = list(re.finditer(r"\w+", query))
        if not words:
            return query
        options, unigrams = [], {}
        for w in words:
            found = self._options(fold(w.group(0).lower()))
            if found is None:
                options.append([w.group(0).lower()])
            else:
                options.append(found[0])
                unigrams.update(found[1])
        # Viterbi: log-count of each pair, plus a small prior for frequent single syllables
        best = [{c: (0.1 * math.log1p(unigrams.get(c, 0)), [c]) for c in options[0]}]
        for i in range(1, len(options)):
            bigrams = self._pair_counts(list(best[-1]), options[i])
            for pair in _QUESTION_PAIRS.intersection(bigrams):
                bigrams[pair] += _QUESTION_PAIR_COUNT
            step = {}
            for c in options[i]:
                prior = 0.1 * math.log1p(unigrams.get(c, 0))
                score, path = max(
                    ((s + math.log1p(bigrams[(p, c)]) + prior, path) for p, (s, path) in best[-1].items()),
                    key=lambda x: x[0],
                )
                step[c] = (score, [*path, c])
            best.append(step)
        restored = max(best[-1].values(), key=lambda x: x[0])[1]
        out, last = [], 0
        for m, form in zip(words, restored):
            original = m.group(0)
            if fold(form) != fold(original.lower()):
                form = original  # no corpus form for this word
            elif original[:1].isupper():
                form = form[:1].upper() + form[1:]
            out.append(query[last : m.start()] + form)
            last = m.end()
        return "".join(out) + query[last:]


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the ``k`` highest positive scores, best first (ties by id)."""
    k = min(k, scores.size)
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    top = top[scores[top] > 0]
    return top.astype(np.int64), scores[top]
