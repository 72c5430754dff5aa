"""What the chat keeps in the browser (issue 27, item 7): real answers, bounded, checked on the way back."""

from __future__ import annotations

import json

from rag.assistant import history
from ui.app import STORED_TURNS, restored, storage_secret, stored
from ui.service import ChatService

QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"
UNANSWERABLE = "Giá vé máy bay từ Hà Nội đi Huế tháng 12/2022 là bao nhiêu?"


def test_the_last_turns_are_kept_with_what_the_chat_shows(seed_assistant):
    answered, abstained = seed_assistant.ask(QUESTION).to_dict(), seed_assistant.ask(UNANSWERABLE).to_dict()
    assert answered["citations"] and answered["passages"] and abstained["abstained"] and abstained["passages"]
    turns = [dict(answered, question=f"{QUESTION} ({i})") for i in range(STORED_TURNS + 5)] + [abstained]

    kept = stored(turns)["turns"]
    assert len(kept) == STORED_TURNS
    assert kept[0]["question"] == f"{QUESTION} (6)" and kept[-1]["question"] == UNANSWERABLE
    assert kept[0]["citations"] == [{k: c[k] for k in ("n", "source", "start", "end", "quote", "page", "section",
                                                       "document")} for c in answered["citations"]]
    assert kept[0]["passages"] == []  # an answer with citations shows no passages
    assert [p["text"] for p in kept[-1]["passages"]] == [p["text"] for p in abstained["passages"]]
    assert "timings_ms" not in kept[0]
    assert len(json.dumps(stored(turns), ensure_ascii=False)) < 100_000  # far below localStorage's ~5 MB

    back = restored(json.loads(json.dumps(stored(turns))))  # as the browser hands it back
    assert back == kept
    assert history(back) == history(turns[-STORED_TURNS:])  # a follow-up after a reload leans on the same turns


def test_a_malformed_stored_value_restores_what_is_well_formed(seed_assistant):
    good = stored([seed_assistant.ask(QUESTION).to_dict()])["turns"][0]
    bad_citation = {**good, "citations": [{**good["citations"][0], "start": "0"}]}
    no_question = {k: v for k, v in good.items() if k != "question"}
    for nothing in (None, "x", [], {"turns": "x"}, {"turns": [1, "a", None]}):
        assert restored(nothing) == []
    assert restored({"turns": [bad_citation, good, no_question, {**good, "abstained": "no"}]}) == [good]


def test_the_storage_secret_is_stable_and_needs_the_key(seed_assistant, tmp_path):
    service = ChatService(seed_assistant, corpus=tmp_path / "corpus", index_dir=tmp_path / "index")
    other = ChatService(seed_assistant, corpus=tmp_path / "corpus", index_dir=tmp_path / "other")
    assert storage_secret(service) == storage_secret(service)  # a restart over the same index reads it again
    assert storage_secret(service) != storage_secret(other)
    assert storage_secret(service, "khoa") not in (storage_secret(service), storage_secret(service, "khac"))
    assert "khoa" not in storage_secret(service, "khoa")
