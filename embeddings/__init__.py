"""Embedding stage: the offline default model and the query/passage encoder. Imports nothing of ``rag``."""

import os

# Bounded OpenMP spin, set before torch loads (see rag/__init__.py for the measurements).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "100000")

__all__ = ["Encoder"]


def __getattr__(name: str):
    if name == "Encoder":  # lazily: ``embeddings.home`` stays importable without numpy
        from .encoder import Encoder

        return Encoder
    msg = f"module 'embeddings' has no attribute {name!r}"
    raise AttributeError(msg)
