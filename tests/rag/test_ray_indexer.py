"""`virag index --ray`: workers killed mid-run and bad files lose no document and index none twice."""

import os
import signal

import numpy as np
import pytest

pytest.importorskip("ray", reason='needs the scale extra: pip install -e ".[scale]"')
pytest.importorskip("pymilvus", reason='needs the scale extra: pip install -e ".[scale]"')

from rag import Assistant  # noqa: E402
from ui.cli import main  # noqa: E402
from rag.index.distributed import RayIndexer  # noqa: E402
from rag.index.milvus import _count  # noqa: E402
from rag.index.folder import read_manifest  # noqa: E402
from rag.index.format import DELTA  # noqa: E402

GOOD = ["000_235558df8fbeb811.txt", "001_7d2fc00ee8fcd6c5.txt", "002_f2420c0540b3194a.txt",
        "003_5072486995dc572e.txt", "004_67d702c3fe2dbdbb.txt"]


def _spans(index):
    return [(c.source, c.start, c.end, c.text) for c in index.chunks]


def test_killed_worker_and_bad_files_every_good_document_indexed_once(settings, encoder, corpus, tmp_path,
                                                                      seed_assistant):
    (corpus / "hong.pdf").write_bytes(b"%PDF-1.4 garbage, not a PDF")
    (corpus / "rong.txt").write_bytes(b"")
    s = settings.with_(store="milvus", ray_workers=2)
    killed, events = [], []

    def progress(p):
        events.append(p)
        if not killed and p.error is None:  # one document done, the others still in flight: kill a worker
            victim = next(pid for pid in indexer.worker_pids if pid != p.worker_pid)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    indexer = RayIndexer(s, encoder, batch_docs=1, progress=progress)
    report = indexer.run(corpus, tmp_path / "idx")

    assert killed and set(indexer.result_pids) - set(indexer.worker_pids)  # a restarted worker finished the work
    assert sorted(report.index.manifest.files) == GOOD == sorted(report.added)
    assert {k.source for k in report.skipped} == {"hong.pdf", "rong.txt"}
    assert any("not a readable PDF" in k.reason for k in report.skipped)
    assert sorted(e.source for e in events if e.error is None) == GOOD  # one event per good document
    # exactly once: the same chunks, in the same order, as the plain single-process index
    assert _spans(report.index) == _spans(seed_assistant.index)
    assert len(set(_spans(report.index))) == len(report.index.chunks) == report.embedded_chunks
    ids = list(range(len(report.index.chunks)))
    assert np.allclose(report.index.vectors_of(ids), seed_assistant.index.vectors_of(ids), atol=1e-4)
    vectors = report.index.vectors
    assert _count(vectors.client, vectors.collection) == len(report.index.chunks)  # no row written twice
    qa = Assistant(report.index, settings=s, encoder=encoder)
    q = "Cụm thi đua số 2 gồm những tỉnh nào?"
    assert [(c.source, c.start, c.end) for c in qa.ask(q).citations] == \
        [(c.source, c.start, c.end) for c in seed_assistant.ask(q).citations]


def test_cli_index_ray_updates_incrementally(corpus, tmp_path, capsys):
    index = str(tmp_path / "idx")
    assert main(["index", str(corpus), "--ray", "-w", "1", "--index", index]) == 0
    assert "5 added" in capsys.readouterr().out
    target = corpus / "003_5072486995dc572e.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nMột đoạn mới về thi đua khen thưởng.", encoding="utf-8")
    assert main(["index", str(corpus), "--ray", "-w", "1", "--index", index]) == 0
    out = capsys.readouterr()
    assert "1 changed, 0 removed, 4 unchanged" in out.out and "[1/1] 003_5072486995dc572e.txt" in out.err
    assert main(["index", str(corpus), "--ray", "--index", index]) == 0  # nothing changed: Ray is not even started
    assert "0 chunks embedded" in capsys.readouterr().out
    # an added document goes to the delta segment, as with the plain indexer: the base is not rewritten
    (corpus / "moi.txt").write_text("Hội nghị tổng kết công tác thi đua năm 2024 diễn ra tại Đà Nẵng.", encoding="utf-8")
    assert main(["index", str(corpus), "--ray", "-w", "1", "--index", index]) == 0
    assert "1 added, 0 changed, 0 removed, 5 unchanged" in capsys.readouterr().out
    manifest = read_manifest(tmp_path / "idx")[1]
    assert [s["prefix"] for s in manifest.segments] == ["", DELTA] and "moi.txt" in manifest.files
