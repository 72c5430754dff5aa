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


class ConfigError(ViragError):
    """A setting has an invalid value."""
