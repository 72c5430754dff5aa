"""Embedding stage: the offline default model and the query/passage encoder."""

from .encoder import Encoder

__all__ = ["Encoder"]
