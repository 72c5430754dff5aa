import pytest

from rag.retriever import fuse


def test_fuse_weighted_reciprocal_rank():
    fused = fuse([([1, 2, 3], 1.0), ([3, 1], 1.0)], rrf_k=60)
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62, abs=1e-9)


def test_fuse_ties_break_by_id():
    assert [i for i, _ in fuse([([5], 1.0), ([4], 1.0)], rrf_k=60)] == [4, 5]


def test_query_without_diacritics_finds_the_passage(seed_assistant):
    r = seed_assistant.retriever.run("cum thi dua so 2 gom nhung tinh thanh pho nao")
    assert r.passages[0].chunk.source == "004_67d702c3fe2dbdbb.txt"
    assert r.passages[0].keyword_rank is not None


def test_english_query_finds_vietnamese_passage(seed_assistant):
    r = seed_assistant.retriever.run("Which provinces belong to emulation cluster number 2?")
    assert "004_67d702c3fe2dbdbb.txt" in [p.chunk.source for p in r.passages[:3]]


def test_langchain_retriever_carries_offsets(seed_assistant):
    docs = seed_assistant.as_retriever(k=3).invoke("Ai chủ trì hội nghị giao ban khu vực miền Bắc?")
    assert len(docs) == 3
    meta = docs[0].metadata
    text = seed_assistant.index.texts[meta["source"]]
    assert docs[0].page_content.startswith(text[meta["start"] : meta["start"] + 20])
