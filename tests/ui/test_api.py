"""The HTTP API through the official ``openai`` client and plain HTTP, against real servers on 127.0.0.1."""

from __future__ import annotations

import json
import shutil

import httpx
import openai
import pytest

from tests.conftest import SEEDS
from tests.ui.conftest import free_port

QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"
SOURCE = "004_67d702c3fe2dbdbb.txt"
UPLOAD_TEXT = (
    "Lễ trao Giải thưởng Sông Lam năm 2026\n\n"
    "Tối 20/4/2026, Ban tổ chức trao Giải thưởng Sông Lam cho 12 công trình khoa học. "
    "Giải Nhất thuộc về nhóm nghiên cứu của kỹ sư Hoàng Thị Ngân với máy gặt lúa chạy điện.\n"
)
UPLOAD_QUESTION = "Ai đoạt giải Nhất Giải thưởng Sông Lam năm 2026?"


@pytest.fixture(scope="module")
def api_service(tmp_path_factory, settings, encoder, seed_assistant, seed_index_dir):
    """A writable copy of the seeds and their index, served by a service of its own."""
    from ui.service import ChatService

    root = tmp_path_factory.mktemp("api")
    shutil.copytree(SEEDS, root / "corpus")
    shutil.copytree(seed_index_dir, root / "index")
    return ChatService.from_folder(root / "corpus", settings=settings, index_dir=root / "index", encoder=encoder)


def _serve(service, **config):
    from ui.api import ApiConfig, Server, build_api

    return Server(build_api(service, ApiConfig(**config)), "127.0.0.1", free_port()).start(block=False)


@pytest.fixture(scope="module")
def api_url(api_service):
    server = _serve(api_service)
    yield server.url
    server.close()


@pytest.fixture
def client(api_url):
    return openai.OpenAI(base_url=f"{api_url}v1", api_key="unused", max_retries=0, timeout=60)


def assert_cites_exactly(citations: list[dict], source: str) -> None:
    text = (SEEDS / source).read_text(encoding="utf-8")
    assert citations and all(c["source"] == source for c in citations)
    for c in citations:
        assert text[c["start"]:c["end"]] == c["quote"]


def test_models_name_the_corpus_and_each_answerer(client):
    names = [m.id for m in client.models.list().data]
    assert names[0] == "virag-corpus"
    assert "virag-corpus:sentences" in names and "virag-corpus:reader" in names


def test_a_chat_completion_carries_exact_citations(client):
    reply = client.chat.completions.create(model="virag-corpus", messages=[{"role": "user", "content": QUESTION}])
    content = reply.choices[0].message.content
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    assert "Hà Tĩnh" in content and "[1]" in content
    extra = reply.model_extra
    assert reply.citations == extra["citations"]
    assert extra["abstained"] is False and extra["passages"]
    assert_cites_exactly(extra["citations"], SOURCE)


def test_a_streamed_completion_ends_with_the_citations(client):
    stream = client.chat.completions.create(model="virag-corpus:reader", stream=True,
                                            messages=[{"role": "user", "content": QUESTION}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert "Hà Tĩnh" in text and "[1]" in text
    assert "Hà Tĩnh" in last.model_extra["short_answer"]["text"]
    assert_cites_exactly(last.model_extra["citations"], SOURCE)
    assert all(c.object == "chat.completion.chunk" and c.id == last.id for c in chunks)


def test_earlier_user_messages_make_a_follow_up(client):
    first = client.chat.completions.create(model="virag-corpus", messages=[{"role": "user", "content": QUESTION}])
    reply = client.chat.completions.create(model="virag-corpus", messages=[
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "Còn cụm số III thì sao?"}]},
    ])
    assert reply.model_extra["search_query"] == "Cụm thi đua số III gồm những tỉnh nào?"
    assert {c["source"] for c in reply.model_extra["citations"]} == {"003_5072486995dc572e.txt"}


def test_the_model_name_selects_a_configured_llm(seed_assistant, settings):
    """virag in front of an OpenAI-protocol LLM server (a fake on 127.0.0.1): ':openai' asks it,
    ':reader' does not."""
    from rag import Assistant
    from tests.rag.test_llm import FakeOpenAI
    from ui.service import ChatService

    upstream = FakeOpenAI()
    upstream.reply = "Cụm thi đua số 2 gồm 14 tỉnh, từ Lạng Sơn đến Hà Tĩnh [1]."
    s = settings.with_(answerer="openai", llm_base_url=upstream.url, llm_model="fake-vi")
    server = _serve(ChatService(Assistant(seed_assistant.index, settings=s, encoder=seed_assistant.encoder)))
    try:
        client = openai.OpenAI(base_url=f"{server.url}v1", api_key="-", max_retries=0)
        assert "virag-corpus:openai" in [m.id for m in client.models.list().data]
        ask = [{"role": "user", "content": QUESTION}]
        reply = client.chat.completions.create(model="virag-corpus:openai", messages=ask)
        assert reply.choices[0].message.content == upstream.reply and len(upstream.requests) == 1
        assert reply.model_extra["answerer"] == "openai"
        assert_cites_exactly(reply.citations, SOURCE)
        reply = client.chat.completions.create(model="virag-corpus:reader", messages=ask)
        assert reply.model_extra["answerer"] == "reader" and len(upstream.requests) == 1
    finally:
        server.close()
        upstream.server.shutdown()


def test_an_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert raised.value.code == "model_not_found" and "virag-corpus" in raised.value.message


def test_bad_requests_are_400_in_openai_shape(api_url):
    url = f"{api_url}v1/chat/completions"
    bad_json = httpx.post(url, content=b'{"model": "virag-corpus", "messages": [', timeout=30,
                          headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request_error"
    assert "JSON" in bad_json.json()["error"]["message"]
    no_messages = httpx.post(url, json={"model": "virag-corpus"}, timeout=30)
    assert no_messages.status_code == 400 and no_messages.json()["error"]["param"] == "messages"
    assistant_last = httpx.post(url, json={"model": "virag-corpus", "messages": [
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "…"}]}, timeout=30)
    assert assistant_last.status_code == 400
    too_long = httpx.post(url, json={"model": "virag-corpus", "messages": [{"role": "user", "content": "a" * 5000}]},
                          timeout=30)
    assert too_long.status_code == 400 and "at most 2000" in too_long.json()["error"]["message"]
    huge = httpx.post(url, content=b"x" * 2_000_000, headers={"content-type": "application/json"}, timeout=30)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
    assert httpx.get(f"{api_url}v1/nothing-here", timeout=30).json()["error"]["type"] == "not_found_error"


def test_ask_returns_the_cli_json(api_url):
    reply = httpx.post(f"{api_url}v1/ask", json={"question": QUESTION, "model": "virag-corpus:sentences"}, timeout=60)
    assert reply.status_code == 200
    body = reply.json()
    assert body["answerer"] == "sentences" and body["question"] == QUESTION
    assert_cites_exactly(body["citations"], SOURCE)


def test_upload_answers_from_the_new_file_then_delete_removes_it(client, api_url, api_service):
    def ask() -> dict:
        reply = client.chat.completions.create(model="virag-corpus:reader",
                                               messages=[{"role": "user", "content": UPLOAD_QUESTION}])
        return reply.model_extra

    assert ask()["abstained"]
    files = [("files", ("sông lam.txt", UPLOAD_TEXT.encode(), "text/plain")),
             ("files", ("ảnh.png", b"\x89PNG\r\n", "image/png"))]
    added = httpx.post(f"{api_url}v1/documents", files=files, timeout=120)
    assert added.status_code == 201, added.text
    assert added.json()["added"] == ["sông_lam.txt"]
    assert added.json()["rejected"][0]["file"] == "ảnh.png"
    listed = [f["source"] for f in httpx.get(f"{api_url}v1/documents", timeout=30).json()["files"]]
    assert "sông_lam.txt" in listed

    answer = ask()
    assert not answer["abstained"] and answer["short_answer"]["text"].endswith("Hoàng Thị Ngân")
    assert {c["source"] for c in answer["citations"]} == {"sông_lam.txt"}

    deleted = httpx.delete(f"{api_url}v1/documents/sông_lam.txt", timeout=120)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == "sông_lam.txt"
    assert not (api_service.corpus / "sông_lam.txt").exists()
    assert ask()["abstained"]
    again = httpx.delete(f"{api_url}v1/documents/sông_lam.txt", timeout=30)
    assert again.status_code == 404 and again.json()["error"]["code"] == "document_not_found"


def test_an_oversized_upload_is_413(api_url, api_service):
    big = b"a" * int(api_service.limits.max_mb * 1e6 + 10)
    reply = httpx.post(f"{api_url}v1/documents", files=[("files", ("lớn.txt", big, "text/plain"))], timeout=60)
    assert reply.status_code == 413 and "lớn.txt" in reply.json()["error"]["message"]


def test_a_token_guards_every_v1_route(api_service):
    server = _serve(api_service, token="s3cret")
    try:
        base = f"{server.url}v1"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
        assert httpx.get(f"{base}/documents", timeout=30).status_code == 401
        assert openai.OpenAI(base_url=base, api_key="s3cret", max_retries=0).models.list().data
        assert httpx.get(f"{server.url}healthz", timeout=30).json()["status"] == "ok"
    finally:
        server.close()


def test_a_full_queue_answers_503_at_once():
    from ui.api import ApiError, Gate

    gate = Gate(workers=1, queue=1)
    first, second = gate.admit(), gate.admit()
    with pytest.raises(ApiError) as raised:
        gate.admit()
    assert raised.value.status == 503 and raised.value.headers == {"Retry-After": "1"}
    first.release()
    second.release()
    with gate.admit():
        pass


def test_the_chat_serves_the_api_beside_it(ui_url):
    """One process: the Gradio page and the API share the loaded model and index."""
    page = httpx.get(ui_url, timeout=30)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    assert httpx.get(f"{ui_url}v1/nothing-here", timeout=30).json()["error"]["code"] == "unknown_url"
    models = httpx.get(f"{ui_url}v1/models", timeout=30).json()
    assert models["data"][0]["id"] == "virag-corpus"
    assert httpx.get(f"{ui_url}docs", timeout=30).status_code == 200
    body = json.loads(httpx.get(f"{ui_url}openapi.json", timeout=30).text)
    assert "/v1/chat/completions" in body["paths"]
    # the API's 1 MB limit on JSON bodies is not the chat's: a 2 MB upload still reaches Gradio
    upload = httpx.post(f"{ui_url}gradio_api/upload", files=[("files", ("lon.txt", b"a " * 1_000_000, "text/plain"))],
                        timeout=60)
    assert upload.status_code == 200, upload.text
