"""The few exceptions virag raises on purpose: each message names the file, field or value, and the fix."""

from __future__ import annotations

from abc import ABCMeta

from embeddings.errors import ModelError


class ViragError(Exception, metaclass=ABCMeta):
    """Base class: anything virag raises deliberately (``except ViragError`` catches them all)."""


# The embedding stage comes first and imports nothing of rag, so its error is registered, not derived.
ViragError.register(ModelError)


class DocumentError(ViragError):
    """One input file cannot be read (it is skipped; the rest are indexed)."""


class IndexError_(ViragError):
    """An index on disk is missing, incompatible or damaged."""


class CorpusError(ViragError):
    """The corpus folder is missing or holds no readable document."""


class QuestionError(ViragError):
    """A question is empty or unusable."""


class InstructionsError(QuestionError):
    """Instructions (a system message) were given to an answerer that cannot follow them."""

    @classmethod
    def refused_by(cls, answerer: str) -> InstructionsError:
        return cls(
            f"Trình trả lời '{answerer}' không nhận chỉ dẫn (system message): các trình trả lời trích xuất "
            "(reader, sentences) trích nguyên văn tài liệu. Hãy bỏ system message hoặc dùng trình trả lời LLM "
            f"(answerer=openai/llamacpp). / The '{answerer}' answerer takes no instructions (system message): "
            "the extractive answerers (reader, sentences) quote the documents as they are. Drop the system "
            "message or use an LLM answerer (answerer=openai/llamacpp).")


class ConfigError(ViragError):
    """A setting has an invalid value."""
