"""Keyword search: BM25 (bm25s) over Vietnamese syllables and syllable pairs.

Most Vietnamese words are two syllables, so matching pairs ("thi_đua") as well
as single syllables rewards the right words, not just the right letters. A
query typed without any diacritics is matched on accent-folded twins of both
fields, so "cum thi dua so 2" finds "Cụm thi đua số 2".
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .vietnamese import fold, has_diacritics, syllables

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


def query_terms(query: str, folded: bool) -> list[str]:
    """The syllables of a query that carry meaning (question and function words removed)."""
    stop = FOLDED_STOPWORDS if folded else STOPWORDS
    return [t for t in syllables(query, folded=folded) if t not in stop]


def term_hashes(terms: list[str]) -> np.ndarray:
    """Stable 64-bit hashes of terms (blake2b): the saved vocabulary is these, sorted, not a dict of strings."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little")
                        for t in terms), dtype=np.uint64, count=len(terms))


class _Field:
    """One bm25s index. Saved as .npy arrays (memory-mapped on load, never pickled); its vocabulary
    is saved as sorted 64-bit term hashes, so loading builds no Python dict of millions of strings."""

    def __init__(self, docs: list[list[str]] | None, k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        self.vocab: dict[str, int] | None = None
        self._hashes = self._ids = None
        if docs is None:  # filled by from_arrays
            return
        # bm25s needs at least one token per document
        self.bm25.index([d or [""] for d in docs], show_progress=False)
        self.vocab = self.bm25.vocab_dict
        self.n = len(docs)
        self._idf_unseen = math.log(1 + (self.n + 0.5) / 0.5)

    def term_id(self, token: str) -> int | None:
        if not token:
            return None
        if self.vocab is not None:
            return self.vocab.get(token)
        h = term_hashes([token])[0]
        j = int(np.searchsorted(self._hashes, h))
        return int(self._ids[j]) if j < len(self._hashes) and self._hashes[j] == h else None

    def idf(self, token: str) -> float:
        i = self.term_id(token)
        indptr = self.bm25.scores["indptr"]
        # each stored score is one (term, document) pair: a term's column length is its document frequency
        c = 0 if i is None else int(indptr[i + 1] - indptr[i])
        if c == 0:
            return self._idf_unseen
        return math.log(1 + (self.n - c + 0.5) / (c + 0.5))

    def scores(self, tokens: list[str]) -> np.ndarray:
        ids = [i for i in map(self.term_id, tokens) if i is not None]
        if not ids:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)

    # -- persistence ---------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        sc = self.bm25.scores
        if self._hashes is None:
            terms = [""] * len(self.vocab)
            for t, i in self.vocab.items():
                terms[i] = t
            hashes = term_hashes(terms)
            order = np.argsort(hashes, kind="stable")
            self._hashes, self._ids = hashes[order], order.astype(np.int32)
        return {"data": np.asarray(sc["data"]), "indices": np.asarray(sc["indices"]),
                "indptr": np.asarray(sc["indptr"]), "hashes": self._hashes, "ids": self._ids}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n: int) -> _Field:
        field = cls(None)
        field.n = n
        field.bm25.scores = {"data": arrays["data"], "indices": arrays["indices"], "indptr": arrays["indptr"],
                             "num_docs": n}
        field.bm25.nonoccurrence_array = None  # only the bm25l and bm25+ variants use it
        field._hashes, field._ids = arrays["hashes"], arrays["ids"]
        field._idf_unseen = math.log(1 + (n + 0.5) / 0.5)
        return field


class _Fields:
    """A unigram and a pair field over one tokenisation (exact or folded)."""

    def __init__(self, token_lists: list[list[str]] | None, unigrams: _Field | None = None,
                 pair_field: _Field | None = None) -> None:
        self.unigrams = unigrams if token_lists is None else _Field(token_lists)
        self.pairs = pair_field if token_lists is None else _Field([pairs(t) for t in token_lists])


_FIELD_NAMES = ("exact.unigrams", "exact.pairs", "folded.unigrams", "folded.pairs")
_ARRAYS = ("data", "indices", "indptr", "hashes", "ids")
LEXICAL_FILES = ("lexical.json", *(f"lexical.{f}.{a}.npy" for f in _FIELD_NAMES for a in _ARRAYS))


class KeywordIndex:
    """BM25 over the chunk texts: ``unigram + pair_weight × pair`` scores.

    Example::

        kw = KeywordIndex(["Cụm thi đua số 2 gồm 14 tỉnh.", "Hà Nội là thủ đô."])
        kw.search("cum thi dua", k=1)   # → (array([0]), array([...]))
    """

    def __init__(self, texts: list[str], *, pair_weight: float = 0.5, fields: tuple | None = None) -> None:
        self.pair_weight = pair_weight
        self._texts = texts  # tokenised again only for the diacritic restorer, on the first unaccented query
        self.n = len(texts)
        if fields is not None:
            self.exact, self.folded = fields
        else:
            tokens = [syllables(t) for t in texts]
            self.exact = _Fields(tokens)
            self.folded = _Fields([[fold(t) for t in ts] for ts in tokens])
        self._restorer: DiacriticRestorer | None = None

    def with_pair_weight(self, pair_weight: float) -> KeywordIndex:
        """The same fields scored with another ``pair_weight`` (shares the arrays)."""
        if pair_weight == self.pair_weight:
            return self
        return KeywordIndex(self._texts, pair_weight=pair_weight, fields=(self.exact, self.folded))

    def restore(self, query: str) -> str:
        """``query`` with the diacritics the corpus most likely meant ('cum thi dua' → 'cụm thi đua')."""
        if self._restorer is None:  # built on the first unaccented query only
            self._restorer = DiacriticRestorer([syllables(t) for t in self._texts])
        return self._restorer.run(query)

    # -- persistence -------------------------------------------------------
    def _all_fields(self) -> list[_Field]:
        return [self.exact.unigrams, self.exact.pairs, self.folded.unigrams, self.folded.pairs]

    def save(self, folder: Path) -> tuple[str, ...]:
        """Write the four BM25 fields to ``folder`` as ``LEXICAL_FILES`` (.npy arrays and a small JSON)."""
        for name, f in zip(_FIELD_NAMES, self._all_fields()):
            for key, array in f.arrays().items():
                np.save(folder / f"lexical.{name}.{key}.npy", array, allow_pickle=False)
        meta = {"chunks": self.n, "fields": list(_FIELD_NAMES), "term_hash": "blake2b-64"}
        (folder / LEXICAL_FILES[0]).write_text(json.dumps(meta), encoding="utf-8")
        return LEXICAL_FILES

    @classmethod
    def load(cls, folder: Path, texts: list[str], *, pair_weight: float = 0.5) -> KeywordIndex:
        """The index :meth:`save` wrote, memory-mapped; :class:`ValueError` naming the file when it does not fit."""
        path = folder / LEXICAL_FILES[0]
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("chunks") != len(texts) or meta.get("fields") != list(_FIELD_NAMES):
            msg = f"{path}: BM25 index holds {meta.get('chunks')} chunks, the index has {len(texts)}."
            raise ValueError(msg)
        built = [
            _Field.from_arrays({a: np.load(folder / f"lexical.{name}.{a}.npy", mmap_mode="r", allow_pickle=False)
                                for a in _ARRAYS}, len(texts))
            for name in _FIELD_NAMES
        ]
        fields = (_Fields(None, built[0], built[1]), _Fields(None, built[2], built[3]))
        return cls(texts, pair_weight=pair_weight, fields=fields)

    def field(self, query: str) -> tuple[_Field, bool]:
        """The unigram field a query is matched on (for IDF), and whether it is the folded one."""
        folded = not has_diacritics(query)
        return (self.folded if folded else self.exact).unigrams, folded

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (zeros when no query term is in the corpus)."""
        folded = not has_diacritics(query)
        fields = self.folded if folded else self.exact
        # pairs come from the whole query: dropping stopwords first would invent pairs the text never has
        pair_terms = pairs(syllables(query, folded=folded))
        return fields.unigrams.scores(query_terms(query, folded)) + self.pair_weight * fields.pairs.scores(pair_terms)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunk ids with a positive score, best first."""
        return top_k(self.scores(query), k)


_QUESTION_WORDS = ("nào", "gì", "đâu", "nhiêu", "mấy", "thế", "sao", "bao", "giờ", "tại", "vì", "ai", "khi", "là")


class DiacriticRestorer:
    """Restores Vietnamese diacritics from the corpus's own syllable and syllable-pair counts.

    Each unaccented syllable may stand for several accented ones ('so' → số, sở, sơ …); the
    most likely sequence is found by Viterbi over the corpus's pair counts, so neighbours
    decide ('thi dua' → 'thi đua').
    """

    def __init__(self, token_lists: list[list[str]], max_forms: int = 6) -> None:
        unigrams: Counter[str] = Counter()
        bigrams: Counter[tuple[str, str]] = Counter()
        for tokens in token_lists:
            unigrams.update(tokens)
            bigrams.update(zip(tokens, tokens[1:]))
        forms: dict[str, list[str]] = {}
        for form, _ in unigrams.most_common():
            bucket = forms.setdefault(fold(form), [])
            if len(bucket) < max_forms:
                bucket.append(form)
        for word in _QUESTION_WORDS:  # questions use words the documents may not
            bucket = forms.setdefault(fold(word), [])
            if word not in bucket:
                bucket.append(word)
        self.unigrams, self.bigrams, self.forms = unigrams, bigrams, forms

    def run(self, query: str) -> str:
        words = list(re.finditer(r"\w+", query))
        if not words:
            return query
        options = [self.forms.get(fold(w.group(0).lower()), [w.group(0).lower()]) for w in words]
        # Viterbi: log-count of each pair, plus a small prior for frequent single syllables
        best = [{c: (0.1 * math.log1p(self.unigrams[c]), [c]) for c in options[0]}]
        for i in range(1, len(options)):
            step = {}
            for c in options[i]:
                prior = 0.1 * math.log1p(self.unigrams[c])
                score, path = max(
                    ((s + math.log1p(self.bigrams[(p, c)]) + prior, path) for p, (s, path) in best[-1].items()),
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
