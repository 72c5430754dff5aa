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
    """With the one worker and the one queue place taken, an embedding is refused at once, as an answer is."""
    from ui.api import ApiConfig, Server, build_api

    app = build_api(ui_service, ApiConfig(workers=1, queue=0))
    served = Server(app, "127.0.0.1", free_port()).start(block=False)
    embed = {"model": E5, "input": "xin chào"}
    try:
        with app.state.gate.admit():
            busy = httpx.post(f"{served.url}v1/embeddings", json=embed, timeout=30)
            assert busy.status_code == 503 and busy.json()["error"]["code"] == "server_busy"
            assert busy.headers["retry-after"] == "1"
        assert httpx.post(f"{served.url}v1/embeddings", json=embed, timeout=30).status_code == 200
    finally:
        served.close()
