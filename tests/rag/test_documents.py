import codecs
import re
import unicodedata

import pytest

from rag.documents import decode, load_folder
from rag.errors import CorpusError, DocumentError

def cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese editors write it: base letters precomposed, tone marks combining."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323")
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones)) + tones)
    return "".join(out).encode("cp1258")


TEXT = "Hội nghị giao ban công tác xây dựng Đảng.\nThanh Hóa, Nghệ An, Hà Tĩnh."


@pytest.mark.parametrize(
    "raw",
    [TEXT.encode("utf-8"), codecs.BOM_UTF8 + TEXT.encode("utf-8"), TEXT.encode("utf-16"),
     codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")],
    ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom"],
)
def test_decode_supported_encodings(raw):
    assert decode(raw, "a.txt") == TEXT


def test_undecodable_file_names_the_file():
    with pytest.raises(DocumentError, match=re.escape("legacy.txt: not valid UTF-8")):
        decode(cp1258(TEXT), "legacy.txt")


def test_bad_files_are_skipped_and_the_rest_loaded(tmp_path):
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Tiêu đề\n" + TEXT, encoding="utf-8")
    (tmp_path / "legacy.txt").write_bytes(cp1258(TEXT))
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00\x01\x02")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs, skipped = load_folder(tmp_path)
    assert [d.source for d in docs] == ["good.txt", "notes.md"]
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"legacy.txt", "empty.txt", "binary.txt"}
    assert "empty" in reasons["empty.txt"] and "NUL" in reasons["binary.txt"]


def test_text_is_nfc(tmp_path):
    decomposed = "Ho\u0300a Bi\u0300nh"
    (tmp_path / "a.txt").write_text(decomposed, encoding="utf-8")
    docs, _ = load_folder(tmp_path)
    assert docs[0].text == "Hòa Bình"


def test_missing_folder():
    with pytest.raises(CorpusError, match="does not exist"):
        load_folder("/no/such/folder")


def test_symlink_loop_and_nested_folders(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "tài liệu 1.txt").write_text(TEXT, encoding="utf-8")
    (deep / "loop").symlink_to(tmp_path / "a")
    docs, _ = load_folder(tmp_path)
    assert [d.source for d in docs] == ["a/b/c/tài liệu 1.txt"]
