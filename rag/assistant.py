"""The library API: index a folder once, then ask questions and get cited answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from embeddings.encoder import Encoder

from .answer.legal import ArticleAnswers
from .answer.tables import TableAnswers
from .answer.protocol import Answerer
from .answer.sentences import SentenceAnswerer
from .chain import ViragRetriever, build_chain
from .config import Settings
from .errors import IndexError_, QuestionError
from .index.indexer import Indexer, IndexReport
from .index.folder import read_index
from .index.memory import StoredIndex
from .search.followup import condense, condense_with_llm
from .search.query import Query, clean
from .search.retriever import HybridRetriever
from .types import Answer

NO_WORDS_TEXT = "Câu hỏi không có từ nào để tìm kiếm; hãy đặt câu hỏi bằng chữ."


class Assistant:
    """Question answering over one indexed corpus.

    Example::

        from rag import Assistant
        qa = Assistant.from_folder("seeds")
        ans = qa.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
        print(ans.text)                      # '… Lạng Sơn, …, Hà Tĩnh. [1]'
        ans.citations[0].source              # '004_67d702c3fe2dbdbb.txt'
    """

    def __init__(self, index: StoredIndex, *, settings: Settings | None = None, encoder: Encoder | None = None,
                 report: IndexReport | None = None, answerer: Answerer | None = None) -> None:
        self.settings = settings or Settings()
        self.encoder = encoder or self.settings.encoder()
        self.index = index
        self.report = report
        self.retriever = HybridRetriever(self.settings, self.encoder, index)
        self.extractive = SentenceAnswerer(self.settings, index, self.retriever.keywords)
        self.chat_model = None
        self.answerer: Answerer = answerer or self._answerer()
        name = self.answerer.name
        passages = self.settings.reader_passages if name == "reader" else self.settings.answer_passages
        self.chain = build_chain(self.retriever, self.answerer,
                                 [ArticleAnswers(index, name), TableAnswers(index, passages, name)])

    def _answerer(self) -> Answerer:
        """The answerer ``settings.answerer`` names (models load here, once per process)."""
        s = self.settings
        if s.answerer == "reader":
            return self._reader()
        if s.answerer in ("openai", "llamacpp"):
            from .answer.llm import LLMAnswerer, make_chat_model
            from .answer.reader import WEIGHTS

            self.chat_model = make_chat_model(s)
            reader = self._reader() if s.reader_weights or WEIGHTS.is_file() else None
            return LLMAnswerer(s, self.chat_model, self.extractive, reader)
        return self.extractive

    def _reader(self):
        from .answer.reader import WEIGHTS, bfloat16_is_fast, shared_reader
        from .answer.reading import ReaderAnswerer

        s = self.settings
        bfloat16 = s.reader_precision == "bfloat16" or (s.reader_precision == "auto" and bfloat16_is_fast())
        reader = shared_reader(self.encoder.builtin_path(), s.reader_weights or str(WEIGHTS), bfloat16)
        return ReaderAnswerer(s, self.index, reader)

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
        """A langchain ``BaseRetriever`` over this corpus."""
        return ViragRetriever(retriever=self.retriever, k=k)

    def analyse(self, question: str, history: list[str] | None = None) -> Query:
        """The question as it will be searched: cleaned, completed from ``history`` when it is a follow-up."""
        query = self.retriever.analyse(question)
        if not history or not query.has_words:
            return query
        text = (condense_with_llm(self.chat_model, query, history) if self.chat_model is not None
                else condense(query, history))
        return query if text == query.text else self.retriever.analyse(text)

    def ask(self, question: str, *, history: list[str] | None = None) -> Answer:
        """Answer ``question`` from the corpus, citing exact spans; abstains when the documents do not say.

        ``history``: earlier questions of the conversation, oldest first, for follow-ups.
        """
        *_, answer = self.stream(question, history=history)
        return answer

    def stream(self, question: str, *, history: list[str] | None = None) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the finished :class:`Answer`.

        Citation numbers in the pieces are already final: a streamed ``[n]`` never changes.
        """
        started = time.perf_counter()
        asked = clean(question, self.settings.max_question_chars)
        query = self.analyse(asked, history)
        if not query.has_words:
            answer = Answer(question=asked, text=NO_WORDS_TEXT, citations=[], abstained=True, passages=[])
            yield answer.text
        else:
            for piece in self.chain.stream(query):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    yield piece
        answer.question, answer.search_query = asked, query.text if query.has_words else None
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1000
        yield answer

    def chat(self, messages: list[dict]) -> Answer:
        """Answer the last user message of an OpenAI-style ``messages`` list, using earlier ones as context."""
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        if not users:
            msg = "messages holds no {'role': 'user', 'content': …} entry."
            raise QuestionError(msg)
        return self.ask(users[-1], history=users[:-1])

    def conversation(self) -> Conversation:
        """A conversation that remembers its questions, for follow-ups."""
        return Conversation(self)


class Conversation:
    """Questions asked in turn; each one may lean on the ones before.

    Example::

        conv = qa.conversation()
        conv.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
        conv.ask("Còn cụm số III thì sao?")        # searched with the first question's context
    """

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.questions: list[str] = []

    def ask(self, question: str) -> Answer:
        answer = self.assistant.ask(question, history=self.questions)
        # remember the completed question, so a follow-up of a follow-up keeps the context
        self.questions.append(answer.search_query or answer.question)
        return answer
