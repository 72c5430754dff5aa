"""Loading: encodings (real files in tests/data/), bad files, the folder walk."""

import codecs
import os
import random
import re
import sys
import tracemalloc
import unicodedata
from pathlib import Path

import pytest

from rag.ingest.documents import SUPPORTED_SUFFIXES, Skipped, decode, list_files, load_document
from rag.errors import CorpusError, DocumentError
from tests.conftest import DATA
from tests.data.make_fixtures import cp1258


def load_folder(root, *, max_file_mb: float = 50.0):
    """Every readable document under ``root`` and the skipped files with why: list_files, then load_document."""
    docs, (files, skipped) = [], list_files(root)
    for path, source in files:
        try:
            docs.append(load_document(path, source, max_bytes=int(max_file_mb * 1e6)))
        except DocumentError as exc:
            skipped.append(Skipped(source, str(exc)))
    return docs, skipped


TEXT = "Hội nghị giao ban công tác xây dựng Đảng.\nThanh Hóa, Nghệ An, Hà Tĩnh."
FIXTURE_TEXT = (DATA / "vi_utf8.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "raw",
    [TEXT.encode("utf-8"), codecs.BOM_UTF8 + TEXT.encode("utf-8"), TEXT.encode("utf-16"),
     codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), TEXT.encode("utf-16-le"), TEXT.encode("utf-32")],
    ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom", "utf16-le-no-bom", "utf32-bom"],
)

def test_decode_supported_encodings(raw):
    assert decode(raw, "a.txt") == TEXT


@pytest.mark.parametrize(
    "name", ["vi_utf8.txt", "vi_utf8_bom.txt", "vi_utf16le.txt", "vi_utf16be.txt", "vi_utf16le_nobom.txt",
             "vi_cp1258.txt"],
)
def test_real_files_in_every_encoding_give_the_same_nfc_text(name):
    doc = load_document(DATA / name, name)
    assert doc.text == FIXTURE_TEXT and unicodedata.is_normalized("NFC", doc.text)
    assert doc.pages == () and doc.page_of(0) is None


@pytest.mark.parametrize("text", ["Hòa Bình", "Hội nghị tổng kết công tác năm 2022", "Ủy ban nhân dân"])
def test_short_cp1258_texts_are_not_mistaken_for_cp1252(text):
    assert decode(cp1258(text), "short.txt") == text


def test_cp1258_combining_tone_marks_are_composed():
    raw = (DATA / "vi_cp1258.txt").read_bytes()
    assert b"\xf4\xf2" in raw  # 'ộ' in 'Hội' is stored as 'ô' + a combining dot below
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = decode(raw, "vi_cp1258.txt")
    assert "Nguyễn Thị Hoà" in text and "Đakrông" in text and not any(unicodedata.combining(c) for c in text)


@pytest.mark.parametrize(
    ("raw", "what"),
    [("Привет, как дела? Всё хорошо, спасибо большое.".encode("cp1251"), "Cyrillic in cp1251"),
     ("Größe und Übermäßigkeit, schöne Grüße aus Köln.".encode("cp1252"), "German in cp1252"),
     (b"\xfe\xff\xd8\x00", "UTF-16 BE with a lone surrogate")],
    ids=["cp1251", "cp1252", "bad-utf16"],
)
def test_undecodable_text_names_the_file_and_the_fix(raw, what):
    with pytest.raises(DocumentError, match=r"^legacy\.txt: not .*save it as UTF-8"):
        decode(raw, "legacy.txt")


def test_binary_file_renamed_txt_is_refused(tmp_path):
    rng = random.Random(0)
    (tmp_path / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.randbytes(4000))
    with pytest.raises(DocumentError, match=re.escape("photo.txt: contains NUL bytes; it looks like a binary file")):
        load_document(tmp_path / "photo.txt", "photo.txt")
    (tmp_path / "noise.txt").write_bytes(bytes(rng.randrange(1, 256) for _ in range(4000)))  # no NUL byte at all
    with pytest.raises(DocumentError, match=r"^noise\.txt: (not UTF-8|.*binary file)"):
        load_document(tmp_path / "noise.txt", "noise.txt")


def test_nul_bytes_in_text_are_refused(tmp_path):
    (tmp_path / "nul.txt").write_bytes("Xin chào\x00 thế giới, đây là một câu.".encode("utf-8"))
    with pytest.raises(DocumentError, match=re.escape("nul.txt: contains NUL")):
        load_document(tmp_path / "nul.txt", "nul.txt")


@pytest.mark.parametrize(
    "raw", [b"", b" \n\t\r\n ", codecs.BOM_UTF8 + b"  \n", codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")],
    ids=["empty", "whitespace", "bom-whitespace", "utf16-whitespace"],
)
def test_empty_and_whitespace_files_are_refused(tmp_path, raw):
    (tmp_path / "e.txt").write_bytes(raw)
    with pytest.raises(DocumentError, match=re.escape("e.txt: empty (no text to index).")):
        load_document(tmp_path / "e.txt", "e.txt")


def test_a_200_mb_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:  # sparse: instant, and takes no disk space
        fh.truncate(200 * 1000 * 1000)
    try:
        tracemalloc.start()
        docs, skipped = load_folder(tmp_path, max_file_mb=50)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert docs == [] and peak < 5_000_000
        assert skipped[0].reason == "big.txt: 200.0 MB is over the 50 MB limit (setting 'max_file_mb')."
    finally:
        big.unlink()


def test_the_size_limit_is_the_setting(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT * 100, encoding="utf-8")
    assert load_folder(tmp_path, max_file_mb=1)[0]
    docs, skipped = load_folder(tmp_path, max_file_mb=0.001)
    assert docs == [] and "over the 0.001 MB limit (setting 'max_file_mb')" in skipped[0].reason


def test_bad_files_are_skipped_and_the_rest_loaded(tmp_path, caplog):
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Tiêu đề\n" + TEXT, encoding="utf-8")
    (tmp_path / "legacy.txt").write_bytes((DATA / "vi_cp1258.txt").read_bytes())
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00\x01\x02")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (tmp_path / ".hidden.txt").write_text(TEXT, encoding="utf-8")
    docs, skipped = load_folder(tmp_path)
    assert [d.source for d in docs] == ["good.txt", "legacy.txt", "notes.md"]
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"binary.txt", "broken.pdf", "empty.txt", "image.png"}
    assert "empty" in reasons["empty.txt"] and "NUL" in reasons["binary.txt"]
    assert reasons["image.png"] == "image.png: unsupported format '.png' (virag reads .txt, .md, .html, .htm, .pdf, .docx)."
    assert reasons["broken.pdf"].startswith("broken.pdf: ") and "PDF" in reasons["broken.pdf"]


def test_supported_suffixes_list_every_format():
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}


def test_upload_under_a_temporary_name_is_read_by_its_real_name(tmp_path):
    tmp = tmp_path / "upload-123.part"
    tmp.write_bytes((DATA / "vi_report.docx").read_bytes())
    assert load_document(tmp, "báo cáo.docx").text.startswith("Thư viện tỉnh mở cửa phục vụ ban đêm")


def test_text_is_nfc(tmp_path):
    decomposed = "Ho\u0300a Bi\u0300nh"
    (tmp_path / "a.txt").write_text(decomposed, encoding="utf-8")
    docs, _ = load_folder(tmp_path)
    assert docs[0].text == "Hòa Bình"


def test_missing_folder():
    with pytest.raises(CorpusError, match=re.escape("Corpus folder '/no/such/folder' does not exist.")):
        load_folder("/no/such/folder")


def test_a_single_file_is_a_corpus(tmp_path):
    (tmp_path / "một tệp.txt").write_text(TEXT, encoding="utf-8")
    docs, skipped = load_folder(tmp_path / "một tệp.txt")
    assert [d.source for d in docs] == ["một tệp.txt"] and skipped == []


def test_symlink_loop_and_nested_folders(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "tài liệu 1.txt").write_text(TEXT, encoding="utf-8")
    (deep / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "self").symlink_to(tmp_path)
    docs, _ = load_folder(tmp_path)
    assert [d.source for d in docs] == ["a/b/c/tài liệu 1.txt"]


def test_folders_nested_deeper_than_the_recursion_limit(tmp_path, monkeypatch):
    depth = sys.getrecursionlimit() + 200
    monkeypatch.chdir(tmp_path)  # relative paths: each mkdir stays well under PATH_MAX
    for _ in range(depth):
        os.mkdir("d")
        os.chdir("d")
    Path("sâu nhất.txt").write_text(TEXT, encoding="utf-8")
    os.chdir(tmp_path)
    try:
        docs, skipped = load_folder(tmp_path)
        assert [d.source for d in docs] == ["d/" * depth + "sâu nhất.txt"] and skipped == []
    finally:  # shutil.rmtree recurses: remove it bottom-up here
        path = tmp_path / Path(*["d"] * depth)
        (path / "sâu nhất.txt").unlink()
        for _ in range(depth):
            path.rmdir()
            path = path.parent


def test_vietnamese_names_with_spaces_broken_links_and_pipes(tmp_path):
    (tmp_path / "Báo cáo quý 3 – Hà Nội.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "Thư mục có dấu cách").mkdir()
    (tmp_path / "Thư mục có dấu cách" / "ghi chú.md").write_text(TEXT, encoding="utf-8")
    (tmp_path / "mất.txt").symlink_to(tmp_path / "không có.txt")
    os.mkfifo(tmp_path / "ống.txt")  # reading a named pipe would wait forever
    docs, skipped = load_folder(tmp_path)
    assert [d.source for d in docs] == ["Báo cáo quý 3 – Hà Nội.txt", "Thư mục có dấu cách/ghi chú.md"]
    reasons = {s.source: s.reason for s in skipped}
    assert reasons == {"mất.txt": "mất.txt: cannot be read (No such file or directory).",
                       "ống.txt": "ống.txt: not a regular file."}


def test_list_files_lists_supported_files_only(tmp_path):
    for name in ("a.txt", "b.HTML", "c.pdf", "d.docx", "e.png", "f"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [s for _, s in list_files(tmp_path)[0]] == ["a.txt", "b.HTML", "c.pdf", "d.docx"]
