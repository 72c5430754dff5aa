"""The model's tokenizer, loaded once a process and shared: parsing e5's 250,002 pieces takes about a second
and holds the GIL, and a question once paid it four times (the encoder's, its counter, the reader's two)."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def plain_tokenizer(path: str | Path) -> Tokenizer:
    """``path`` (a ``tokenizer.json``) with no truncation and no padding: the one copy this process shares.
    Never reconfigure it: a Rust tokenizer reconfigured while another thread encodes with it raises
    "Already borrowed" (huggingface/tokenizers#537). Truncate the ids instead (:func:`truncated`)."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        msg = f"No tokenizer at {path} ({exc.strerror}): rebuild the model with `virag model build`."
        raise ModelError(msg) from exc
    with _LOADING:  # two threads asking at once (a server warming the encoder and the reader) parse it once
        return _load(str(path), stat.st_mtime_ns, stat.st_size)


_LOADING = threading.Lock()


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> Tokenizer:  # the file's stamp: a rebuilt model reloads
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        msg = f"{path}: not a tokenizer file tokenizers can read ({exc}); rebuild it with `virag model build`."
        raise ModelError(msg) from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def truncated(ids: list[int], limit: int) -> list[int]:
    """A single text's ids (special tokens included) cut to ``limit`` as the tokenizer's own truncation cuts
    them: the text's first tokens, then the closing special token."""
    return ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:]
