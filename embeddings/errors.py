"""The embedding stage's one deliberate error (``rag.errors`` counts it as a ``ViragError``)."""


class ModelError(Exception):
    """The embedding model cannot be built, verified or loaded."""
