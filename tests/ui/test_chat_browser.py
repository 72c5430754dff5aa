"""The chat in a real headless Chromium (issue 27, item 7): the viewer follows the newest answer, Stop ends
a streaming answer, the conversation survives a reload (kept in the browser) until "new conversation", and
the footer names the version. One server for the whole session (tests/ui/conftest.py), the real model."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import rag
from tests.ui.test_e2e import COMPLETED, FOLLOW_UP, QUESTION, UNANSWERABLE, ask
from ui.service import ChatService

pytestmark = pytest.mark.slow

# Answered from another seed document than QUESTION, so the viewer has to change.
OTHER = "Ai phát biểu chào mừng hội nghị tổng kết công tác thi đua Cụm thi đua số III?"
VIEWER_MARK = "#virag-viewer mark.virag-mark"


def reload(page):
    page.reload()
    page.locator("#virag-question textarea").wait_for()


def test_the_viewer_follows_the_newest_answer(page, ui_service):
    first, second = ui_service.ask(QUESTION).citations[0], ui_service.ask(OTHER).citations[0]
    assert first.source != second.source
    mark = page.locator(VIEWER_MARK)

    ask(page, QUESTION)
    expect(mark).to_have_text(first.quote.strip())
    assert first.source in page.locator("#virag-viewer .virag-doc-title").inner_text()
    ask(page, OTHER)
    expect(mark).to_have_text(second.quote.strip())
    assert second.source in page.locator("#virag-viewer .virag-doc-title").inner_text()
    assert "Trích dẫn [1]" in page.locator("#virag-viewer .virag-doc-note").inner_text()
    assert page.evaluate("window.scrollY") == 0  # following an answer never scrolls the page away from the chat

    ask(page, UNANSWERABLE)  # an abstention cites nothing: the viewer is cleared
    expect(mark).to_have_count(0)
    expect(page.locator("#virag-viewer .virag-empty")).to_have_count(1)

    # an earlier answer's citation still opens its own source
    page.locator("#virag-chat .virag-answer").first.locator("a.virag-cite", has_text="[1]").click()
    expect(mark).to_have_text(first.quote.strip())


def test_stop_ends_a_streaming_answer_and_the_chat_goes_on(page, ui_service, monkeypatch):
    streams = []

    def slow(question, **options):  # the real answer, paced so that it streams for a few seconds
        streams.append("open")
        try:
            yield from ChatService.stream(ui_service, question, delay=0.4, **options)
        finally:
            streams[-1] = "closed"

    monkeypatch.setattr(ui_service, "stream", slow)
    stop, send = page.locator("#virag-stop"), page.locator("#virag-send")
    expect(stop).to_be_hidden()
    page.locator("#virag-question textarea").fill(QUESTION)
    send.click()
    streaming = page.locator("#virag-chat .virag-streaming")
    streaming.wait_for(timeout=90_000)  # as in ask(): the reader answers first, slower on a busy CI machine
    expect(stop).to_be_visible()
    expect(send).to_be_hidden()
    expect(page.locator("#virag-new")).to_be_disabled()
    clear = page.locator("#virag-chat .top-panel button")  # the Chatbot's own Clear
    expect(clear).to_be_hidden()
    stop.click()

    expect(send).to_be_visible()
    expect(stop).to_be_hidden()
    expect(page.locator("#virag-new")).to_be_enabled()
    expect(clear).to_be_visible()
    stopped = page.locator("#virag-chat .virag-stopped")
    expect(stopped).to_have_count(1)
    expect(page.locator("#virag-chat .virag-stopped-note")).to_have_text("Đã dừng.")
    expect(streaming).to_have_count(0)
    text = stopped.inner_text()
    page.wait_for_timeout(1500)  # nothing more arrives: the answer would have grown by a few pieces
    assert stopped.inner_text() == text
    assert "Hà Tĩnh" not in text  # it was stopped before the end
    assert streams == ["closed"]  # the server stopped reading the answer
    expect(page.locator(VIEWER_MARK)).to_have_count(0)

    monkeypatch.undo()
    answer = ask(page, QUESTION)  # the chat goes on; the stopped question is not a turn the next one leans on
    assert "Hà Tĩnh" in answer.inner_text()
    expect(page.locator("#virag-chat .virag-searched")).to_have_count(0)
    expect(page.locator(VIEWER_MARK)).to_have_text(ui_service.ask(QUESTION).citations[0].quote.strip())


def test_a_reload_keeps_the_conversation_and_a_new_one_clears_it(page, ui_service, monkeypatch):
    first = ui_service.ask(QUESTION).citations[0]
    empty = page.evaluate("localStorage.getItem('virag-conversation')")
    ask(page, QUESTION)
    # the turn is stored once its answer is complete, a moment after it shows
    page.wait_for_function("saved => localStorage.getItem('virag-conversation') !== saved", arg=empty)
    assert "Hà Tĩnh" not in (page.evaluate("localStorage.getItem('virag-conversation')") or "Hà Tĩnh")  # encrypted

    calls = []
    for name in ("ask", "stream"):
        real = getattr(ui_service, name)
        monkeypatch.setattr(ui_service, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k))
    reload(page)
    expect(page.locator("#virag-chat .virag-question")).to_have_text([QUESTION])
    answer = page.locator("#virag-chat .virag-answer")
    expect(answer).to_have_count(1)
    assert "Hà Tĩnh" in answer.inner_text()
    mark = page.locator(VIEWER_MARK)
    expect(mark).to_have_text(first.quote.strip())  # the viewer shows the newest answer's first citation
    assert first.source in page.locator("#virag-sources").inner_text()
    assert calls == []  # restoring asked the model nothing
    monkeypatch.undo()

    saved = page.evaluate("localStorage.getItem('virag-conversation')")
    ask(page, FOLLOW_UP)  # the restored turn is the history a follow-up leans on
    expect(page.locator("#virag-chat .virag-searched")).to_have_text([f"Đã tìm: {COMPLETED}"])
    page.wait_for_function("saved => localStorage.getItem('virag-conversation') !== saved", arg=saved)
    reload(page)
    expect(page.locator("#virag-chat .virag-question")).to_have_text([QUESTION, FOLLOW_UP])
    expect(page.locator("#virag-chat .virag-searched")).to_have_count(1)
    expect(mark).not_to_have_text(first.quote.strip())  # the follow-up's citation
    answer.first.locator("a.virag-cite", has_text="[1]").click()  # a restored citation opens its source
    expect(mark).to_have_text(first.quote.strip())

    page.locator("#virag-new").click()
    expect(page.locator("#virag-chat .virag-question")).to_have_count(0)
    expect(mark).to_have_count(0)
    reload(page)
    page.wait_for_timeout(1000)  # the restore has run (the load event) and found nothing
    expect(page.locator("#virag-chat .virag-question")).to_have_count(0)
    expect(page.locator("#virag-export")).to_be_disabled()


def test_the_footer_names_the_version(page):
    expect(page.locator("#virag-footer")).to_have_text(f"virag {rag.__version__}")
