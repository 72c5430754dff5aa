"""The Milvus backend (milvus-lite, a file in the index folder): same answers, citations and guarantees as FAISS."""

import json
import re

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason='needs the scale extra: pip install -e ".[scale]"')

from rag import Assistant  # noqa: E402
from rag.errors import ConfigError, IndexError_  # noqa: E402
from rag.index.indexer import Indexer  # noqa: E402
from rag.index.milvus import KEYS_FILE, MilvusVectors, _count  # noqa: E402

from ..conftest import SEED_DEV  # noqa: E402


def _answer_key(ans):
    cites = [(c.n, c.source, c.start, c.end, c.quote, round(c.score, 4)) for c in ans.citations]
    passages = [(p.chunk.source, p.chunk.start, p.chunk.end) for p in ans.passages]
    return ans.text, ans.abstained, cites, passages


@pytest.fixture(scope="module")
def milvus_assistant(settings, encoder, tmp_path_factory):
    return Assistant.from_folder("seeds", settings=settings.with_(store="milvus"), encoder=encoder,
                                 index_dir=tmp_path_factory.mktemp("milvus-seed-index"))


def test_seed_dev_same_answers_and_citations_as_faiss(seed_assistant, milvus_assistant):
    index = milvus_assistant.index
    assert isinstance(index.vectors, MilvusVectors) and index.manifest.vectors["store"] == "milvus"
    assert not (index.path / "vectors.faiss").exists() and (index.path / KEYS_FILE).is_file()
    assert _count(index.vectors.client, index.vectors.collection) == len(index.chunks) == len(seed_assistant.index.chunks)
    questions = [json.loads(line) for line in SEED_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    cited = 0
    for q in questions:
        faiss_ans, milvus_ans = seed_assistant.ask(q["question"]), milvus_assistant.ask(q["question"])
        assert _answer_key(milvus_ans) == _answer_key(faiss_ans), q["id"]
        for c in milvus_ans.citations:
            assert milvus_assistant.index.texts[c.source][c.start : c.end] == c.quote
        cited += bool(milvus_ans.citations)
    assert len(questions) == 30 and cited >= 25  # the comparison covers real, cited answers


def test_reopen_and_from_index_read_the_collection(settings, encoder, milvus_assistant):
    s = settings.with_(store="milvus")
    again = Indexer(s, encoder).run("seeds", milvus_assistant.index.path.parent)
    assert not again.wrote and again.embedded_chunks == 0
    reopened = Assistant.from_index(milvus_assistant.index.path.parent, settings=s, encoder=encoder)
    q = "Cụm thi đua số 2 gồm những tỉnh nào?"
    assert _answer_key(reopened.ask(q)) == _answer_key(milvus_assistant.ask(q))


def test_update_writes_only_new_chunks_and_deletes_stale_ones(settings, encoder, corpus, tmp_path):
    s = settings.with_(store="milvus")
    first = Indexer(s, encoder).run(corpus, tmp_path / "idx")
    target = corpus / "000_235558df8fbeb811.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nCâu bổ sung về hội nghị cuối năm.", encoding="utf-8")
    (corpus / "002_f2420c0540b3194a.txt").unlink()
    report = Indexer(s, encoder).run(corpus, tmp_path / "idx")
    assert report.changed == ["000_235558df8fbeb811.txt"] and report.removed == ["002_f2420c0540b3194a.txt"]
    assert report.embedded_chunks == report.index.manifest.files["000_235558df8fbeb811.txt"]["chunks"]
    vectors = report.index.vectors
    # the rows of the old file version and of the removed file are gone: one row per chunk
    assert _count(vectors.client, vectors.collection) == len(report.index.chunks)
    # unchanged files keep their rows (same keys) and identical vectors
    old = [i for i, c in enumerate(first.index.chunks) if c.source == "001_7d2fc00ee8fcd6c5.txt"]
    new = [i for i, c in enumerate(report.index.chunks) if c.source == "001_7d2fc00ee8fcd6c5.txt"]
    assert (first.index.vectors.keys[old] == vectors.keys[new]).all()
    assert (first.index.vectors_of(old) == report.index.vectors_of(new)).all()


def test_orphan_rows_of_a_crashed_write_are_skipped_then_collected(settings, encoder, corpus, tmp_path):
    s = settings.with_(store="milvus")
    built = Indexer(s, encoder).run(corpus, tmp_path / "idx").index
    q = encoder.encode_query(["Cụm thi đua số 2 gồm những tỉnh nào?"])
    # a write that died before its commit: rows no version names, placed to win every search
    vectors = built.vectors
    orphans = [{"id": 10**15 + i, "vector": q[0], "source": "ghost.txt", "start": 0, "end": 1} for i in range(8)]
    vectors.client.upsert(vectors.collection, orphans)
    reopened = Assistant.from_index(tmp_path / "idx", settings=s, encoder=encoder)
    scores, ids = reopened.index.search(q, 5)
    assert (ids[0] >= 0).all() and (ids[0] < len(built.chunks)).all()  # the orphans were searched past
    assert (built.search(q, 5)[1][0] == ids[0]).all()  # also a reader opened before the orphans were written
    (corpus / "002_f2420c0540b3194a.txt").unlink()
    after = Indexer(s, encoder).run(corpus, tmp_path / "idx").index
    assert _count(vectors.client, vectors.collection) == len(after.chunks)  # the next write deleted them


def test_moving_a_faiss_index_to_milvus_embeds_nothing(settings, encoder, corpus, tmp_path):
    first = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    moved = Indexer(settings.with_(store="milvus"), encoder).run(corpus, tmp_path / "idx")
    assert moved.embedded_chunks == 0 and "from faiss to milvus" in moved.rebuild_reason
    assert isinstance(moved.index.vectors, MilvusVectors)
    ids = list(range(len(first.index.chunks)))
    assert np.allclose(first.index.vectors_of(ids), moved.index.vectors_of(ids))
    back = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert back.embedded_chunks == 0 and "from milvus to faiss" in back.rebuild_reason


def test_a_dropped_collection_is_a_clear_error_then_rebuilt(settings, encoder, corpus, tmp_path):
    s = settings.with_(store="milvus")
    built = Indexer(s, encoder).run(corpus, tmp_path / "idx").index
    built.vectors.client.drop_collection(built.vectors.collection)
    with pytest.raises(IndexError_, match=re.escape(f"Milvus collection '{built.vectors.collection}' is missing")):
        Assistant.from_index(tmp_path / "idx", settings=s, encoder=encoder)
    report = Indexer(s, encoder).run(corpus, tmp_path / "idx")
    assert "is missing" in report.rebuild_reason and report.embedded_chunks == len(report.index.chunks)


def test_bad_uri_and_missing_package_name_the_fix(settings, encoder, corpus, tmp_path, monkeypatch):
    bad = settings.with_(store="milvus", milvus_uri="/tmp/not-a-db-file")
    with pytest.raises(ConfigError, match=re.escape("Setting 'milvus_uri' = '/tmp/not-a-db-file'")):
        Indexer(bad, encoder).run(corpus, tmp_path / "idx")
    monkeypatch.setitem(__import__("sys").modules, "pymilvus", None)
    monkeypatch.setattr("rag.index.milvus._CLIENTS", {})
    with pytest.raises(ConfigError, match=re.escape('pip install "virag[scale]"')):
        Indexer(settings.with_(store="milvus"), encoder).run(corpus, tmp_path / "idx2")
