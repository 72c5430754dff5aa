"""OpenAI's shape (issue 27, item 4), through the official ``openai`` client against a real server on 127.0.0.1:
``usage`` counted with the model's tokenizer, a streamed completion with ``include_usage``, ``/v1/embeddings``
(the index's own vectors) and system messages handled as docs/http-api.md says."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

from tests.ui.conftest import free_port

QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"
FOLLOW_UP = "Còn cụm số III thì sao?"
E5 = "multilingual-e5-small"
SYSTEM = {"role": "system", "content": "Bạn là trợ lý pháp lý. Trả lời ngắn gọn, lịch sự."}


def _serve(service, **config):
    from ui.api import ApiConfig, Server, build_api

    return Server(build_api(service, ApiConfig(**config)), "127.0.0.1", free_port()).start(block=False)


@pytest.fixture(scope="module")
def server(ui_service):
    """The API over the UI tests' service (the seeds; nothing re-indexed)."""
    served = _serve(ui_service)
    yield served
    served.close()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server.url}v1", api_key="-", max_retries=0, timeout=60)


def _vectors(reply) -> np.ndarray:
    return np.array([d.embedding for d in sorted(reply.data, key=lambda d: d.index)], dtype=np.float32)


# -- usage ---------------------------------------------------------------------
def test_a_completion_counts_the_question_and_the_answer_with_the_model_tokenizer(client, encoder):
    reply = client.chat.completions.create(model="virag-corpus", messages=[
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Mười bốn tỉnh. [1]"},  # not read: an earlier answer is not the prompt
        {"role": "user", "content": FOLLOW_UP},
    ])
    content = reply.choices[0].message.content
    assert reply.usage.prompt_tokens == encoder.count_tokens(QUESTION) + encoder.count_tokens(FOLLOW_UP)
    assert reply.usage.completion_tokens == encoder.count_tokens(content) > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_a_streamed_completion_ends_with_its_usage_when_asked(client, encoder):
    chunks = list(client.chat.completions.create(
        model="virag-corpus", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": QUESTION}]))
    *answer, last = chunks
    text = "".join(c.choices[0].delta.content or "" for c in answer)
    assert "Hà Tĩnh" in text
    assert last.choices == [] and last.usage is not None
    assert answer[-1].choices[0].finish_reason == "stop" and answer[-1].model_extra["citations"]
    assert all(c.usage is None for c in answer)
    assert last.usage.prompt_tokens == encoder.count_tokens(QUESTION)
    assert last.usage.completion_tokens == encoder.count_tokens(text)
    assert last.id == answer[0].id

    plain = list(client.chat.completions.create(model="virag-corpus", stream=True,
                                                messages=[{"role": "user", "content": QUESTION}]))
    assert plain[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in plain)


def test_ask_reports_usage_and_healthz_the_version(server, encoder):
    import rag

    body = httpx.post(f"{server.url}v1/ask", json={"question": QUESTION, "history": ["Hội nghị thi đua"]},
                      timeout=60).json()
    counted = encoder.count_tokens(QUESTION) + encoder.count_tokens("Hội nghị thi đua")
    assert body["usage"]["prompt_tokens"] == counted
    assert body["usage"]["completion_tokens"] == encoder.count_tokens(body["answer"])
    health = httpx.get(f"{server.url}healthz", timeout=30).json()
    assert health["version"] == rag.__version__ and health["status"] == "ok"


# -- embeddings ----------------------------------------------------------------
def test_passage_embeddings_are_the_vectors_the_index_holds(client, ui_service, encoder):
    index = ui_service.assistant.index
    ids = [0, len(index.chunks) // 2]
    texts = [index.chunks[i].indexed_text for i in ids]
    reply = client.embeddings.create(model=E5, input=texts, extra_body={"input_type": "passage"})
    assert reply.object == "list" and reply.model == E5 and [d.index for d in reply.data] == [0, 1]
    got = _vectors(reply)
    assert got.shape == (2, encoder.dimension)
    np.testing.assert_array_equal(got, encoder.encode_documents(texts))
    np.testing.assert_allclose(got, index.vectors.reconstruct_batch(np.array(ids)), atol=1e-5)
    assert reply.usage.prompt_tokens == reply.usage.total_tokens > sum(encoder.count_tokens(t) for t in texts)


def test_a_query_embedding_is_the_question_vector_and_differs_from_the_passage_one(client, encoder):
    query = client.embeddings.create(model=E5, input=QUESTION)  # the client asks for base64 by default
    as_floats = client.embeddings.create(model=E5, input=[QUESTION], encoding_format="float")
    passage = client.embeddings.create(model=E5, input=QUESTION, extra_body={"input_type": "passage"})
    np.testing.assert_array_equal(_vectors(query), _vectors(as_floats))
    np.testing.assert_allclose(_vectors(query), encoder.encode_query([QUESTION]), atol=1e-6)
    cosine = float(_vectors(query)[0] @ _vectors(passage)[0])
    assert 0.8 < cosine < 0.999  # the same text under e5's two prompts: close, not equal
    # "query: " + the text, with <s> and </s>
    assert query.usage.prompt_tokens == encoder.count_tokens("query: " + QUESTION) + 2


def test_embedding_requests_are_checked_in_openai_shape(server, client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.embeddings.create(model="text-embedding-3-small", input="xin chào")
    assert raised.value.code == "model_not_found" and E5 in raised.value.message
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=E5, input="xin chào", dimensions=256)
    assert raised.value.param == "dimensions" and "384" in raised.value.message
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=E5, input=[[101, 2023, 102]])
    assert raised.value.code == "token_input_unsupported" and raised.value.param == "input"
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=E5, input=["xin chào", "Hà Nội " * 400])
    assert raised.value.code == "input_too_long" and "input[1]" in raised.value.message
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=E5, input=["xin chào", " "])
    assert "input[1] is empty" in raised.value.message
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=E5, input="xin chào", extra_body={"input_type": "document"})
    assert raised.value.param == "input_type"
    with pytest.raises(openai.BadRequestError) as raised:  # the embedding model does not answer questions
        client.chat.completions.create(model=E5, messages=[{"role": "user", "content": QUESTION}])
    assert raised.value.code == "model_not_supported" and "/v1/embeddings" in raised.value.message
    listed = {m.id: m.model_extra for m in client.models.list().data}
    assert listed[E5]["dimensions"] == 384 and listed["virag-corpus"]["answerer"]


def test_embeddings_keep_the_server_limits_and_key(ui_service):
    served = _serve(ui_service, token="s3cret", max_embedding_inputs=2)
    try:
        base = f"{served.url}v1"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).embeddings.create(model=E5, input="a")
        keyed = openai.OpenAI(base_url=base, api_key="s3cret", max_retries=0)
        assert len(keyed.embeddings.create(model=E5, input=["một", "hai"]).data) == 2
        with pytest.raises(openai.BadRequestError) as raised:
            keyed.embeddings.create(model=E5, input=["một", "hai", "ba"])
        assert "at most 2" in raised.value.message
    finally:
        served.close()


def test_embeddings_wait_at_the_gate_of_the_answers(ui_service):
    """With the one worker and the one queue place taken, an embedding is refused at once, as an answer is;
    a refused streamed completion leaves the place free."""
    from ui.api import ApiConfig, Server, build_api

    app = build_api(ui_service, ApiConfig(workers=1, queue=0))
    served = Server(app, "127.0.0.1", free_port()).start(block=False)
    embed = {"model": E5, "input": "xin chào"}
    try:
        with app.state.gate.admit():
            busy = httpx.post(f"{served.url}v1/embeddings", json=embed, timeout=30)
            assert busy.status_code == 503 and busy.json()["error"]["code"] == "server_busy"
            assert busy.headers["retry-after"] == "1"
        refused = httpx.post(f"{served.url}v1/chat/completions", timeout=30, json={
            "model": "virag-corpus", "stream": True, "messages": [SYSTEM, {"role": "user", "content": QUESTION}]})
        assert refused.status_code == 400
        assert httpx.post(f"{served.url}v1/embeddings", json=embed, timeout=30).status_code == 200
    finally:
        served.close()


# -- system messages -------------------------------------------------------------
def test_an_extractive_answerer_refuses_a_system_message_and_says_why(client, server):
    asked = [SYSTEM, {"role": "user", "content": QUESTION}]
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as raised:
            reply = client.chat.completions.create(model="virag-corpus:sentences", messages=asked, stream=stream)
            list(reply) if stream else None
        error = raised.value
        assert error.code == "instructions_unsupported" and error.param == "messages"
        assert "'sentences'" in error.message and "LLM" in error.message and "system_messages" in error.message
    developer = [{"role": "developer", "content": "Trả lời ngắn."}, {"role": "user", "content": QUESTION}]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="virag-corpus:reader", messages=developer)
    ask = httpx.post(f"{server.url}v1/ask", json={"question": QUESTION, "instructions": "Trả lời ngắn."}, timeout=30)
    assert ask.status_code == 400 and ask.json()["error"]["code"] == "instructions_unsupported"
    assert ask.json()["error"]["param"] == "instructions"
    blank = [{"role": "system", "content": "  "}, {"role": "user", "content": QUESTION}]
    assert client.chat.completions.create(model="virag-corpus", messages=blank).choices[0].message.content


def test_a_system_message_can_be_ignored_when_asked_and_the_answer_says_so(client, ui_service, encoder):
    asked = [SYSTEM, {"role": "user", "content": QUESTION}]
    reply = client.chat.completions.create(model="virag-corpus", messages=asked,
                                           extra_body={"system_messages": "ignore"})
    assert reply.model_extra["instructions_ignored"] is True and "Hà Tĩnh" in reply.choices[0].message.content
    assert reply.usage.prompt_tokens == encoder.count_tokens(QUESTION)  # what was ignored was not read
    plain = client.chat.completions.create(model="virag-corpus", messages=asked[1:])
    assert "instructions_ignored" not in plain.model_extra

    lenient = _serve(ui_service, system_messages="ignore")  # for clients that always send one of their own
    try:
        client = openai.OpenAI(base_url=f"{lenient.url}v1", api_key="-", max_retries=0, timeout=60)
        chunks = list(client.chat.completions.create(model="virag-corpus", messages=asked, stream=True))
        assert chunks[-1].model_extra["instructions_ignored"] is True
        with pytest.raises(openai.BadRequestError):  # a request may still ask to be told
            client.chat.completions.create(model="virag-corpus", messages=asked,
                                           extra_body={"system_messages": "reject"})
    finally:
        lenient.close()


def test_an_llm_answerer_follows_the_system_message(seed_assistant, settings, encoder):
    """virag in front of an OpenAI-protocol LLM (a fake on 127.0.0.1): the system message reaches it, after
    virag's own rules, streamed or not, and counts in the usage."""
    from rag import Assistant
    from tests.rag.test_llm import FakeOpenAI
    from ui.service import ChatService

    upstream = FakeOpenAI()
    upstream.reply = "Cụm thi đua số 2 gồm 14 tỉnh, từ Lạng Sơn đến Hà Tĩnh [1]."
    s = settings.with_(answerer="openai", llm_base_url=upstream.url, llm_model="fake-vi")
    served = _serve(ChatService(Assistant(seed_assistant.index, settings=s, encoder=encoder)))
    try:
        client = openai.OpenAI(base_url=f"{served.url}v1", api_key="-", max_retries=0, timeout=60)
        asked = [SYSTEM, {"role": "user", "content": QUESTION}]
        reply = client.chat.completions.create(model="virag-corpus:openai", messages=asked)
        assert reply.choices[0].message.content == upstream.reply and "instructions_ignored" not in reply.model_extra
        system = upstream.requests[-1]["messages"][0]
        assert system["role"] == "system" and system["content"].endswith(SYSTEM["content"])
        assert system["content"] != SYSTEM["content"]  # virag's grounding rules come first
        counted = encoder.count_tokens(SYSTEM["content"]) + encoder.count_tokens(QUESTION)
        assert reply.usage.prompt_tokens == counted

        chunks = list(client.chat.completions.create(model="virag-corpus:openai", messages=asked, stream=True,
                                                     stream_options={"include_usage": True}))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == upstream.reply
        assert upstream.requests[-1]["stream"] and upstream.requests[-1]["messages"][0] == system
        assert chunks[-1].usage.prompt_tokens == counted

        with pytest.raises(openai.BadRequestError) as raised:  # the reader, on the same server, still refuses
            client.chat.completions.create(model="virag-corpus:reader", messages=asked)
        assert "virag-corpus:openai" in raised.value.message
    finally:
        served.close()
        upstream.server.shutdown()
