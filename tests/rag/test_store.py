import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.types import Chunk
from rag.errors import IndexError_
from rag.index.folder import index_lock, read_index, write_index
from rag.index.format import FORMAT_VERSION, Manifest
from rag.index.memory import StoredIndex
from rag.index.vectors import new_vector_index


def _index(n: int = 3) -> StoredIndex:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(n, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    text = "Câu một. Câu hai. Câu ba."
    chunks = [Chunk(source="a.txt", start=0, end=8, text="Câu một.", sentences=((0, 8),)) for _ in range(n)]
    manifest = Manifest(model="m", dimension=8, chunker={}, files={"a.txt": {"sha256": "x", "chunks": n}})
    return StoredIndex(manifest, chunks, new_vector_index(vecs, 8), {"a.txt": text})


def test_round_trip(tmp_path):
    idx = _index()
    write_index(tmp_path, idx)
    back = read_index(tmp_path)
    assert back.chunks == idx.chunks and back.texts == idx.texts
    assert np.allclose(back.vectors_of([0, 1, 2]), idx.vectors_of([0, 1, 2]))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("v-")] == [back.path.name]


def test_missing_index_is_none(tmp_path):
    assert read_index(tmp_path / "nothing") is None


def test_pages_round_trip(tmp_path):
    idx = _index()
    idx.texts["b.pdf"] = "Trang một.\n\nTrang hai."
    idx.pages["b.pdf"] = (0, 12)
    write_index(tmp_path, idx)
    back = read_index(tmp_path)
    assert back.pages == {"b.pdf": (0, 12)} and back.manifest.format_version == FORMAT_VERSION == 7
    assert [back.page_of("b.pdf", o) for o in (0, 11, 12, 20)] == [1, 1, 2, 2]
    assert back.page_of("a.txt", 3) is None and back.page_of("missing.pdf", 0) is None


def test_an_older_format_asks_for_a_rebuild(tmp_path):
    version = write_index(tmp_path, _index())
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 2
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexError_, match=re.escape(f"format version 2, this virag reads {FORMAT_VERSION}; rebuild it with")):
        read_index(tmp_path)


@pytest.mark.parametrize("name", ["store.sqlite", "vectors.faiss", "lexical.exact.unigrams.docs.npy", "dense_stats.npy"])
def test_corruption_is_detected(tmp_path, name):
    version = write_index(tmp_path, _index())
    with (version / name).open("r+b") as fh:
        fh.truncate(10)
    with pytest.raises(IndexError_, match=re.escape(f"{name} is missing or corrupted")):
        read_index(tmp_path)


def test_one_flipped_byte_is_detected(tmp_path):
    version = write_index(tmp_path, _index())
    data = bytearray((version / "store.sqlite").read_bytes())
    data[data.index("một".encode()) + 1] ^= 0x01  # same size, still valid UTF-8: only the checksum can tell
    (version / "store.sqlite").write_bytes(bytes(data))
    with pytest.raises(IndexError_, match=re.escape("store.sqlite is missing or corrupted (checksum mismatch)")):
        read_index(tmp_path)


@pytest.mark.parametrize("damage", ["manifest", "pointer", "missing-file"])
def test_damaged_manifest_or_pointer_is_detected(tmp_path, damage):
    version = write_index(tmp_path, _index())
    if damage == "manifest":
        (version / "manifest.json").write_text('{"model": "m", "dimen', encoding="utf-8")
    elif damage == "pointer":
        (tmp_path / "CURRENT").write_text("v-does-not-exist", encoding="utf-8")
    else:
        (version / "store.sqlite").unlink()
    with pytest.raises(IndexError_, match=r"missing or (unreadable|corrupted)"):
        read_index(tmp_path)


SOURCE_DIRS = ("rag", "embeddings", "evals", "ui")
UNPICKLERS = re.compile(r"\b(import pickle|from pickle|cPickle|_pickle|dill|joblib|shelve|marshal\.loads?|torch\.load"
                        r"|allow_pickle\s*=\s*True|pd\.read_pickle|np\.load\((?![^)]*allow_pickle=False))")


def test_no_code_unpickles():
    root = Path(__file__).resolve().parents[2]
    found = [f"{path.relative_to(root)}:{n}: {line.strip()}"
             for folder in SOURCE_DIRS for path in sorted((root / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if UNPICKLERS.search(line)]
    assert found == []


_UNPICKLING: list[str] = []


def _audit(event: str, args) -> None:
    if event == "pickle.find_class":
        _UNPICKLING.append(f"{args}")


def test_index_loads_with_pickle_disabled(monkeypatch, seed_index_dir, seed_assistant):
    import pickle

    def refuse(*_a, **_k):
        raise AssertionError("the index tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    sys.addaudithook(_audit)  # cannot be removed: it only records
    _UNPICKLING.clear()
    index = read_index(seed_index_dir)
    assert index.vectors.ntotal == len(seed_assistant.index.chunks) and _UNPICKLING == []


def test_failed_write_keeps_previous_version(tmp_path, monkeypatch):
    write_index(tmp_path, _index(3))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_index(tmp_path, _index(5))
    monkeypatch.undo()
    assert read_index(tmp_path).vectors.ntotal == 3


def test_second_writer_gets_a_clear_error(tmp_path):
    with index_lock(tmp_path):
        with pytest.raises(IndexError_, match="being written by another process"):
            with index_lock(tmp_path):
                pass


@pytest.mark.slow
def test_kill_9_during_indexing_leaves_previous_index_loadable(tmp_path, corpus, seed_index_dir, seed_assistant):
    """Start `virag index` on a changed corpus and kill it at several moments; the old index must survive."""
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    before = read_index(index_dir)
    big = corpus / "big.txt"
    big.write_text("\n".join(f"Đoạn văn số {i} nói về hội nghị thi đua của tỉnh thứ {i}." * 3 for i in range(400)),
                   encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for delay in (2.0, 6.0, 9.0):
        proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "index", str(corpus), "--index", str(index_dir)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = read_index(index_dir)  # raises if damaged
        assert after.manifest.files.keys() in (before.manifest.files.keys(), {*before.manifest.files, "big.txt"})
        assert len(after.chunks) == after.vectors.ntotal
