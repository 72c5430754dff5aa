"""The knowledge base file by file: `virag list`, `virag remove`, re-indexing one file."""

from __future__ import annotations

import json
import shutil

import pytest

from rag import Assistant
from ui.cli import main
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


def test_add_copies_files_in_and_indexes_only_them(capsys, kb, settings, encoder, tmp_path):
    """`virag add`: a readable file joins the folder and the index (the others are not re-embedded); a file
    that cannot be read is refused with why, and changes nothing."""
    new = tmp_path / "thông báo mới.txt"
    new.write_text("Hội nghị tổng kết công tác năm 2026 diễn ra tại Đà Lạt vào ngày 12 tháng 12.\n", encoding="utf-8")
    before = read_index(kb.index_dir)
    assert main(["add", str(new), "-c", str(kb.corpus), "-i", str(kb.index_dir)]) == 0
    assert "Added thông_báo_mới.txt" in capsys.readouterr().out
    after = read_index(kb.index_dir)
    assert (kb.corpus / "thông_báo_mới.txt").read_bytes() == new.read_bytes()
    assert set(after.manifest.files) == set(before.manifest.files) | {"thông_báo_mới.txt"}
    assert all(after.manifest.files[s]["sha256"] == e["sha256"] for s, e in before.manifest.files.items())
    answer = Assistant(after, settings=settings, encoder=encoder).ask("Hội nghị tổng kết năm 2026 diễn ra ở đâu?")
    assert answer.citations and answer.citations[0].source == "thông_báo_mới.txt"

    again = main(["add", str(new), "-c", str(kb.corpus), "-i", str(kb.index_dir)])  # the same file: refused
    bad = tmp_path / "bảng.xlsx"
    bad.write_bytes(b"PK\x03\x04")
    refused = main(["add", str(bad), "-c", str(kb.corpus), "-i", str(kb.index_dir)])
    err = capsys.readouterr().err
    assert again == refused == 1
    assert "tệp giống hệt đã có" in err and "bảng.xlsx" in err and "không được hỗ trợ" in err
    assert not (kb.corpus / "bảng.xlsx").exists()
    assert read_index(kb.index_dir).manifest.files == after.manifest.files


def test_the_chat_upload_is_the_library_add(kb, seed_assistant, monkeypatch, tmp_path):
    """The chat service holds the lock and swaps the assistant; adding is Catalogue.add, the same code `virag add` runs."""
    from ui.service import ChatService

    calls = []
    real = Catalogue.add

    def spy(self, paths, names=None, **options):
        calls.append((list(map(str, paths)), names))
        return real(self, paths, names, **options)

    monkeypatch.setattr(Catalogue, "add", spy)
    service = ChatService(seed_assistant, corpus=kb.corpus, index_dir=kb.index_dir)
    new = tmp_path / "upload"
    new.write_text("Ngày hội đọc sách của tỉnh được tổ chức tại thư viện tỉnh vào tháng 4.\n", encoding="utf-8")
    result = service.add_files([new], ["ngày hội.txt"])
    assert calls == [([str(new)], ["ngày hội.txt"])] and result.added == ["ngày_hội.txt"]
    assert "ngày_hội.txt" in service.assistant.index.manifest.files  # swapped in whole
