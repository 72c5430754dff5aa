"""Performance features: vector index chosen by size, BM25 saved and loaded (no pickle), incremental add."""

import numpy as np
import pytest

from rag.types import Chunk
from rag.index.indexer import Indexer
from rag.index.lexical import KeywordIndex, lexical_files
from rag.vietnamese import has_diacritics
from rag.index.folder import read_index, write_index
from rag.index.format import Manifest
from rag.index.memory import StoredIndex
from rag.index.vectors import IvfVectors, index_kind, new_vector_index

TEXTS = [
    "Cụm thi đua số 2 gồm 14 tỉnh, thành phố phía Bắc.",
    "Hà Nội là thủ đô của nước Cộng hòa xã hội chủ nghĩa Việt Nam.",
    "Hội nghị tổng kết công tác thi đua năm 2024 được tổ chức tại Lạng Sơn.",
    "",
    "Đồng chí Trương Thị Mai chủ trì hội nghị.",
]
QUERIES = ["cum thi dua so 2", "Hội nghị thi đua ở đâu?", "thủ đô Hà Nội", "không có từ này xyz"]


def _unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _clustered(n: int, d: int, seed: int = 0, centres: int = 50) -> np.ndarray:
    """Unit vectors around a few centres, as embeddings are (uniform ones have no lists to find)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(centres, d))[rng.integers(0, centres, n)] + 0.5 * rng.normal(size=(n, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_vector_index_is_flat_up_to_the_threshold_and_an_inverted_file_above_with_high_recall(tmp_path):
    vecs, queries = _clustered(3000, 32), _clustered(100, 32, seed=1)
    assert index_kind(new_vector_index(vecs, 32)) == "flat"
    assert index_kind(new_vector_index(vecs, 32, flat_max=3000)) == "flat"
    ivf = new_vector_index(vecs, 32, flat_max=2999, nprobe=16)
    assert index_kind(ivf) == "ivf" and ivf.index.nlist == 64
    exact_scores, exact = new_vector_index(vecs, 32).search(queries, 10)
    scores, approx = ivf.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.95
    found = approx == exact  # where the same chunk is found, its score is the exact one
    assert np.allclose(scores[found], exact_scores[found], atol=1e-6)
    assert np.array_equal(ivf.reconstruct_batch(np.array([7, 2, 5])), vecs[[7, 2, 5]])  # z-scores need exact vectors
    assert ivf.save(tmp_path) == ("vectors.ivf", "vectors.f32")
    back = IvfVectors.open(tmp_path, "", nprobe=16)
    assert np.array_equal(back.search(queries, 10)[1], approx) and np.array_equal(back.reconstruct_n(0, 3000), vecs)


def test_bm25_save_load_round_trip_scores_identically(tmp_path):
    built = KeywordIndex(TEXTS, pair_weight=0.5)
    assert set(built.save(tmp_path)) == set(lexical_files())
    loaded = KeywordIndex.load(tmp_path, [("", len(TEXTS))], pair_weight=0.5)
    for q in QUERIES:
        assert np.array_equal(built.scores(q), loaded.scores(q))
        folded = not has_diacritics(q)
        field, twin = built.unigrams(folded), loaded.unigrams(folded)
        assert [field.idf(t) for t in q.lower().split()] == [twin.idf(t) for t in q.lower().split()]
    assert loaded.restore("cum thi dua") == built.restore("cum thi dua") == "cụm thi đua"
    heavier = loaded.with_pair_weight(1.0)
    assert heavier.scores(QUERIES[1]).sum() > loaded.scores(QUERIES[1]).sum()
    with pytest.raises(ValueError, match="lexical.json"):
        KeywordIndex.load(tmp_path, [("", 2)])


def test_the_store_saves_bm25_and_loads_it_without_rebuilding(tmp_path, monkeypatch):
    vecs = _unit(len(TEXTS), 8)
    chunks = [Chunk(source=f"{i}.txt", start=0, end=len(t), text=t, sentences=((0, len(t)),)) for i, t in enumerate(TEXTS)]
    manifest = Manifest(model="m", dimension=8, chunker={}, files={c.source: {"sha256": "x", "chunks": 1} for c in chunks})
    write_index(tmp_path, StoredIndex(manifest, chunks, new_vector_index(vecs, 8), {c.source: c.text for c in chunks}))

    def no_build(*a, **k):
        raise AssertionError("BM25 rebuilt at load")

    monkeypatch.setattr("rag.index.lexical.LexicalSegment.build", no_build)
    back = read_index(tmp_path)
    assert back.keywords is not None
    monkeypatch.undo()
    fresh = KeywordIndex(TEXTS)
    for q in QUERIES:
        assert np.array_equal(back.keyword_index().scores(q), fresh.scores(q))
    assert np.allclose(back.vectors_of([4, 1]), vecs[[4, 1]])


def test_adding_a_document_embeds_only_it(settings, encoder, corpus, tmp_path):
    embedded = []

    class Counting:
        def __getattr__(self, name):
            return getattr(encoder, name)

        def encode_documents(self, texts, **kw):
            embedded.append(len(texts))
            return encoder.encode_documents(texts, **kw)

    first = Indexer(settings, Counting()).run(corpus, tmp_path / "idx")
    (corpus / "zz_new.txt").write_text("Tỉnh Cao Bằng tổ chức lễ hội mùa xuân.\n", encoding="utf-8")
    report = Indexer(settings, Counting()).run(corpus, tmp_path / "idx")
    assert report.added == ["zz_new.txt"] and embedded[-1] == 1
    assert len(report.index.chunks) == len(first.index.chunks) + 1
    reopened = read_index(tmp_path / "idx")
    hits = reopened.keyword_index().search("lễ hội mùa xuân Cao Bằng", 1)[0]
    assert reopened.chunks[int(hits[0])].source == "zz_new.txt"


def test_a_query_takes_the_traced_path_and_gets_the_same_vector(torch_encoder, seed_assistant):
    """On torch, a question runs through the frozen TorchScript transformer (no per-op dispatch), a batch through
    the eager modules (no ``SentenceTransformer.encode`` bookkeeping): the vectors are ``encode``'s to rounding."""
    import json

    from tests.conftest import SEED_DEV

    encoder = torch_encoder
    questions = [json.loads(line)["question"] for line in SEED_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions += ["cum thi dua so 2", "Ai?", "x" * 3000]  # unaccented, one word, truncated at 512 tokens
    assert encoder.model._traced_model("query: ") is not None
    st = encoder.model.model
    via_encode = st.encode(questions, prompt="query: ", normalize_embeddings=True, batch_size=1)
    one_by_one = np.vstack([encoder.encode_query([q]) for q in questions])
    assert np.abs(one_by_one - via_encode).max() < 1e-6
    assert np.allclose(encoder.encode_query(questions[:5]), via_encode[:5], atol=1e-6)  # padded batch: eager
    docs = [c.text for c in seed_assistant.index.chunks]
    via_encode = st.encode(docs, prompt="passage: ", normalize_embeddings=True)
    assert np.abs(encoder.encode_documents(docs) - via_encode).max() < 1e-6  # token-sorted batches
