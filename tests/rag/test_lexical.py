"""BM25 and diacritic restoration from the saved arrays, checked against independent references:
bm25s (the library the scores must equal, bit for bit) and a Counter-based restorer."""

import re
from collections import Counter

import numpy as np
import pytest

from rag.index.diskarray import DiskArray
from rag.index.lexical import _QUESTION_WORDS as QUESTION_WORDS
from rag.index.lexical import FIELDS, DiacriticRestorer, KeywordIndex, LexicalSegment, content_terms, pairs
from rag.vietnamese import fold, has_diacritics, syllables
from tests.conftest import ROOT


class Bm25sReference:
    """BM25 as bm25s computes it (the implementation virag used before its own arrays)."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        def field(docs):
            bm = bm25s.BM25(k1=1.2, b=0.75)
            bm.index([d or [""] for d in docs], show_progress=False)
            return bm

        tokens = [syllables(t) for t in texts]
        folded = [[fold(t) for t in ts] for ts in tokens]
        self.fields = {False: (field(tokens), field([pairs(t) for t in tokens])),
                       True: (field(folded), field([pairs(t) for t in folded]))}

    def scores(self, query: str, pair_weight: float = 0.5) -> np.ndarray:
        folded = not has_diacritics(query)
        uni, pair = self.fields[folded]

        def score(bm, tokens):
            ids = [bm.vocab_dict[t] for t in tokens if t in bm.vocab_dict and t]
            if not ids:
                return np.zeros(bm.scores["num_docs"], dtype=np.float32)
            return np.asarray(bm.get_scores_from_ids(ids), dtype=np.float32)

        return score(uni, content_terms(syllables(query, folded=folded), folded)) + pair_weight * score(pair, pairs(syllables(query, folded=folded)))


class CounterRestorer(DiacriticRestorer):
    """Forms and counts from Counters over every chunk (how they were built at query time before); the
    Viterbi is the restorer's own, so the test compares the memory-mapped tables with the Counters."""

    def __init__(self, texts: list[str], max_forms: int = 6) -> None:
        super().__init__([], max_forms)
        self.unigrams, self.bigrams = Counter(), Counter()
        for tokens in map(syllables, texts):
            self.unigrams.update(tokens)
            self.bigrams.update(zip(tokens, tokens[1:]))
        self.forms: dict[str, list[str]] = {}
        for form, _ in self.unigrams.most_common():
            bucket = self.forms.setdefault(fold(form), [])
            if len(bucket) < max_forms:
                bucket.append(form)
        for word in QUESTION_WORDS:
            bucket = self.forms.setdefault(fold(word), [])
            if word not in bucket:
                bucket.append(word)

    def _options(self, key: str):
        forms = self.forms.get(key)
        return (forms, {f: self.unigrams[f] for f in forms}) if forms else None

    def _pair_counts(self, left: list[str], right: list[str]) -> dict[tuple[str, str], int]:
        return {(p, c): self.bigrams[(p, c)] for p in left for c in right}


@pytest.fixture(scope="module")
def seed_texts(seed_assistant):
    return [c.text for c in seed_assistant.index.chunks]


def questions() -> list[str]:
    import json

    out = []
    for name in ("seed_dev.jsonl", "seed_dev_nodiacritics.jsonl"):
        path = ROOT / "evals" / name
        out += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out + ["", "xyz không có", "Hà Nội hà nội HÀ NỘI", "a", "thi_đua số 2", "năm 2024 năm 2024"]


def test_scores_equal_bm25s_bit_for_bit(seed_texts):
    pytest.importorskip("bm25s")
    texts = [*seed_texts, "", "một", "Hội nghị thi đua hội nghị thi đua."]  # empty and one-syllable chunks too
    ours, ref = KeywordIndex(texts), Bm25sReference(texts)
    for q in questions():
        assert np.array_equal(ours.scores(q), ref.scores(q)), q
    assert ours.scores("cụm thi đua").max() > 0 and ours.scores("cum thi dua").max() > 0


def test_restoration_equals_the_counter_restorer(seed_texts):
    ours, ref = KeywordIndex(seed_texts), CounterRestorer(seed_texts)
    qs = [q for q in questions() if not has_diacritics(q)]
    assert len(qs) >= 28
    restored = [ours.restore(q) for q in qs]
    assert restored == [ref.run(q) for q in qs]
    assert sum(r != q for r, q in zip(restored, qs)) >= len(qs) - 3  # it does restore, not pass through


def test_segments_score_and_restore_as_one(seed_texts):
    """Chunks split over two segments give the scores, IDF and restorations of one index over all of them."""
    whole = KeywordIndex(seed_texts)
    split = KeywordIndex(segments=[LexicalSegment.build(seed_texts[:15]), LexicalSegment.build(seed_texts[15:])])
    for q in questions():
        assert np.array_equal(whole.scores(q), split.scores(q)), q
        field, twin = whole.unigrams(folded=False), split.unigrams(folded=False)
        assert [field.idf(t) for t in content_terms(syllables(q), False)] == [twin.idf(t) for t in content_terms(syllables(q), False)]
        if not has_diacritics(q):
            assert whole.restore(q) == split.restore(q), q


def test_saved_segment_is_read_from_disk_and_checked(tmp_path, seed_texts):
    names = KeywordIndex(seed_texts).save(tmp_path, "delta.")
    assert all(n.startswith("delta.lexical.") for n in names) and all((tmp_path / n).is_file() for n in names)
    loaded = KeywordIndex.load(tmp_path, [("delta.", len(seed_texts))])
    seg = loaded.segments[0]
    assert isinstance(seg.fields[FIELDS[0]]["docs"], DiskArray) and isinstance(seg.syllables["blob"], DiskArray)
    assert np.array_equal(loaded.scores("cum thi dua so 2"), KeywordIndex(seed_texts).scores("cum thi dua so 2"))
    with pytest.raises(ValueError, match=re.escape("delta.lexical.json: BM25 index holds")):
        KeywordIndex.load(tmp_path, [("delta.", len(seed_texts) - 1)])
