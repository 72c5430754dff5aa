"""The Milvus backend against a real Milvus server: the embedded Milvus Lite 2.3 (``pip install milvus``, C++
Milvus standalone in a child process on 127.0.0.1), the same client code as for milvus-lite's file."""

import statistics
import time

import pytest

pytest.importorskip("pymilvus", reason='needs the scale extra: pip install -e ".[scale]"')
pytest.importorskip("milvus", reason='needs the embedded server: pip install -e ".[milvus-server]"')

from benchmarks.million import MilvusServer  # noqa: E402
from rag import Assistant  # noqa: E402
from rag.index.indexer import Indexer  # noqa: E402
from rag.index.milvus import MilvusVectors, _count  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with MilvusServer(tmp_path_factory.mktemp("milvus-server")) as uri:
        yield uri


def test_a_server_answers_like_faiss_reads_its_own_writes_and_does_not_wait_a_time_tick(
        settings, encoder, corpus, tmp_path, server):
    s = settings.with_(store="milvus", milvus_uri=server)
    faiss = Indexer(settings, encoder).run(corpus, tmp_path / "faiss").index
    built = Indexer(s, encoder).run(corpus, tmp_path / "idx").index
    assert isinstance(built.vectors, MilvusVectors) and built.manifest.vectors["written_at"] is not None
    q = encoder.encode_query(["Cụm thi đua số 2 gồm những tỉnh nào?", "Hội nghị tổng kết diễn ra ở đâu?"])
    assert (built.search(q, 5)[1] == faiss.search(q, 5)[1]).all()
    # a new document, asked for straight after its version is written, from a fresh process's view
    (corpus / "new.txt").write_text("Quả bóng vàng thuỷ tinh được trao cho nghệ nhân làng gốm Bát Tràng năm 2031.",
                                    encoding="utf-8")
    Indexer(s, encoder).run(corpus, tmp_path / "idx")
    reopened = Assistant.from_index(tmp_path / "idx", settings=s, encoder=encoder).index
    new = encoder.encode_query(["Quả bóng vàng thuỷ tinh được trao cho ai?"])
    assert reopened.chunks[int(reopened.search(new, 1)[1][0, 0])].source == "new.txt"
    assert _count(reopened.vectors.client, reopened.vectors.collection) == len(reopened.chunks)
    # "Strong" reads wait for the server's next time tick: ~200 ms a call on Milvus 2.3. A retrieval makes two:
    # the search, and the candidates' vectors read back for their exact scores.
    times = []
    for _ in range(15):
        t = time.perf_counter()
        found = reopened.search(q[:1], 10)[1][0]
        reopened.vectors_of(found.tolist())
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.1, times
