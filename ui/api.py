"""virag over HTTP: OpenAI's chat completions and embeddings, plus native routes for asking and for the documents.

Any OpenAI client can "talk to" a corpus::

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-")
    reply = client.chat.completions.create(model="virag-seeds", messages=[{"role": "user", "content": "…"}])
    reply.choices[0].message.content      # the answer, with its [n] markers
    reply.citations                       # n, source, start, end, page, quote, score of each [n]
    reply.usage                           # tokens of the question and the answer (the embedding model's tokenizer)
    client.embeddings.create(model="multilingual-e5-small", input=["…"], extra_body={"input_type": "passage"})

:func:`build_api` makes the FastAPI app over one :class:`~ui.service.ChatService` (one model, one
index); :class:`Server` serves it, alone (``virag serve``) or with the Gradio chat mounted beside it
(``virag chat``). Errors always come back in OpenAI's error-object shape, never as a traceback.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np

from fastapi import Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from embeddings.home import BUILTIN_MODEL
from rag import Answer, __version__
from rag.assistant import LLM_ANSWERERS, instructions_from, split_messages
from rag.config import ServingOptions
from rag.errors import InstructionsError, QuestionError, ViragError
from rag.index.catalogue import listing

from .service import ChatService

if TYPE_CHECKING:
    from embeddings.encoder import Encoder

logger = logging.getLogger(__name__)

TOKEN_ENV = "VIRAG_API_KEY"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ApiConfig:
    """How the API admits requests. Defaults suit one user on loopback: no token, no CORS."""

    token: str | None = None  # a bearer token every /v1 route requires; None: no authentication
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API; empty: CORS off
    # the limits default to the settings' (ServingOptions, where each is explained)
    max_body_mb: float = ServingOptions.api_max_body_mb
    workers: int = ServingOptions.api_workers
    queue: int = ServingOptions.api_queue
    max_embedding_inputs: int = ServingOptions.api_embedding_inputs
    # requests may choose for themselves ("system_messages" in the body)
    system_messages: Literal["reject", "ignore"] = ServingOptions.api_system_messages

    @classmethod
    def from_env(cls, serving: ServingOptions | None = None, **changes) -> ApiConfig:
        """The token from ``$VIRAG_API_KEY`` (unset or empty: no authentication); the limits from ``serving``
        (the settings' ``serving`` group)."""
        s = serving or ServingOptions()
        limits = {"max_body_mb": s.api_max_body_mb, "workers": s.api_workers, "queue": s.api_queue,
                  "max_embedding_inputs": s.api_embedding_inputs, "system_messages": s.api_system_messages}
        return cls(token=os.environ.get(TOKEN_ENV) or None, **{**limits, **changes})


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error", 503: "server_error"}

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers

    def body(self) -> dict:
        kind = self.TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


# -- the requests ------------------------------------------------------------
class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(default=False, description="a last chunk with empty choices and the usage")


class ChatRequest(BaseModel):
    """OpenAI's chat-completion request. Sampling fields (temperature, max_tokens, …) are accepted and
    ignored: the answer is extracted from the documents, not sampled."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    top_k: int | None = Field(default=None, ge=1, le=50, description="virag: passages to retrieve")
    system_messages: Literal["reject", "ignore"] | None = Field(
        default=None, description="virag: what an extractive answerer does with system and developer messages: "
        "'reject' (400) or 'ignore' (answer without them, marked instructions_ignored); default: the server's. "
        "An LLM answerer always follows them.")


class EmbeddingRequest(BaseModel):
    """OpenAI's embedding request, plus ``input_type``: e5 embeds a question and a passage with different
    prompts, and only the caller knows which a text is."""

    model_config = ConfigDict(extra="allow")

    model: str
    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="a text or a list of texts (token arrays are refused: the tokenizer is the model's, not OpenAI's)")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, description="only the model's own (no shortening)")
    input_type: Literal["query", "passage"] = Field(
        default="query", description="virag: 'query' embeds with e5's 'query: ' prompt, 'passage' with "
        "'passage: ' (the index's vectors); the default suits a caller that cannot tell its texts apart")


class AskRequest(BaseModel):
    question: str
    history: list[str] = Field(default_factory=list, description="earlier questions, oldest first")
    top_k: int | None = Field(default=None, ge=1, le=50)
    model: str | None = Field(default=None, description="a name from /v1/models (default: the first)")
    instructions: str | None = Field(default=None, description="a system message, for an LLM answerer "
                                     "(an extractive one refuses it: 400)")


# -- admission -------------------------------------------------------------
class Gate:
    """At most ``workers`` answers at once and ``queue`` more waiting; anyone beyond gets 503 at once."""

    def __init__(self, workers: int, queue: int) -> None:
        self._workers = threading.Semaphore(max(1, workers))
        self._admitted = threading.BoundedSemaphore(max(1, workers) + max(0, queue))

    def admit(self) -> _Ticket:
        if not self._admitted.acquire(blocking=False):
            raise ApiError(503, "Máy chủ đang bận, hãy thử lại sau giây lát. / The server is busy; retry shortly.",
                           code="server_busy", headers={"Retry-After": "1"})
        return _Ticket(self)


class _Ticket:
    """One admitted request: ``with ticket:`` waits for a worker; leaving, or :meth:`release`, frees both."""

    def __init__(self, gate: Gate) -> None:
        self._gate, self._working, self._released = gate, False, False

    def __enter__(self) -> _Ticket:
        self._gate._workers.acquire()
        self._working = True
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        if self._working:
            self._working = False
            self._gate._workers.release()
        if not self._released:
            self._released = True
            self._gate._admitted.release()


# -- the models -------------------------------------------------------------
def corpus_name(service: ChatService) -> str:
    """``virag-<folder>`` for the served corpus (or index) folder, in characters a model id may hold."""
    folder = service.corpus or service.index_dir or Path("corpus")
    slug = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-") or "corpus"
    return f"virag-{slug}"


def models(service: ChatService) -> dict[str, str]:
    """Model name → answerer: ``virag-seeds`` answers as configured, ``virag-seeds:<answerer>`` with that one."""
    base, qa = corpus_name(service), service.assistant
    return {base: qa.default_answerer, **{f"{base}:{name}": name for name in qa.answerers()}}


def _answerer(known: dict[str, str], model: str | None, embedder: str | None = None) -> str:
    """The answerer ``model`` names (None: the first model's, the configured one); 404 for a name not served."""
    if model is None:
        return next(iter(known.values()))
    if model == embedder:
        raise ApiError(400, f"'{model}' is an embedding model (POST /v1/embeddings); answers come from "
                       f"{', '.join(known)}.", code="model_not_supported", param="model")
    if model not in known:
        raise ApiError(404, f"The model '{model}' does not exist; this server has: {', '.join(known)}.",
                       code="model_not_found", param="model")
    return known[model]


# -- the answers --------------------------------------------------------------
def answer_fields(answer: Answer) -> dict:
    """What an OpenAI message cannot carry: the citations, the short answer, abstention, the passages."""
    full = answer.to_dict()
    return {key: full[key] for key in ("citations", "short_answer", "abstained", "confidence", "answerer",
                                       "search_query", "passages")}


def _conversation(messages: list[Message], max_chars: int) -> tuple[str, list[str]]:
    """The question (the last message, the user's) and the earlier user questions, for follow-ups."""
    try:
        question, history = split_messages(messages)
    except QuestionError as exc:
        raise ApiError(400, str(exc), param="messages") from None
    if not question.strip():
        raise ApiError(400, "Câu hỏi trống. / The question is empty.", param="messages")
    return _within(question, max_chars, "messages"), history


def _instructions(service: ChatService, served: dict[str, str], answerer: str, messages: list[Message],
                  unfollowed: Literal["reject", "ignore"]) -> tuple[str | None, bool]:
    """The system and developer messages as instructions for ``answerer``, and whether they are ignored:
    an LLM answerer follows them; an extractive one quotes the documents, so a 400 says why, unless
    ``unfollowed`` is "ignore" (the answer then says it ignored them)."""
    instructions = instructions_from(messages)
    if instructions is None or getattr(service.assistant.answerer_named(answerer), "takes_instructions", False):
        return instructions, False
    if unfollowed == "ignore":
        return None, True
    llms = [name for name, used in served.items() if used in LLM_ANSWERERS]
    where = (f"This server's LLM models: {', '.join(llms)}." if llms else
             "This server has no LLM answerer (settings: answerer = \"openai\" and llm_base_url).")
    raise _refused(InstructionsError.refused_by(answerer), "messages",
                   f" {where} Or send \"system_messages\": \"ignore\" to be answered without them.")


def _refused(exc: InstructionsError, param: str, more: str = "") -> ApiError:
    return ApiError(400, f"{exc}{more}", code="instructions_unsupported", param=param)


def _within(question: str, max_chars: int, param: str) -> str:
    """``question``, or a 400 when it is longer than the server takes (the library would cut it short)."""
    if len(question) > max_chars:
        raise ApiError(400, f"The question has {len(question)} characters; at most {max_chars} are allowed.",
                       param=param)
    return question


def usage(encoder: Encoder, asked: list[str], answered: str) -> dict[str, int]:
    """OpenAI's ``usage`` counted with the embedding model's tokenizer (special tokens left out): the
    prompt is the text the answer used (the question, the earlier questions, the instructions), the
    completion the answer's text."""
    prompt = sum(encoder.count_tokens(text) for text in asked if text)
    completion = encoder.count_tokens(answered) if answered else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# -- the embeddings -------------------------------------------------------------
def embedding_model(encoder: Encoder) -> str:
    """The name ``/v1/embeddings`` answers to: the built-in model's, or the configured one's."""
    return "multilingual-e5-small" if encoder.model_name == BUILTIN_MODEL else encoder.model_name


def _embedding_texts(given: str | list, most: int) -> list[str]:
    """The texts to embed, or a 400 naming what is wrong with ``input``."""
    texts = [given] if isinstance(given, str) else list(given)
    if not texts:
        raise ApiError(400, "input is empty: send a text or a list of texts.", param="input")
    if not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "input holds token ids: this server embeds text only (its tokenizer is the model's, "
                       "not OpenAI's); send the texts. LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False).",
                       code="token_input_unsupported", param="input")
    if len(texts) > most:
        raise ApiError(400, f"input has {len(texts)} texts; at most {most} are embedded per request.", param="input")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ApiError(400, f"input[{i}] is empty.", param="input")
    return texts


def embed(encoder: Encoder, texts: list[str], kind: Literal["query", "passage"]) -> tuple[np.ndarray, int]:
    """The vectors of ``texts`` with the prompt of ``kind`` (the index's own for passages) and the tokens
    the model read; a 400 for a text longer than the model reads (its vector would ignore the rest)."""
    prompt = encoder.query_prompt if kind == "query" else encoder.document_prompt
    specials, most = encoder.prompt_overhead(""), encoder.max_tokens
    read = [specials + encoder.count_tokens(prompt + text) for text in texts]  # as the model reads them
    for i, tokens in enumerate(read):
        if tokens > most:
            raise ApiError(400, f"input[{i}] has {tokens} tokens with the '{prompt.strip()}' prompt; the model reads "
                           f"at most {most}, so its vector would ignore the rest: split the text.",
                           code="input_too_long", param="input")
    vectors = encoder.encode_query(texts) if kind == "query" else encoder.encode_documents(texts)
    return vectors, sum(read)


def _embedding(vector: np.ndarray, encoding: Literal["float", "base64"]) -> list[float] | str:
    """One vector as OpenAI sends it: floats, or base64 of little-endian float32 (the client's default)."""
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


# -- the app ------------------------------------------------------------------
def build_api(service: ChatService, config: ApiConfig | None = None) -> FastAPI:
    """The FastAPI app: ``/v1/models``, ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/ask``,
    ``/v1/documents``, ``/healthz``."""
    config = config or ApiConfig.from_env(service.settings.serving)
    app = FastAPI(title="virag", version="1", summary="Cited question answering over Vietnamese documents, "
                  "through OpenAI's chat-completions protocol and native routes.")
    _answer_errors(app)
    _limit_bodies(app, config, service)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["*"],
                           allow_headers=["*"])
    served = models(service)  # the answerers are the settings' and the shipped weights': fixed while serving
    v1 = {"dependencies": [Depends(_authorise(config))]}
    # answers and embeddings share the cores, so they share one gate
    gate = app.state.gate = Gate(config.workers, config.queue)
    _answer_routes(app, service, served, gate, v1, config)
    _embedding_routes(app, service, gate, v1, config)
    _document_routes(app, service, v1)

    @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(rest: str) -> None:
        """Any other /v1 route: OpenAI's 404 (mounted beside the chat, the chat would answer it otherwise)."""
        raise ApiError(404, f"Unknown route /v1/{rest}; see /docs for the routes this server has.",
                       code="unknown_url")

    return app


def _authorise(config: ApiConfig):
    """The dependency every /v1 route has: the bearer token, when the server has one."""

    def authorise(request: Request) -> None:
        if config.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), config.token.encode()):
            raise ApiError(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>' "
                           f"(the server's ${TOKEN_ENV}).", code="invalid_api_key")

    return authorise


def _answer_errors(app: FastAPI) -> None:
    """Every error in OpenAI's shape, never a traceback."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            message = "The body is not valid JSON."
        return ApiError(400, f"{message}{f' ({where})' if where else ''}", param=where or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return ApiError(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)).response()

    @app.exception_handler(InstructionsError)
    async def _instructions_refused(_request: Request, exc: InstructionsError) -> JSONResponse:
        return _refused(exc, "instructions").response()  # /v1/ask's; completions check before answering

    @app.exception_handler(ViragError)
    async def _virag(_request: Request, exc: Exception) -> JSONResponse:
        return ApiError(400, str(exc)).response()

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error in the API")
        return ApiError(500, f"Internal error ({type(exc).__name__}); the server log has the details.").response()


def _limit_bodies(app: FastAPI, config: ApiConfig, service: ChatService) -> None:
    """413 for a /v1 body over its limit (uploads: the service's upload limits), before it is read."""
    limits = service.limits
    upload_bytes = int(limits.max_mb * 1e6 * (limits.max_files or 1)) + 1_000_000

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):
        if not request.url.path.startswith("/v1/"):  # the chat mounted beside the API has its own limits
            return await call_next(request)
        limit = upload_bytes if request.url.path.rstrip("/") == "/v1/documents" else int(config.max_body_mb * 1e6)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return ApiError(413, f"The request body has {int(length):,} bytes; at most {limit:,} are accepted.",
                            code="request_too_large").response()
        return await call_next(request)


def _answer_routes(app: FastAPI, service: ChatService, served: dict[str, str], gate: Gate, v1: dict,
                   config: ApiConfig) -> None:
    """``/healthz``, ``/v1/models``, ``/v1/chat/completions`` and ``/v1/ask``."""
    max_chars = service.settings.retrieval.max_question_chars
    started = int(time.time())
    embedder = embedding_model(service.encoder)

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict:
        """Liveness: the model and index are loaded; the version of virag serving them."""
        return {"status": "ok", "version": __version__, "documents": len(service.assistant.index.manifest.files),
                "models": list(served)}

    @app.get("/v1/models", tags=["openai"], **v1)
    def list_models() -> dict:
        """One model per answerer over the served corpus (the bare corpus name answers as configured), then
        the embedding model."""
        chat = [{"id": name, "object": "model", "created": started, "owned_by": "virag", "answerer": answerer}
                for name, answerer in served.items()]
        embedding = {"id": embedder, "object": "model", "created": started, "owned_by": "virag",
                     "dimensions": service.encoder.dimension}
        return {"object": "list", "data": [*chat, embedding]}

    @app.post("/v1/chat/completions", tags=["openai"], response_model=None, **v1)
    def chat_completions(body: ChatRequest) -> dict | StreamingResponse:
        """Answer the last user message; earlier user messages make it a follow-up. The answer's ``content``
        carries ``[n]`` markers; ``citations``, ``short_answer``, ``abstained`` and ``passages`` come beside
        ``choices`` (when streaming: in the last chunk); ``usage`` counts tokens with the embedding model's
        tokenizer (streaming: with ``stream_options.include_usage``, in a last chunk of its own). System and
        developer messages instruct an LLM answerer; an extractive one refuses them (400) or, with
        ``system_messages: "ignore"``, answers without them and says so (``instructions_ignored``)."""
        options = {"top_k": body.top_k, "answerer": _answerer(served, body.model, embedder)}
        question, options["history"] = _conversation(body.messages, max_chars)
        options["instructions"], ignored = _instructions(service, served, options["answerer"], body.messages,
                                                         body.system_messages or config.system_messages)
        asked = [options["instructions"] or "", *options["history"], question]
        extra = {"instructions_ignored": True} if ignored else {}

        def counted(answer: Answer) -> dict[str, int]:
            return usage(service.encoder, asked, answer.text)

        ticket = gate.admit()
        head = {"id": _completion_id(), "created": int(time.time()), "model": body.model}
        if not body.stream:
            with ticket:
                answer = service.ask(question, **options)
                tokens = counted(answer)
            return {**head, "object": "chat.completion",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer.text}}],
                    "usage": tokens, **answer_fields(answer), **extra}
        try:
            pieces = service.assistant.stream(question, **options)
        except BaseException:
            ticket.release()
            raise
        with_usage = body.stream_options is not None and body.stream_options.include_usage
        events = _completion_events(pieces, head, ticket, counted if with_usage else None, extra)
        # the ticket is also freed when a client leaves before the stream starts
        return StreamingResponse(events, media_type="text/event-stream", background=BackgroundTask(ticket.release))

    @app.post("/v1/ask", tags=["virag"], **v1)
    def ask(body: AskRequest) -> dict:
        """The JSON of ``virag ask --json``: the answer, its citations, the short answer and the passages,
        and the ``usage`` of a chat completion."""
        answerer = _answerer(served, body.model, embedder)
        question = _within(body.question, max_chars, "question")
        with gate.admit():
            answer = service.ask(question, top_k=body.top_k, answerer=answerer, history=body.history,
                                 instructions=body.instructions)
            tokens = usage(service.encoder, [body.instructions or "", *body.history, question], answer.text)
        return {**answer.to_dict(), "usage": tokens}


def _embedding_routes(app: FastAPI, service: ChatService, gate: Gate, v1: dict, config: ApiConfig) -> None:
    """``/v1/embeddings``: the vectors the index uses, for a client's own retrieval."""
    encoder = service.encoder
    name = embedding_model(encoder)

    @app.post("/v1/embeddings", tags=["openai"], **v1)
    def embeddings(body: EmbeddingRequest) -> dict:
        """Embed texts with the served embedding model. ``input_type`` picks e5's prompt: ``"query"``
        (the default) or ``"passage"`` (the vectors the index holds for its chunks)."""
        if body.model != name:
            raise ApiError(404, f"The embedding model '{body.model}' does not exist; this server has '{name}'.",
                           code="model_not_found", param="model")
        texts = _embedding_texts(body.input, config.max_embedding_inputs)
        if body.dimensions is not None and body.dimensions != encoder.dimension:
            raise ApiError(400, f"dimensions: {name} gives {encoder.dimension}-dimensional vectors and cannot "
                           f"shorten them; leave dimensions out or send {encoder.dimension}.", param="dimensions")
        with gate.admit():
            vectors, tokens = embed(encoder, texts, body.input_type)
        data = [{"object": "embedding", "index": i, "embedding": _embedding(v, body.encoding_format)}
                for i, v in enumerate(vectors)]
        return {"object": "list", "data": data, "model": name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _completion_events(pieces: Iterator[str | Answer], head: dict, ticket: _Ticket,
                       counted: Callable[[Answer], dict] | None = None, extra: dict | None = None) -> Iterator[str]:
    """The server-sent events of a streamed completion: the role, the text pieces, the finished answer's
    fields (and ``extra``), with ``counted``: a chunk of the usage alone (as OpenAI's ``include_usage``),
    then ``[DONE]``; an error after the status line travels as an event."""
    chunk = {**head, "object": "chat.completion.chunk", **({"usage": None} if counted else {})}
    with ticket:
        yield _sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                          "finish_reason": None}]})
        try:
            for piece in pieces:
                if isinstance(piece, Answer):
                    yield _sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                **answer_fields(piece), **(extra or {})})
                    if counted:
                        yield _sse({**chunk, "choices": [], "usage": counted(piece)})
                elif piece:
                    yield _sse({**chunk, "choices": [{"index": 0, "delta": {"content": piece},
                                                      "finish_reason": None}]})
        except Exception as exc:
            logger.exception("Error while streaming an answer")
            error = exc if isinstance(exc, ApiError) else ApiError(
                400 if isinstance(exc, ViragError) else 500, str(exc) or type(exc).__name__)
            yield _sse(error.body())
    yield _sse("[DONE]")


def _document_routes(app: FastAPI, service: ChatService, v1: dict) -> None:
    """``/v1/documents``: list, upload, delete."""

    @app.get("/v1/documents", tags=["virag"], **v1)
    def documents() -> dict:
        """The indexed files (chunks, pages, encoding, when indexed) and the skipped ones with why,
        as ``virag list --json`` prints them."""
        files, skipped = service.files()
        return listing(files, skipped)

    @app.post("/v1/documents", tags=["virag"], status_code=201, **v1)
    def upload(files: Annotated[list[UploadFile], File(description="documents to add to the corpus")]) -> dict:
        """Add documents (the chat's checks and limits) and index them; answers use them at once."""
        if service.locked:
            raise ApiError(403, service.locked, code="read_only")
        limits = service.limits
        if limits.max_files is not None and len(files) > limits.max_files:
            raise ApiError(400, f"At most {limits.max_files} files per request; got {len(files)}.", param="files")
        with tempfile.TemporaryDirectory(prefix="virag-upload-") as tmp:
            paths = []
            for i, part in enumerate(files):
                path = Path(tmp) / str(i)
                path.write_bytes(part.file.read())
                if path.stat().st_size > limits.max_mb * 1e6:
                    raise ApiError(413, f"{part.filename}: {path.stat().st_size / 1e6:.1f} MB vượt giới hạn "
                                   f"{limits.max_mb:g} MB. / exceeds the {limits.max_mb:g} MB limit.",
                                   code="file_too_large", param="files")
                paths.append(path)
            result = service.add_files(paths, [part.filename or "tai_lieu" for part in files])
        rejected = [{"file": name, "reason": why} for name, why in result.rejected]
        if not result.added:
            reasons = "; ".join(f"{r['file']}: {r['reason']}" for r in rejected)
            raise ApiError(400, f"Không thêm được tệp nào. / No file was added: {reasons}", param="files")
        return {"added": result.added, "rejected": rejected, "summary": result.summary}

    @app.delete("/v1/documents/{name:path}", tags=["virag"], **v1)
    def delete(name: str) -> dict:
        """Delete a document from the corpus folder and the index (its name as ``GET /v1/documents`` lists it)."""
        if service.locked:
            raise ApiError(403, service.locked, code="read_only")
        indexed = {f.source for f in service.files()[0]}
        if name not in indexed:
            raise ApiError(404, f"No indexed document is named '{name}'.", code="document_not_found", param="name")
        summary = service.remove_file(name)
        return {"deleted": name, "summary": summary}


# -- serving ------------------------------------------------------------------
class Server:
    """uvicorn on a socket bound up front, so a taken port fails here (``OSError``), not inside uvicorn.

    ``start(block=False)`` serves from a background thread until :meth:`close`.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = True,
                 grace: float = ServingOptions.shutdown_seconds) -> None:
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family)
        self.host, self.port = host, self.socket.getsockname()[1]
        level = "warning" if quiet else "info"
        # on SIGTERM/Ctrl-C uvicorn stops accepting at once and waits up to ``grace`` s for answers in flight
        self._server = uvicorn.Server(uvicorn.Config(app, log_level=level, access_log=not quiet,
                                                     timeout_graceful_shutdown=grace))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, *, block: bool = True) -> Server:
        if block:
            self._server.run(sockets=[self.socket])
            return self
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.socket]},
                                        name="virag-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._server.started:
            msg = f"the server did not start on {self.url}"
            raise OSError(msg)
        return self

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()
