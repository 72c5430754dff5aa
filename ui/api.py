"""virag over HTTP: OpenAI's chat completions, plus native routes for asking and for the documents.

Any OpenAI client can "talk to" a corpus::

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-")
    reply = client.chat.completions.create(model="virag-seeds", messages=[{"role": "user", "content": "…"}])
    reply.choices[0].message.content      # the answer, with its [n] markers
    reply.citations                       # n, source, start, end, page, quote, score of each [n]

:func:`build_api` makes the FastAPI app over one :class:`~ui.service.ChatService` (one model, one
index); :class:`Server` serves it, alone (``virag serve``) or with the Gradio chat mounted beside it
(``virag chat``). Errors always come back in OpenAI's error-object shape, never as a traceback.
"""

from __future__ import annotations

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from rag import Answer
from rag.assistant import split_messages
from rag.config import ServingOptions
from rag.errors import QuestionError, ViragError
from rag.index.catalogue import listing

from .service import ChatService

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

    @classmethod
    def from_env(cls, serving: ServingOptions | None = None, **changes) -> ApiConfig:
        """The token from ``$VIRAG_API_KEY`` (unset or empty: no authentication); the limits from ``serving``
        (the settings' ``serving`` group)."""
        s = serving or ServingOptions()
        limits = {"max_body_mb": s.api_max_body_mb, "workers": s.api_workers, "queue": s.api_queue}
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


class ChatRequest(BaseModel):
    """OpenAI's chat-completion request. Sampling fields (temperature, max_tokens, …) are accepted and
    ignored: the answer is extracted from the documents, not sampled."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    top_k: int | None = Field(default=None, ge=1, le=50, description="virag: passages to retrieve")


class AskRequest(BaseModel):
    question: str
    history: list[str] = Field(default_factory=list, description="earlier questions, oldest first")
    top_k: int | None = Field(default=None, ge=1, le=50)
    model: str | None = Field(default=None, description="a name from /v1/models (default: the first)")


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


def _answerer(known: dict[str, str], model: str | None) -> str:
    """The answerer ``model`` names (None: the first model's, the configured one); 404 for a name not served."""
    if model is None:
        return next(iter(known.values()))
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


def _within(question: str, max_chars: int, param: str) -> str:
    """``question``, or a 400 when it is longer than the server takes (the library would cut it short)."""
    if len(question) > max_chars:
        raise ApiError(400, f"The question has {len(question)} characters; at most {max_chars} are allowed.",
                       param=param)
    return question


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


# -- the app ------------------------------------------------------------------
def build_api(service: ChatService, config: ApiConfig | None = None) -> FastAPI:
    """The FastAPI app: ``/v1/models``, ``/v1/chat/completions``, ``/v1/ask``, ``/v1/documents``, ``/healthz``."""
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
    _answer_routes(app, service, served, Gate(config.workers, config.queue), v1)
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


def _answer_routes(app: FastAPI, service: ChatService, served: dict[str, str], gate: Gate, v1: dict) -> None:
    """``/healthz``, ``/v1/models``, ``/v1/chat/completions`` and ``/v1/ask``."""
    max_chars = service.settings.retrieval.max_question_chars
    started = int(time.time())

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict:
        """Liveness: the model and index are loaded."""
        return {"status": "ok", "documents": len(service.assistant.index.manifest.files),
                "models": list(served)}

    @app.get("/v1/models", tags=["openai"], **v1)
    def list_models() -> dict:
        """One model per answerer over the served corpus; the bare corpus name answers as configured."""
        return {"object": "list", "data": [{"id": name, "object": "model", "created": started, "owned_by": "virag",
                                            "answerer": answerer} for name, answerer in served.items()]}

    @app.post("/v1/chat/completions", tags=["openai"], response_model=None, **v1)
    def chat_completions(body: ChatRequest) -> dict | StreamingResponse:
        """Answer the last user message; earlier user messages make it a follow-up. The answer's ``content``
        carries ``[n]`` markers; ``citations``, ``short_answer``, ``abstained`` and ``passages`` come beside
        ``choices`` (when streaming: in the last chunk)."""
        options = {"top_k": body.top_k, "answerer": _answerer(served, body.model)}
        question, options["history"] = _conversation(body.messages, max_chars)
        ticket = gate.admit()
        head = {"id": _completion_id(), "created": int(time.time()), "model": body.model}
        if not body.stream:
            with ticket:
                answer = service.ask(question, **options)
            return {**head, "object": "chat.completion",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer.text}}],
                    **answer_fields(answer)}
        events = _completion_events(service.assistant.stream(question, **options), head, ticket)
        # the ticket is also freed when a client leaves before the stream starts
        return StreamingResponse(events, media_type="text/event-stream", background=BackgroundTask(ticket.release))

    @app.post("/v1/ask", tags=["virag"], **v1)
    def ask(body: AskRequest) -> dict:
        """The JSON of ``virag ask --json``: the answer, its citations, the short answer and the passages."""
        answerer = _answerer(served, body.model)
        question = _within(body.question, max_chars, "question")
        with gate.admit():
            answer = service.ask(question, top_k=body.top_k, answerer=answerer, history=body.history)
        return answer.to_dict()


def _completion_events(pieces: Iterator[str | Answer], head: dict, ticket: _Ticket) -> Iterator[str]:
    """The server-sent events of a streamed completion: the role, the text pieces, the finished answer's
    fields, ``[DONE]``; an error after the status line travels as an event."""
    chunk = {**head, "object": "chat.completion.chunk"}
    with ticket:
        yield _sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                          "finish_reason": None}]})
        try:
            for piece in pieces:
                if isinstance(piece, Answer):
                    yield _sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                **answer_fields(piece)})
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

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = True) -> None:
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family)
        self.host, self.port = host, self.socket.getsockname()[1]
        level = "warning" if quiet else "info"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level=level, access_log=not quiet,
                                                     timeout_graceful_shutdown=2))
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
