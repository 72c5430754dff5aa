"""The shared chat service: safe upload names, rejected files, streaming, per-request settings."""

from __future__ import annotations

import pytest

from rag import Answer
from rag.errors import ViragError
from rag.index.catalogue import AddLimits, safe_filename
from ui.service import ChatService


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("báo cáo quý 3.txt", "báo_cáo_quý_3.txt"),
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\evil.TXT", "evil.txt"),
        (".hidden.txt", "hidden.txt"),
        ("<script>.md", "script.md"),
        ("....txt", "tai_lieu.txt"),
    ],
)
def test_safe_filename_stays_inside_the_folder(name, expected):
    assert safe_filename(name) == expected


@pytest.mark.parametrize("name", ["slides.pptx", "noext", "archive.txt.zip", "x.exe"])
def test_safe_filename_rejects_unsupported_suffixes(name):
    with pytest.raises(ValueError, match="không được hỗ trợ"):
        safe_filename(name)


@pytest.fixture
def service(seed_assistant, corpus, tmp_path):
    """A service over the seed index whose uploads go into a temporary corpus copy (never seeds/)."""
    return ChatService(seed_assistant, corpus=corpus, index_dir=tmp_path / "idx",
                       limits=AddLimits(max_mb=0.001, max_files=3))


def test_rejected_files_say_why_and_write_nothing(service, corpus, tmp_path):
    before = sorted(p.name for p in corpus.iterdir())
    files = {
        "big.txt": "chữ " * 1000,  # over the 1 kB limit of this service
        "latin1.txt": "Привет мир".encode("cp1251"),
        "empty.md": "   \n",
        "binary.txt": b"abc\x00def",
        "sheet.xlsx": b"PK\x03\x04",
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        paths.append(path)
    result = service.add_files(paths[:3])
    result2 = service.add_files(paths[3:])
    reasons = dict(result.rejected + result2.rejected)
    assert result.added == [] and result2.added == []
    assert "vượt giới hạn" in reasons["big.txt"]
    assert "not UTF-8, UTF-16 or Vietnamese Windows-1258 text" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]
    assert "NUL" in reasons["binary.txt"]
    assert "không được hỗ trợ" in reasons["sheet.xlsx"]
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_too_many_files_are_refused_at_once(service, tmp_path):
    paths = []
    for i in range(4):
        (tmp_path / f"{i}.txt").write_text("Câu.", encoding="utf-8")
        paths.append(tmp_path / f"{i}.txt")
    result = service.add_files(paths)
    assert result.added == [] and "tối đa 3 tệp" in result.rejected[0][1]


def test_without_a_corpus_uploads_are_disabled(seed_assistant, tmp_path):
    (tmp_path / "a.txt").write_text("Câu.", encoding="utf-8")
    result = ChatService(seed_assistant).add_files([tmp_path / "a.txt"])
    assert result.added == [] and "--index" in result.rejected[0][1]


def test_stream_releases_the_answer_in_growing_steps(seed_assistant):
    service = ChatService(seed_assistant)
    steps = list(service.stream("Cụm thi đua số 2 gồm những tỉnh nào?", delay=0))
    texts = [t for t, _ in steps]
    final = steps[-1][1]
    assert isinstance(final, Answer) and texts[-1] == final.text and "Hà Tĩnh" in final.text
    assert len(steps) > 2 and all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert all(a is None for _, a in steps[:-1])


def test_stream_uses_the_library_stream_when_there_is_one(seed_assistant, monkeypatch):
    service = ChatService(seed_assistant)
    final = Answer(question="q", text="Hai phần. [1]", citations=[], abstained=False, passages=[])

    def stream(question, **options):
        yield from ("Hai ", "phần. [1]", final)

    monkeypatch.setattr(seed_assistant, "stream", stream)
    assert list(service.stream("q")) == [("Hai ", None), ("Hai phần. [1]", None), ("Hai phần. [1]", final)]


def test_top_k_setting_changes_only_that_request(seed_assistant):
    service = ChatService(seed_assistant)
    assert len(service.ask("Cụm thi đua số 2 gồm những tỉnh nào?", top_k=2).passages) == 2
    assert len(service.ask("Cụm thi đua số 2 gồm những tỉnh nào?").passages) == seed_assistant.settings.retrieval.top_k
    with pytest.raises(ViragError, match="Unknown answerer 'llm'"):
        service.ask("Câu hỏi?", answerer="llm")


def test_upload_never_overwrites_and_swaps_in_the_new_index(seed_assistant, seed_index_dir, corpus, tmp_path):
    import shutil

    shutil.copytree(seed_index_dir, tmp_path / "idx")  # the seeds are already embedded there
    service = ChatService(seed_assistant, corpus=corpus, index_dir=tmp_path / "idx")
    existing = "004_67d702c3fe2dbdbb.txt"
    same = tmp_path / "up" / existing
    same.parent.mkdir()
    shutil.copy(corpus / existing, same)
    other = tmp_path / "up2" / existing
    other.parent.mkdir()
    other.write_text("Giám đốc Hợp tác xã Hoa Sen là bà Quàng Thị Mai.\n", encoding="utf-8")

    result = service.add_files([same, other])
    assert result.rejected == [(existing, "tệp giống hệt đã có trong kho tài liệu.")]
    assert result.added == ["004_67d702c3fe2dbdbb-2.txt"]
    assert (corpus / existing).read_bytes() == same.read_bytes()  # untouched
    assert service.assistant is not seed_assistant and "004_67d702c3fe2dbdbb-2.txt" in service.assistant.index.texts
    assert "Quàng Thị Mai" in service.ask("Ai là giám đốc Hợp tác xã Hoa Sen?").text
    assert not any(p.name.startswith(".upload-") for p in corpus.iterdir())
