"""The streaming writer and the read-on-demand index: the same index as the in-memory path, chunk for chunk."""

import json

import numpy as np
import pytest

from rag.index.folder import read_index
from rag.index.format import Manifest
from rag.index.store import Chunks
from rag.index.vectors import index_kind
from rag.index.writer import IndexWriter
from rag.search.retriever import HybridRetriever
from tests.conftest import SEED_DEV

QUESTIONS = [json.loads(line)["question"] for line in SEED_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stream(index, root, **options):
    """``index`` written again through :class:`IndexWriter`, one document at a time."""
    m = index.manifest
    manifest = Manifest(model=m.model, dimension=m.dimension, chunker=m.chunker, files=dict(m.files))
    vectors = index.all_vectors()
    by_source: dict[str, list[int]] = {}
    for i, c in enumerate(index.chunks):
        by_source.setdefault(c.source, []).append(i)
    with IndexWriter(root, manifest, **options) as writer:
        for source in index.texts:
            ids = by_source.get(source, [])
            writer.add(source, index.texts[source], index.pages.get(source, ()), [index.chunks[i] for i in ids],
                       vectors[ids])
        writer.commit()
    return read_index(root)


def test_a_streamed_index_equals_the_plain_one(seed_assistant, settings, encoder, tmp_path):
    plain = seed_assistant.index
    streamed = _stream(plain, tmp_path / "streamed", shard_chunks=5, flat_max=None)
    assert isinstance(streamed.chunks, Chunks)  # read on demand, not held
    assert list(streamed.chunks) == list(plain.chunks) and dict(streamed.texts) == dict(plain.texts)
    assert len(streamed.keywords.segments) >= 3  # 23 chunks, BM25 shards of at least 5 (whole documents)
    assert np.allclose(streamed.dense_stats, plain.dense_stats, atol=1e-6)
    for q in QUESTIONS:  # shards scored with corpus-wide statistics: the one-shard scores, bit for bit
        assert np.array_equal(streamed.keywords.scores(q), plain.keyword_index().scores(q))
        assert streamed.keywords.restore(q.lower()) == plain.keyword_index().restore(q.lower())
    a, b = HybridRetriever(settings.retrieval, encoder, plain), HybridRetriever(settings.retrieval, encoder, streamed)
    for q in QUESTIONS:
        ra, rb = a.run(q), b.run(q)
        assert [(p.chunk, p.chunk_id) for p in ra.passages] == [(p.chunk, p.chunk_id) for p in rb.passages]
        assert np.allclose([p.score for p in ra.passages], [p.score for p in rb.passages], atol=1e-4)


def test_above_flat_max_the_vectors_are_an_inverted_file_and_a_document_can_still_be_added(
        seed_assistant, settings, encoder, corpus, tmp_path):
    from rag import Assistant

    root = tmp_path / "index"
    streamed = _stream(seed_assistant.index, root, flat_max=10)
    assert index_kind(streamed.vectors) == "ivf"
    assert {"vectors.ivf", "vectors.f32"} <= {p.name for p in streamed.path.iterdir()}
    exact = seed_assistant.index.search(seed_assistant.index.all_vectors()[:3], 5)
    assert np.array_equal(streamed.search(streamed.all_vectors()[:3], 5)[1], exact[1])  # one list: exact
    (corpus / "them_moi.txt").write_text("Hồ Gươm có Tháp Rùa nằm giữa hồ, là biểu tượng của Thủ đô.",
                                         encoding="utf-8")
    assistant = Assistant.from_folder(corpus, settings=settings.with_(flat_max_vectors=10), index_dir=root,
                                      encoder=encoder)
    index = assistant.index
    assert [s["prefix"] for s in index.manifest.segments] == ["", "delta."]  # appended, the base untouched
    assert index_kind(index.vectors) == "ivf" and len(index.chunks) == len(seed_assistant.index.chunks) + 1
    top = assistant.retriever.run("Tháp Rùa nằm ở đâu?").passages[0]
    assert top.chunk.source == "them_moi.txt" and index.quote("them_moi.txt", 0, 7) == "Hồ Gươm"


@pytest.mark.parametrize("dies_at", ["add", "commit"])
def test_a_writer_that_fails_leaves_the_previous_version_live(seed_assistant, tmp_path, dies_at):
    root = tmp_path / "index"
    before = _stream(seed_assistant.index, root)
    m = before.manifest
    manifest = Manifest(model=m.model, dimension=m.dimension, chunker=m.chunker, files={})
    with pytest.raises(ValueError), IndexWriter(root, manifest) as writer:
        writer.add("x.txt", "Một câu.", (), list(before.chunks)[:1], np.zeros((1, m.dimension), np.float32))
        if dies_at == "add":
            writer.add("y.txt", "Hai câu.", (), list(before.chunks)[:1], np.zeros((3, m.dimension), np.float32))
        raise ValueError("killed before commit")
    after = read_index(root)
    assert after.path == before.path and list(after.chunks) == list(before.chunks)
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
