"""The library API: index a folder once, then ask questions and get cited answers."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from embeddings.encoder import Encoder

from .answer import Answer, ExtractiveAnswerer
from .chain import ViragRetriever, build_chain
from .config import Settings
from .errors import IndexError_, QuestionError
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
        self.answerer = ExtractiveAnswerer(self.settings, index, self.retriever.keywords)
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

    def ask(self, question: str) -> Answer:
        """Answer ``question`` from the corpus, citing exact spans; abstains when the documents do not say."""
        started = time.perf_counter()
        question = self._clean(question)
        if not re.search(r"\w", question):
            answer = Answer(question, NO_WORDS_TEXT, [], True, [])
        else:
            answer = self.chain.invoke(question)
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return answer
