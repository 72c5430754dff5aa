"""One key for the whole server (issue 27, security): with a key, the chat page, Gradio's own API, its
uploads and /v1 all refuse a caller without it and answer one with it; `--read-only` refuses changes."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.conftest import SEEDS
from tests.ui.conftest import free_port

KEY = "khoa-bi-mat-123"
QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory, seed_assistant):
    """The chat and the API over a copy of the seeds, with a key."""
    from ui.api import ApiConfig
    from ui.app import launch
    from ui.service import ChatService

    root = tmp_path_factory.mktemp("locked")
    shutil.copytree(SEEDS, root / "corpus")
    service = ChatService(seed_assistant, corpus=root / "corpus", index_dir=root / "index")
    server = launch(service, host="127.0.0.1", port=free_port(), block=False, quiet=True, api=ApiConfig(token=KEY))
    yield server.url, service
    server.close()


def test_every_route_refuses_a_caller_without_the_key(locked_server, tmp_path):
    url, service = locked_server
    before = sorted(p.name for p in service.corpus.iterdir())
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("config").status_code == 401  # the chat's app: its components, examples, documents
        assert client.get("gradio_api/info").status_code == 401
        ask = client.post("gradio_api/call/ask", json={"data": [QUESTION, 0]})
        assert ask.status_code == 401 and "VIRAG_API_KEY" in ask.text
        assert client.post("gradio_api/upload", files={"files": ("x.txt", "Nội dung.".encode())}).status_code == 401
        assert client.post("gradio_api/queue/join", json={"data": [], "fn_index": 0,
                                                          "session_hash": "x"}).status_code == 401
        assert client.get("v1/models").status_code == 401
        assert client.post("v1/ask", json={"question": QUESTION}).status_code == 401
        assert client.post("v1/documents", files={"files": ("x.txt", "Nội dung.".encode())}).status_code == 401
        assert client.delete("v1/documents/004_67d702c3fe2dbdbb.txt").status_code == 401
        wrong = {"Authorization": "Bearer sai"}
        assert client.delete("v1/documents/004_67d702c3fe2dbdbb.txt", headers=wrong).status_code == 401
    assert sorted(p.name for p in service.corpus.iterdir()) == before


def test_gradio_client_needs_the_key(locked_server):
    from gradio_client import Client

    url, _ = locked_server
    with pytest.raises(Exception, match="credentials|login|Login"):
        Client(url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("ai-cung-duoc", "sai"), verbose=False)
    answer = Client(url, auth=("ai-cung-duoc", KEY), verbose=False).predict(QUESTION, 0, api_name="/ask")
    assert "Hà Tĩnh" in answer["answer"] and answer["citations"]


def test_the_api_answers_with_the_key(locked_server):
    url, _ = locked_server
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
        assert client.get("v1/models").status_code == 200
        assert "Hà Tĩnh" in client.post("v1/ask", json={"question": QUESTION}).json()["answer"]


def test_the_chat_page_asks_for_the_key_once(locked_server, open_browser):
    url, _ = locked_server
    context = open_browser()
    page = context.new_page()
    page.goto(url)
    page.locator("input[type=password]").wait_for()
    assert page.locator("#virag-question").count() == 0
    page.locator("input[type=text]").first.fill("nguoi-dung")
    page.locator("input[type=password]").fill("sai")
    page.get_by_role("button", name="Login").click()
    page.wait_for_timeout(1500)
    assert page.locator("#virag-question").count() == 0  # a wrong key opens nothing
    page.locator("input[type=text]").first.fill("nguoi-dung")
    page.locator("input[type=password]").fill(KEY)
    page.get_by_role("button", name="Login").click()
    page.locator("#virag-question textarea").wait_for(timeout=60_000)
    page.locator("#virag-question textarea").fill(QUESTION)
    page.locator("#virag-send").click()
    page.locator("#virag-chat .virag-answer:not(.virag-streaming)").first.wait_for(timeout=120_000)
    assert "Hà Tĩnh" in page.locator("#virag-chat .virag-answer").first.inner_text()
    page.reload()  # the session stays open: no second login
    page.locator("#virag-question textarea").wait_for(timeout=60_000)
    page.close()


def test_read_only_refuses_changes_in_the_api_and_the_service(seed_assistant, tmp_path):
    from ui.api import ApiConfig, Server, build_api
    from ui.service import ChatService

    shutil.copytree(SEEDS, tmp_path / "corpus")
    service = ChatService(seed_assistant, corpus=tmp_path / "corpus", index_dir=tmp_path / "index", read_only=True)
    assert not service.can_upload and "--read-only" in service.locked
    new = tmp_path / "moi.txt"
    new.write_text("Một văn bản mới.", encoding="utf-8")
    assert service.add_files([new]).added == []
    with pytest.raises(ValueError, match="read-only"):
        service.remove_file("004_67d702c3fe2dbdbb.txt")
    server = Server(build_api(service, ApiConfig()), "127.0.0.1", free_port()).start(block=False)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            upload = client.post("v1/documents", files={"files": ("moi.txt", new.read_bytes())})
            delete = client.delete("v1/documents/004_67d702c3fe2dbdbb.txt")
            assert upload.status_code == delete.status_code == 403
            assert upload.json()["error"]["code"] == "read_only"
            assert client.post("v1/ask", json={"question": QUESTION}).status_code == 200
    finally:
        server.close()
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == sorted(p.name for p in SEEDS.iterdir())
