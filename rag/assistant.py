"""The library API: index a folder once, then ask questions and get cited answers."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Collection, Iterator
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embeddings.encoder import Encoder

from .answer.legal import ArticleAnswers
from .answer.protocol import Answerer, Lookup
from .answer.reader import WEIGHTS as READER_WEIGHTS
from .answer.sentences import SentenceAnswerer
from .answer.tables import TableAnswers
from .config import Settings
from .errors import ConfigError, IndexError_, InstructionsError, QuestionError
from .index.indexer import Indexer, IndexReport
from .index.folder import read_index
from .index.memory import StoredIndex
from .pipeline import answer, in_thread
from .search.followup import condense, condense_with_llm
from .search.query import clean
from .search.retriever import HybridRetriever
from .types import Answer, Query

if TYPE_CHECKING:  # langchain loads when a chain or retriever is asked for, not for a question
    from .chain import AnswerChain, ViragRetriever

LLM_ANSWERERS = ("openai", "llamacpp")
NO_WORDS_TEXT = "Câu hỏi không có từ nào để tìm kiếm; hãy đặt câu hỏi bằng chữ."


class Assistant:
    """Question answering over one indexed corpus.

    Example::

        from rag import Assistant
        qa = Assistant.from_folder("seeds")
        ans = qa.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
        print(ans.text)                      # '… Lạng Sơn, …, Hà Tĩnh. [1]'
        ans.citations[0].source              # '004_67d702c3fe2dbdbb.txt'
        qa.ask("…", answerer="reader", top_k=8, history=["earlier question"])   # per-call options
        qa.chain.invoke("Ai chủ trì hội nghị?")  # the same as a langchain Runnable; await qa.aask(…) too
    """

    def __init__(self, index: StoredIndex, *, settings: Settings | None = None, encoder: Encoder | None = None,
                 report: IndexReport | None = None, answerer: Answerer | None = None) -> None:
        self.settings = settings or Settings()
        self.encoder = encoder or self.settings.encoder()
        self.index = index
        self.report = report
        self.retriever = HybridRetriever(self.settings.retrieval, self.encoder, index)
        self.default_answerer = answerer.name if answerer is not None else self.settings.answer.answerer
        self._answerers: dict[str, Answerer] = {answerer.name: answerer} if answerer is not None else {}
        self._lookups: dict[str, list[Lookup]] = {}
        self._building = threading.RLock()  # an LLM answerer builds the reader and sentence answerers it uses
        _ = self.chat_model  # a configured LLM that lacks its server or model fails here, not at the first question

    # -- answerers, built on first use and kept by name ----------------------
    def answerers(self) -> dict[str, str]:
        """The answerers this assistant can use, name → what it does (for menus): the sentence answerer
        always, the reader when its weights are there, an LLM when the settings configure one."""
        s, llm = self.settings, self.settings.answer.answerer
        found = {}
        if s.reader.reader_weights or READER_WEIGHTS.is_file():
            found["combined"] = "Mô hình đọc hiểu và chấm câu, chọn câu trả lời đáng tin hơn hoặc từ chối (mặc định)"
            found["reader"] = "Mô hình đọc hiểu: câu trả lời ngắn + câu trích dẫn"
        found["sentences"] = "Trích câu từ tài liệu (nhanh, không cần mô hình)"
        if llm in LLM_ANSWERERS:
            found[llm] = f"LLM: {s.llm.llm_model or s.llm.llm_model_path or llm} ({llm})"
        for name, given in self._answerers.items():
            found.setdefault(name, type(given).__name__)
        return found

    @property
    def answerer(self) -> Answerer:
        """The default answerer (``settings.answerer``, or the one given to the constructor)."""
        return self.answerer_named(self.default_answerer)

    def answerer_named(self, name: str | None = None) -> Answerer:
        """The answerer called ``name`` (None: the default); models load on first use, once."""
        name = name or self.default_answerer
        found = self._answerers.get(name)
        if found is not None:
            return found
        if name not in self.answerers():
            msg = f"Unknown answerer '{name}'; available: {', '.join(self.answerers())}."
            raise ConfigError(msg)
        with self._building:
            if name not in self._answerers:
                self._answerers[name] = self._build(name)
        return self._answerers[name]

    def _build(self, name: str) -> Answerer:
        if name == "sentences":
            return SentenceAnswerer(self.settings.answer, self.index, self.retriever.keywords)
        if name == "reader":
            from .answer.reader import reader_runtime, shared_reader
            from .answer.reader_answerer import ReaderAnswerer

            r, e = self.settings.reader, self.settings.embedding
            backend, precision = reader_runtime(e.backend, r.reader_precision)
            reader = shared_reader(self.encoder.builtin_path(), r.reader_weights or str(READER_WEIGHTS), backend,
                                   precision, str(self.settings.home_dir), e.threads)
            return ReaderAnswerer(r, self.index, reader)
        if name == "combined":
            from .answer.combined import CombinedAnswerer
            from .answer.decision import Decision

            threshold = self.settings.answer.decision_threshold or None
            return CombinedAnswerer(self.answerer_named("reader"), self.answerer_named("sentences"), Decision.load(),
                                    threshold)
        from .answer.llm import LLMAnswerer

        # the extractive answer is the fallback; the reader, when it is there, orders the passages
        reader = self.answerer_named("reader") if "reader" in self.answerers() else None
        return LLMAnswerer(name, self.chat_model, self.answerer_named("sentences"), reader)

    @cached_property
    def chat_model(self):
        """The configured LLM (``answerer = "openai"`` or ``"llamacpp"``), else None; it also condenses follow-ups."""
        name = self.settings.answer.answerer
        if name not in LLM_ANSWERERS:
            return None
        from .answer.llm import make_chat_model

        return make_chat_model(name, self.settings.llm)

    def lookups(self, answerer: Answerer) -> list[Lookup]:
        """What answers before ``answerer`` reads: the article a question names, a table's cell."""
        found = self._lookups.get(answerer.name)
        if found is None:
            s = self.settings
            passages = s.reader.reader_passages if answerer.name == "reader" else s.answer.answer_passages
            found = self._lookups[answerer.name] = [ArticleAnswers(self.index), TableAnswers(self.index, passages)]
        return found

    # -- building ------------------------------------------------------------
    @classmethod
    def from_folder(cls, folder: str | Path, *, settings: Settings | None = None, index_dir: str | Path | None = None,
                    encoder: Encoder | None = None, show_progress: bool = False) -> Assistant:
        """Index ``folder`` (or reuse its index when nothing changed) and return an assistant over it.

        Pass ``encoder`` to share one loaded model between several assistants.
        """
        settings = settings or Settings()
        folder = Path(folder)
        index_dir = Path(index_dir) if index_dir else settings.index_dir_for(folder)
        encoder = encoder or settings.encoder()
        report = Indexer(settings, encoder).run(folder, index_dir, show_progress=show_progress)
        return cls(report.index, settings=settings, encoder=encoder, report=report)

    @classmethod
    def from_index(cls, index_dir: str | Path, *, settings: Settings | None = None,
                   encoder: Encoder | None = None) -> Assistant:
        """Open an existing index without looking at the corpus."""
        index = read_index(Path(index_dir))
        if index is None:
            msg = f"No index at '{index_dir}'; build one with `virag index CORPUS --index {index_dir}`."
            raise IndexError_(msg)
        return cls(index, settings=settings, encoder=encoder)

    def as_retriever(self, k: int | None = None) -> ViragRetriever:
        """A langchain ``BaseRetriever`` over this corpus; each document's metadata holds its exact span
        (``source``, ``start``, ``end``) and place (``page``, ``section``, ``document``) as citations do."""
        from .chain import ViragRetriever

        return ViragRetriever(retriever=self.retriever, k=k)

    @cached_property
    def chain(self) -> AnswerChain:
        """This assistant as a langchain Runnable: ``invoke`` returns the :class:`Answer`, ``stream`` yields
        its text in pieces; ``ainvoke``, ``astream`` and ``batch`` work too. It takes the question, or a dict
        ``{"question" (or "input"), "history", "top_k", "answerer", "instructions"}`` (options as
        :meth:`ask`), or chat messages (OpenAI-style dicts, langchain messages or a chat prompt's value,
        as :meth:`chat`).

        Example::

            qa.chain.invoke("Ai chủ trì hội nghị?").citations
            for piece in qa.chain.stream({"input": "Còn cụm số III thì sao?", "history": ["Cụm số 2 gồm tỉnh nào?"]}):
                print(piece, end="")
        """
        from .chain import AnswerChain

        return AnswerChain(self._stream_given)

    def _stream_given(self, given: Any) -> Iterator[str | Answer]:
        question, options = chain_input(given)
        return self.stream(question, **options)

    # -- asking --------------------------------------------------------------
    def analyse(self, question: str, history: list[str] | None = None) -> Query:
        """The question as it will be searched: cleaned, completed from ``history`` when it is a follow-up."""
        query = self.retriever.analyse(question)
        if not history or not query.has_words:
            return query
        text = (condense_with_llm(self.chat_model, query, history) if self.chat_model is not None
                else condense(query, history))
        return query if text == query.text else self.retriever.analyse(text)

    def ask(self, question: str, *, history: list[str] | None = None, top_k: int | None = None,
            answerer: str | None = None, instructions: str | None = None,
            exclude: Collection[str] = ()) -> Answer:
        """Answer ``question`` from the corpus, citing exact spans; abstains when the documents do not say.

        ``history``: earlier questions of the conversation, oldest first, for follow-ups (:func:`history`
        and :func:`split_messages` make it from earlier answers or chat messages). ``top_k``: passages to
        retrieve (default ``settings.retrieval.top_k``). ``answerer``: a name from :meth:`answerers` (default: the
        settings'). ``instructions``: a chat's system message, for an answerer that ``takes_instructions``
        (an LLM); :class:`InstructionsError` for an extractive one, before any work. ``exclude``: sources
        to answer without, as if they were not in the corpus.
        """
        *_, found = self.stream(question, history=history, top_k=top_k, answerer=answerer, instructions=instructions,
                               exclude=exclude)
        return found

    def stream(self, question: str, *, history: list[str] | None = None, top_k: int | None = None,
               answerer: str | None = None, instructions: str | None = None,
               exclude: Collection[str] = ()) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the finished :class:`Answer` (options
        as :meth:`ask`).

        Citation numbers in the pieces are already final: a streamed ``[n]`` never changes. An empty
        question, an unknown answerer or instructions it cannot follow fail here, before any work.
        """
        started = time.perf_counter()
        asked = clean(question, self.settings.retrieval.max_question_chars)
        chosen = self.answerer_named(answerer)
        instructions = (instructions or "").strip() or None
        if instructions and not getattr(chosen, "takes_instructions", False):
            raise InstructionsError.refused_by(chosen.name)
        return self._answer(asked, chosen, history, top_k, instructions, exclude, started)

    def _answer(self, asked: str, answerer: Answerer, history: list[str] | None, top_k: int | None,
                instructions: str | None, exclude: Collection[str], started: float) -> Iterator[str | Answer]:
        """The one path every way of asking takes: pieces, then the :class:`Answer`."""
        query = self.analyse(asked, history)
        if not query.has_words:
            found = Answer(question=asked, text=NO_WORDS_TEXT, citations=[], abstained=True, passages=[])
            yield found.text
        else:
            for piece in answer(self.retriever, query, top_k, answerer, self.lookups(answerer), instructions, exclude):
                if isinstance(piece, Answer):
                    found = piece
                else:
                    yield piece
        found.question, found.search_query = asked, query.text if query.has_words else None
        found.timings_ms["total"] = (time.perf_counter() - started) * 1000
        yield found

    async def aask(self, question: str, *, history: list[str] | None = None, top_k: int | None = None,
                   answerer: str | None = None, instructions: str | None = None,
                   exclude: Collection[str] = ()) -> Answer:
        """:meth:`ask` for asyncio: the work runs in a worker thread, the event loop keeps serving."""
        async for found in self.astream(question, history=history, top_k=top_k, answerer=answerer,
                                        instructions=instructions, exclude=exclude):
            pass
        return found

    async def astream(self, question: str, *, history: list[str] | None = None, top_k: int | None = None,
                      answerer: str | None = None, instructions: str | None = None,
                      exclude: Collection[str] = ()) -> AsyncIterator[str | Answer]:
        """:meth:`stream` for asyncio: text pieces, then the :class:`Answer`, each made in a worker thread."""
        async for item in in_thread(partial(self.stream, question, history=history, top_k=top_k,
                                            answerer=answerer, instructions=instructions, exclude=exclude)):
            yield item

    def chat(self, messages: list, **options) -> Answer:
        """Answer the last user message of an OpenAI-style ``messages`` list, using earlier ones as context
        and the system (and developer) messages as ``instructions``."""
        question, earlier = split_messages(messages)
        return self.ask(question, history=earlier, instructions=instructions_from(messages), **options)

    def conversation(self) -> Conversation:
        """A conversation that remembers its questions, for follow-ups."""
        return Conversation(self)


def _role(message) -> str:
    if isinstance(message, dict):
        return message.get("role", "")
    role = getattr(message, "role", None) or getattr(message, "type", "")  # langchain's: 'human', 'ai', 'system'
    return {"human": "user", "ai": "assistant"}.get(role, role)


def _text(message) -> str:
    if not isinstance(message, dict):
        text = message.text  # the HTTP API's messages: a method; langchain's: a string
        return text if isinstance(text, str) else text()
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI's content parts: the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content


def split_messages(messages: list) -> tuple[str, list[str]]:
    """The question (the last message, the user's) and the earlier user messages, oldest first.

    ``messages`` are OpenAI-style ``{"role", "content"}`` dicts or objects with ``role`` and ``text()``
    (the HTTP API's); :class:`QuestionError` when the last one is not the user's.
    """
    if not messages or _role(messages[-1]) != "user":
        msg = "The last message must be the user's question (role 'user')."
        raise QuestionError(msg)
    users = [_text(m) for m in messages if _role(m) == "user"]
    return users[-1], users[:-1]


def instructions_from(messages: list) -> str | None:
    """The text of the ``system`` and ``developer`` messages (messages as :func:`split_messages`), joined
    by blank lines: the ``instructions`` of :meth:`Assistant.ask`; None when there are none."""
    given = [_text(m).strip() for m in messages if _role(m) in ("system", "developer")]
    return "\n\n".join(t for t in given if t) or None


CHAIN_KEYS = ("question", "input", "history", "chat_history", "top_k", "answerer", "instructions", "exclude")


def chain_input(given: Any) -> tuple[str, dict]:
    """What :attr:`Assistant.chain` was given, as :meth:`Assistant.stream`'s question and options.

    A question (str); a dict with ``question`` (or ``input``, langchain's name) and options of
    :meth:`Assistant.ask` (``history``, or ``chat_history``: questions, earlier answers or messages);
    or chat messages (a list, or a chat prompt's value), as :meth:`Assistant.chat`.
    """
    if hasattr(given, "to_messages"):  # a prompt's value
        given = given.to_messages()
    if isinstance(given, str):
        return given, {}
    if isinstance(given, list):
        question, earlier = split_messages(given)
        return question, {"history": earlier, "instructions": instructions_from(given)}
    if not isinstance(given, dict):
        msg = (f"The chain takes a question (str), a dict with 'question' or 'input', or chat messages; "
               f"got {type(given).__name__}.")
        raise QuestionError(msg)
    unknown = sorted(set(given) - set(CHAIN_KEYS))
    question = given.get("question", given.get("input"))
    if unknown or not isinstance(question, str):
        msg = (f"The chain's input needs 'question' (or 'input'), a string, and takes only "
               f"{', '.join(repr(k) for k in CHAIN_KEYS)}; got {sorted(given)}.")
        raise QuestionError(msg)
    earlier = given.get("history", given.get("chat_history")) or []
    options = {k: given[k] for k in ("top_k", "answerer", "instructions", "exclude") if given.get(k) is not None}
    return question, {"history": _questions(earlier), **options}


def _questions(earlier: list) -> list[str]:
    """Earlier questions from questions, answers (:class:`Answer` or its dict) or messages (the user's)."""
    out = []
    for item in earlier:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Answer) or (isinstance(item, dict) and "question" in item):
            out += history([item])
        elif _role(item) == "user":
            out.append(_text(item))
    return out


def history(earlier: list) -> list[str]:
    """Earlier answers (:class:`Answer` or its ``to_dict()``), oldest first, as the questions they searched:
    the ``history`` a follow-up leans on (a follow-up of a follow-up keeps the context)."""
    asked = []
    for a in earlier:
        d = a if isinstance(a, dict) else {"search_query": a.search_query, "question": a.question}
        asked.append(d.get("search_query") or d.get("question", ""))
    return asked


class Conversation:
    """Questions asked in turn; each one may lean on the ones before.

    Example::

        conv = qa.conversation()
        conv.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
        conv.ask("Còn cụm số III thì sao?")        # searched with the first question's context
    """

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.answers: list[Answer] = []

    def ask(self, question: str, **options) -> Answer:
        answer = self.assistant.ask(question, history=history(self.answers), **options)
        self.answers.append(answer)
        return answer
