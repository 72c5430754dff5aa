"""The library API: index a folder once, then ask questions and get cited answers."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

from embeddings.encoder import Encoder

from .answer import Answer, ExtractiveAnswerer
from .chain import ViragRetriever, build_chain
from .config import Settings
from .errors import IndexError_, QuestionError
from .followup import condense, condense_with_llm
from .llm import CitationValidator
from .indexer import Indexer, IndexReport
from .retriever import HybridRetriever
from .store import StoredIndex, read_index

logger = logging.getLogger(__name__)

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
                 report: IndexReport | None = None) -> None:
        self.settings = settings or Settings()
        self.encoder = encoder or Encoder(self.settings)
        self.index = index
        self.report = report
        self.retriever = HybridRetriever(self.settings, self.encoder, index)
        self.extractive = ExtractiveAnswerer(self.settings, index, self.retriever.keywords)
        self.chat_model = None
        self.answerer = self.extractive
        if self.settings.answerer != "extractive":
            from .llm import LLMAnswerer, make_chat_model

            self.chat_model = make_chat_model(self.settings)
            self.answerer = LLMAnswerer(self.settings, self.chat_model, self.extractive)
        self.chain = build_chain(self.retriever, self.answerer)

    @classmethod
    def from_folder(cls, folder: str | Path, *, settings: Settings | None = None, index_dir: str | Path | None = None,
                    encoder: Encoder | None = None, show_progress: bool = False) -> Assistant:
        """Index ``folder`` (or reuse its index when nothing changed) and return an assistant over it.

        Pass ``encoder`` to share one loaded model between several assistants.
        """
        settings = settings or Settings()
        folder = Path(folder)
        index_dir = Path(index_dir) if index_dir else settings.index_dir_for(folder)
        encoder = encoder or Encoder(settings)
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

    def _clean(self, question: str) -> str:
        if not isinstance(question, str):
            msg = f"The question must be text, got {type(question).__name__}."
            raise QuestionError(msg)
        question = " ".join(question.split())
        if not question:
            msg = "Câu hỏi trống. / The question is empty."
            raise QuestionError(msg)
        limit = self.settings.max_question_chars
        if len(question) > limit:
            logger.warning("Question of %d characters truncated to %d (setting 'max_question_chars').", len(question), limit)
            question = question[:limit]
        return question

    def _search_query(self, question: str, history: list[str] | None) -> str:
        if not history:
            return question
        if self.chat_model is not None:
            return condense_with_llm(self.chat_model, question, history)
        return condense(question, history)

    def ask(self, question: str, *, history: list[str] | None = None) -> Answer:
        """Answer ``question`` from the corpus, citing exact spans; abstains when the documents do not say.

        ``history``: earlier questions of the conversation, oldest first, for follow-ups.
        """
        started = time.perf_counter()
        question = self._clean(question)
        if not re.search(r"\w", question):
            answer = Answer(question, NO_WORDS_TEXT, [], True, [])
        else:
            query = self._search_query(question, history)
            answer = self.chain.invoke(query)
            answer.question, answer.search_query = question, query
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return answer

    def stream(self, question: str, *, history: list[str] | None = None) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the finished :class:`Answer`.

        Citation numbers in the pieces are already final: a streamed ``[n]`` never changes.
        """
        started = time.perf_counter()
        question = self._clean(question)
        if self.chat_model is None or not re.search(r"\w", question):
            answer = self.ask(question, history=history)
            if not answer.abstained:
                words = answer.text.split(" ")
                for i in range(0, len(words), 4):
                    yield (" " if i else "") + " ".join(words[i : i + 4])
            else:
                yield answer.text
            yield answer
            return
        query = self._search_query(question, history)
        retrieval = self.retriever.run(query)
        raw, shown = "", ""
        for piece in self.answerer.stream(query, retrieval):
            raw += piece
            validator = CitationValidator(retrieval)
            # hold back a half-written marker and trailing spaces: both may still be rewritten
            text = re.sub(r"\s*\[\d*$", "", validator.rewrite(raw)).rstrip()
            if text.startswith(shown) and len(text) > len(shown):
                yield text[len(shown) :]
                shown = text
        answer = self.answerer.finish(query, raw, retrieval)
        answer.question, answer.search_query = question, query
        answer.timings_ms.update(retrieve=retrieval.ms, total=(time.perf_counter() - started) * 1000)
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
