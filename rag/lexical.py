"""Keyword search: BM25 (bm25s) over Vietnamese syllables and syllable pairs.

Most Vietnamese words are two syllables, so matching pairs ("thi_đua") as well
as single syllables rewards the right words, not just the right letters. A
query typed without any diacritics is matched on accent-folded twins of both
fields, so "cum thi dua so 2" finds "Cụm thi đua số 2".
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter

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


class _Field:
    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        # bm25s needs at least one token per document
        self.bm25.index([d or [""] for d in docs], show_progress=False)
        self.vocab: dict[str, int] = self.bm25.vocab_dict
        self.n = len(docs)
        df = Counter(t for d in docs for t in set(d))
        self._idf = {t: math.log(1 + (self.n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._idf_unseen = math.log(1 + (self.n + 0.5) / 0.5)

    def idf(self, token: str) -> float:
        return self._idf.get(token, self._idf_unseen)

    def scores(self, tokens: list[str]) -> np.ndarray:
        ids = [self.vocab[t] for t in tokens if t and t in self.vocab]
        if not ids:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)


class _Fields:
    """A unigram and a pair field over one tokenisation (exact or folded)."""

    def __init__(self, token_lists: list[list[str]]) -> None:
        self.unigrams = _Field(token_lists)
        self.pairs = _Field([pairs(t) for t in token_lists])


class KeywordIndex:
    """BM25 over the chunk texts: ``unigram + pair_weight × pair`` scores.

    Example::

        kw = KeywordIndex(["Cụm thi đua số 2 gồm 14 tỉnh.", "Hà Nội là thủ đô."])
        kw.search("cum thi dua", k=1)   # → (array([0]), array([...]))
    """

    def __init__(self, texts: list[str], *, pair_weight: float = 0.5) -> None:
        self.pair_weight = pair_weight
        tokens = [syllables(t) for t in texts]
        self.exact = _Fields(tokens)
        self.folded = _Fields([[fold(t) for t in ts] for ts in tokens])
        self.n = len(texts)
        self._tokens = tokens
        self._restorer: DiacriticRestorer | None = None

    def restore(self, query: str) -> str:
        """``query`` with the diacritics the corpus most likely meant ('cum thi dua' → 'cụm thi đua')."""
        if self._restorer is None:  # built on the first unaccented query only
            self._restorer = DiacriticRestorer(self._tokens)
        return self._restorer.run(query)

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
