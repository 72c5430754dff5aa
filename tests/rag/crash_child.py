"""Run the ``virag`` command line, stopping at one named moment so a test can ``kill -9`` it there.

    python tests/rag/crash_child.py POINT virag-arguments…

At POINT the process prints ``PAUSED`` and sleeps; the crash tests then send SIGKILL. Points:

* ``embed``: embedding the new chunks (the index lock is held, nothing is written yet);
* ``checksums``: the new version's data files are written in a temporary folder, no manifest yet;
* ``pointer``: the new version folder is complete, ``CURRENT`` still names the old one;
* ``cleanup``: ``CURRENT`` names the new version, old versions are not removed yet;
* ``ask``: ``virag eval`` is answering its questions.

The embedding model is replaced by random unit vectors of its dimension (with the real model's
fingerprint, so an existing index is updated incrementally, not rebuilt): what is tested is
what the process leaves on disk, and loading the model would only make each run slower.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np


def pause(*_args, **_kwargs):
    print("PAUSED", flush=True)
    time.sleep(600)


def main() -> int:
    point, argv = sys.argv[1], sys.argv[2:]
    import embeddings.encoder
    import rag.assistant
    import rag.index.folder
    import rag.index.format
    import rag.index.writer

    class FastEncoder(embeddings.encoder.Encoder):
        dimension = 384
        max_tokens = 512

        def count_tokens(self, text: str) -> int:
            return len(text.split()) * 2

        def prompt_overhead(self, prompt: str) -> int:
            return 4

        def encode_documents(self, texts, *, show_progress=False):
            if point == "embed":
                pause()
            v = np.random.default_rng(0).normal(size=(len(texts), self.dimension)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    embeddings.encoder.Encoder = FastEncoder
    if point == "checksums":
        sha256 = rag.index.format._sha256

        def paused_sha256(path):
            if Path(path).parent.name.startswith(".tmp-"):  # not while checking the old version
                pause()
            return sha256(path)

        rag.index.format._sha256 = paused_sha256
    elif point == "pointer":
        replace = os.replace

        def paused_replace(src, dst, *args, **kwargs):
            if Path(dst).name == "CURRENT":
                pause()
            return replace(src, dst, *args, **kwargs)

        rag.index.folder.os.replace = paused_replace
    elif point == "cleanup":
        rag.index.folder.remove_stale = pause  # a delta appended
        rag.index.writer.remove_stale = pause  # a version written whole
    elif point == "ask":
        rag.assistant.Assistant.ask = pause
    elif point != "embed":
        print(f"unknown point {point!r}", file=sys.stderr)
        return 2
    from ui.cli import main as virag

    return virag(argv)


if __name__ == "__main__":
    sys.exit(main())
