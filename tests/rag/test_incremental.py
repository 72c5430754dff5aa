"""Adding documents writes only a small delta segment beside the base, and ranks exactly as a fresh build.

The base segment's files are hard-linked into the new version, unchanged files are recognised by
size and modification time without being read, and a kill -9 at any moment of an add leaves the
previous version loadable.
"""

import json
import os
import shutil

import numpy as np
import pytest

from rag import Assistant
from rag.index.indexer import Indexer
from rag.index.folder import read_index, read_manifest
from rag.index.format import FORMAT_VERSION, DELTA
from tests.conftest import ROOT
from tests.rag.test_crash_safety import QUESTION, assert_answers, kill_9, leftovers, start

NEW_DOCS = {  # names sort after the seeds: corpus order and order of addition agree, so do chunk ids
    "zz_1 lễ hội.txt": "Tỉnh Cao Bằng tổ chức lễ hội mùa xuân năm 2025 tại thác Bản Giốc với 40 gian hàng.\n",
    "zz_2 hoa.txt": ("Lễ hội hoa Đà Lạt kéo dài mười ngày. Cụm thi đua số 2 gửi đoàn đại biểu tham dự lễ hội "
                     "hoa và trao tặng cờ thi đua cho ban tổ chức.\n"),
}


def questions() -> list[str]:
    out = []
    for name in ("seed_dev.jsonl", "seed_dev_nodiacritics.jsonl"):
        lines = (ROOT / "evals" / name).read_text(encoding="utf-8").splitlines()
        out += [json.loads(line)["question"] for line in lines if line.strip()]
    return out + ["le hoi hoa da lat keo dai bao lau", "Lễ hội mùa xuân ở Cao Bằng có bao nhiêu gian hàng?"]


def ranking(qa: Assistant, q: str) -> tuple[list[tuple], np.ndarray]:
    passages = qa.retriever.run(q, k=10).passages
    return [(p.chunk.source, p.chunk.start, p.chunk.end) for p in passages], np.array([p.score for p in passages])


def test_added_documents_rank_exactly_as_a_fresh_build(settings, encoder, corpus, tmp_path):
    Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    for i, (name, text) in enumerate(NEW_DOCS.items(), 1):  # the second run extends the delta the first wrote
        (corpus / name).write_text(text, encoding="utf-8")
        report = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
        assert report.added == [name] and report.embedded_chunks == 1 and report.counts == (5 + i, 23 + i)
    updated = Assistant(report.index, settings=settings, encoder=encoder)
    assert [s["prefix"] for s in updated.index.manifest.segments] == ["", DELTA]
    assert updated.index.manifest.segments[1]["chunks"] == 2
    fresh = Assistant.from_folder(corpus, settings=settings, index_dir=tmp_path / "fresh", encoder=encoder)
    assert [c.source for c in updated.index.chunks] == [c.source for c in fresh.index.chunks]
    assert np.allclose(updated.index.dense_stats, fresh.index.dense_stats, atol=1e-6)
    for q in questions():
        assert np.array_equal(updated.retriever.keywords.scores(q), fresh.retriever.keywords.scores(q)), q
        (ours, our_scores), (theirs, their_scores) = ranking(updated, q), ranking(fresh, q)
        assert ours == theirs and np.allclose(our_scores, their_scores, atol=1e-4), q
        assert updated.retriever.keywords.restore(q) == fresh.retriever.keywords.restore(q)
    top = updated.retriever.run("le hoi hoa da lat keo dai bao lau").passages[0]
    assert top.chunk.source == "zz_2 hoa.txt"
    assert updated.ask(QUESTION).text == fresh.ask(QUESTION).text


def test_an_add_links_the_base_and_reads_no_unchanged_file(settings, encoder, corpus, tmp_path, monkeypatch):
    first = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    base = os.stat(first.index.path / "vectors.faiss").st_ino
    read = []
    real = __import__("rag.index.indexer", fromlist=["read_bytes"]).read_bytes
    monkeypatch.setattr("rag.index.indexer.read_bytes", lambda path, source, **kw: read.append(source) or real(path, source, **kw))
    (corpus / "zz_1 lễ hội.txt").write_text(NEW_DOCS["zz_1 lễ hội.txt"], encoding="utf-8")
    report = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert read == ["zz_1 lễ hội.txt"] and report.summary().startswith("6 documents, 24 chunks; 1 added")
    version, manifest = read_manifest(tmp_path / "idx")
    assert os.stat(version / "vectors.faiss").st_ino == base  # the base was linked, not rewritten
    assert all({"size", "mtime_ns"} <= set(entry) for entry in manifest.files.values())
    target = corpus / "001_7d2fc00ee8fcd6c5.txt"
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))  # touched, not changed
    read.clear()
    again = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert read == ["001_7d2fc00ee8fcd6c5.txt"] and not again.wrote and again.embedded_chunks == 0


def test_the_delta_is_merged_into_the_base_past_delta_max_chunks(settings, encoder, corpus, tmp_path):
    small = settings.with_(delta_max_chunks=1)
    Indexer(small, encoder).run(corpus, tmp_path / "idx")
    names = list(NEW_DOCS)
    (corpus / names[0]).write_text(NEW_DOCS[names[0]], encoding="utf-8")
    assert len(Indexer(small, encoder).run(corpus, tmp_path / "idx").index.manifest.segments) == 2
    (corpus / names[1]).write_text(NEW_DOCS[names[1]], encoding="utf-8")
    report = Indexer(small, encoder).run(corpus, tmp_path / "idx")
    assert report.embedded_chunks == 1  # the first new document's vector is reused, not re-embedded
    assert report.index.manifest.segments == [{"prefix": "", "chunks": 25}]
    assert not any(p.name.startswith(DELTA) for p in report.index.path.iterdir())
    assert read_index(tmp_path / "idx").keyword_index().search("lễ hội hoa Đà Lạt", 1)[0].tolist() == [24]


def test_removing_after_an_add_rewrites_one_segment(settings, encoder, corpus, tmp_path):
    Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    (corpus / "zz_1 lễ hội.txt").write_text(NEW_DOCS["zz_1 lễ hội.txt"], encoding="utf-8")
    Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    (corpus / "002_f2420c0540b3194a.txt").unlink()
    report = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert report.removed == ["002_f2420c0540b3194a.txt"] and report.embedded_chunks == 0
    assert len(report.index.manifest.segments) == 1 and report.index.chunks[-1].source == "zz_1 lễ hội.txt"
    assert_answers(read_index(tmp_path / "idx"), settings, encoder)


def test_an_index_of_the_previous_format_is_rebuilt_with_a_message(settings, encoder, corpus, tmp_path):
    first = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    path = first.index.path / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, "format_version": FORMAT_VERSION - 1}), encoding="utf-8")
    report = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert (f"format version {FORMAT_VERSION - 1}, this virag reads {FORMAT_VERSION}; rebuild it with `virag index`"
            in report.rebuild_reason)
    assert len(report.added) == 5 and len(report.index.chunks) == len(first.index.chunks)


def test_a_damaged_index_with_a_changed_file_is_rescanned_and_each_document_embedded_once(
        settings, encoder, corpus, tmp_path, monkeypatch):
    first = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    (first.index.path / "store.sqlite").write_text("garbage", encoding="utf-8")
    target = corpus / "001_7d2fc00ee8fcd6c5.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nCâu này được thêm vào sau.\n", encoding="utf-8")
    embedded = []
    real = encoder.encode_documents
    monkeypatch.setattr(encoder, "encode_documents", lambda texts, **kw: embedded.append(len(texts)) or real(texts, **kw))
    report = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert "corrupted" in report.rebuild_reason and len(report.added) == 5 and not report.changed
    assert embedded == [report.embedded_chunks] == [len(report.index.chunks)]
    assert_answers(read_index(tmp_path / "idx"), settings, encoder)


def test_the_diacritic_tables_are_read_not_built(seed_index_dir, seed_assistant, monkeypatch):
    def no_build(*a, **k):
        raise AssertionError("diacritic tables built at query time")

    monkeypatch.setattr("rag.index.lexical.LexicalSegment.build", no_build)
    index = read_index(seed_index_dir)
    assert index.keyword_index().restore("Cum thi dua so 2 gom nhung tinh nao?") == "Cụm thi đua số 2 gồm những tỉnh nào?"


@pytest.fixture
def added(tmp_path, corpus, seed_index_dir, seed_assistant):
    """A copy of the seed index, and the seed corpus with one file added (nothing changed)."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    (corpus / "zz_1 lễ hội.txt").write_text(NEW_DOCS["zz_1 lễ hội.txt"], encoding="utf-8")
    return corpus, index_dir, read_index(index_dir).manifest.files


@pytest.mark.slow
@pytest.mark.parametrize("point,debris", [("checksums", [".tm"]), ("pointer", ["v-1"]), ("cleanup", ["v-1"])])
def test_kill_9_while_adding_a_document(added, settings, encoder, point, debris):
    corpus, index_dir, before = added
    kill_9(start(point, "index", corpus, "--index", index_dir))
    after = read_index(index_dir)  # raises if damaged
    assert [name[:3] for name in leftovers(index_dir) if name != after.path.name] == debris
    expected = {*before, "zz_1 lễ hội.txt"} if point == "cleanup" else set(before)
    assert set(after.manifest.files) == expected and len(after.manifest.segments) == (2 if point == "cleanup" else 1)
    assert_answers(after, settings, encoder)
    report = Indexer(settings, encoder).run(corpus, index_dir)  # the next ordinary run finishes the work
    assert set(report.index.manifest.files) == {*before, "zz_1 lễ hội.txt"}
    assert_answers(read_index(index_dir), settings, encoder)
