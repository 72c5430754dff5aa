"""Embedding stage: the offline default model and the query/passage encoder."""

from .encoder import Encoder  # imports rag.config, so rag/__init__ sets OMP_WAIT_POLICY first

__all__ = ["Encoder"]
