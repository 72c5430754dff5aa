"""Hostile input at the edges not covered elsewhere: odd questions, corpora with nothing to index.

(Files and encodings: test_documents.py and test_readers.py; index damage: test_store.py;
kill -9 and locking: test_crash_safety.py. docs/robustness.md lists every case and its test.)
"""

import re

import pytest

from rag.assistant import NO_WORDS_TEXT
from ui.cli import main


@pytest.mark.parametrize("question", ["🙂🔥👍🏽", "…?!;:—«»", "\u200b\u200b", "🇻🇳 !!!"],
                         ids=["emoji", "punctuation", "zero-width", "flag"])
def test_questions_without_words_abstain_with_a_message(seed_assistant, question):
    a = seed_assistant.ask(question)
    assert a.abstained and a.text == NO_WORDS_TEXT and a.citations == []


def test_question_with_control_characters_is_answered(seed_assistant):
    a = seed_assistant.ask("Cụm thi đua\x00 số 2\t gồm\r\n những tỉnh nào?\x1b")
    assert not a.abstained and a.citations


def test_question_of_exactly_100000_characters_is_truncated(seed_assistant, caplog):
    question = ("Cụm thi đua số 2 gồm những tỉnh nào? " * 3000)[:100_000]
    a = seed_assistant.ask(question)
    limit = seed_assistant.settings.retrieval.max_question_chars
    assert f"Question of 100000 characters truncated to {limit}" in caplog.text and len(a.question) == limit


def test_corpus_with_no_supported_file_is_a_clear_cli_error(tmp_path, capsys):
    (tmp_path / "ảnh chụp.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "bảng tính.xlsx").write_bytes(b"PK\x03\x04")
    assert main(["index", str(tmp_path), "--index", str(tmp_path / ".idx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: Corpus '{tmp_path}' has no readable documents (")
    assert "bảng tính.xlsx: unsupported format '.xlsx'" in err and "Traceback" not in err


def test_empty_corpus_folder_is_a_clear_cli_error(tmp_path, capsys):
    (tmp_path / "trống").mkdir()
    assert main(["index", str(tmp_path / "trống"), "--index", str(tmp_path / "idx")]) == 1
    assert re.match(r"Error: Corpus '.*trống' has no readable documents", capsys.readouterr().err)
