"""The knowledge base file by file: `virag list`, `virag remove`, re-indexing one file."""

from __future__ import annotations

import json
import shutil

import pytest

from rag import Assistant
from rag.cli import main
from rag.index.catalogue import Catalogue
from rag.index.folder import read_index
from tests.conftest import DATA

REMOVED = "000_235558df8fbeb811.txt"
ITS_QUESTION = "Những ai dự hội nghị tại điểm cầu Thừa Thiên Huế?"
OTHER_QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"


@pytest.fixture
def kb(tmp_path, corpus, seed_index_dir, seed_assistant, settings, encoder):
    """The seeds plus a PDF, a Windows-1258 text, an empty file and an unsupported one, indexed."""
    shutil.copy(DATA / "vi_report.pdf", corpus / "báo cáo.pdf")
    shutil.copy(DATA / "vi_cp1258.txt", corpus / "cp1258.txt")
    (corpus / "rỗng.txt").write_text("", encoding="utf-8")
    (corpus / "ảnh.png").write_bytes(b"\x89PNG\r\n")
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    Assistant.from_folder(corpus, settings=settings, index_dir=index_dir, encoder=encoder)
    return Catalogue(corpus, index_dir, settings, encoder)


def test_list_shows_chunks_pages_encoding_and_the_skipped_files_with_why(capsys, kb):
    assert main(["list", "-c", str(kb.corpus), "-i", str(kb.index_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    files = {f["source"]: f for f in out["files"]}
    assert len(files) == 7 and all(f["chunks"] > 0 and f["indexed"] for f in files.values())
    assert files["báo cáo.pdf"]["pages"] == len(read_index(kb.index_dir).pages["báo cáo.pdf"]) >= 2
    assert files["cp1258.txt"]["encoding"] == "cp1258" and files[REMOVED]["encoding"] == "utf-8"
    skipped = {s["source"]: s["reason"] for s in out["skipped"]}
    assert set(skipped) == {"rỗng.txt", "ảnh.png"}
    assert "empty" in skipped["rỗng.txt"] and "unsupported format" in skipped["ảnh.png"]

    assert main(["list", "-c", str(kb.corpus), "-i", str(kb.index_dir)]) == 0
    table = capsys.readouterr().out
    assert "báo cáo.pdf" in table and "cp1258" in table and "Skipped: rỗng.txt: empty" in table


def test_remove_takes_the_file_out_of_the_folder_and_the_index(capsys, kb, settings, encoder):
    before = read_index(kb.index_dir)
    assert not Assistant(before, settings=settings, encoder=encoder).ask(ITS_QUESTION).abstained
    assert main(["remove", str(kb.corpus / REMOVED), "-c", str(kb.corpus), "-i", str(kb.index_dir)]) == 0
    assert f"Removed {REMOVED}" in capsys.readouterr().out
    after = read_index(kb.index_dir)
    assert not (kb.corpus / REMOVED).exists() and REMOVED not in after.manifest.files
    assert set(after.manifest.files) == set(before.manifest.files) - {REMOVED}
    assert after.vectors.ntotal == len(after.chunks) == len(before.chunks) - before.manifest.files[REMOVED]["chunks"]
    assert all(c.source != REMOVED for c in after.chunks)
    qa = Assistant(after, settings=settings, encoder=encoder)
    assert qa.ask(ITS_QUESTION).abstained
    assert not qa.ask(OTHER_QUESTION).abstained


def test_removing_what_is_not_indexed_is_a_clear_error_and_changes_nothing(capsys, kb):
    version = read_index(kb.index_dir).path
    args = ["-c", str(kb.corpus), "-i", str(kb.index_dir)]
    assert main(["remove", "rỗng.txt", *args]) == 1
    assert "rỗng.txt: not in the index" in capsys.readouterr().err
    assert main(["remove", "không có.txt", *args]) == 1
    assert "không có.txt: not in the index" in capsys.readouterr().err
    assert main(["remove", str(DATA / "vi_utf8.txt"), *args]) == 1
    assert "not a file of the corpus" in capsys.readouterr().err
    assert read_index(kb.index_dir).path == version and (kb.corpus / "rỗng.txt").exists()


def test_reindex_reads_one_file_again(kb):
    report = kb.reindex("cp1258.txt")
    assert report.changed == ["cp1258.txt"] and report.embedded_chunks > 0 and not report.added
    assert set(report.unchanged) == set(report.index.manifest.files) - {"cp1258.txt"}
