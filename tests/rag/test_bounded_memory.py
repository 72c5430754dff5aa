"""The streaming indexer in bounded memory: a corpus indexed by a child whose heap is capped well below what
holding the run would take, and the index equals the one written in one BM25 shard, chunk for chunk."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from rag.index.folder import read_index
from tests.conftest import ROOT, SEEDS

CHILD = Path(__file__).with_name("bounded_child.py")
FILES = 6000
CAP_MB = 120  # the streamed run grows ~90 MB here; the whole run (one BM25 shard, one embedding batch) ~190 MB


def _corpus(dest: Path) -> Path:
    paragraphs = [line.strip() for path in sorted(SEEDS.glob("*.txt"))
                  for line in path.read_text(encoding="utf-8").splitlines() if len(line.strip()) > 80]
    dest.mkdir()
    for i in range(FILES):
        a, b = paragraphs[i % len(paragraphs)], paragraphs[(7 * i + 3) % len(paragraphs)]
        (dest / f"vb_{i:05d}.txt").write_text(f"Văn bản số {i}.\n{a}\n{b}\n", encoding="utf-8")
    return dest


def _index(corpus: Path, index: Path, cap_mb: int, shard: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(CHILD), str(corpus), str(index), str(cap_mb), str(shard)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_indexer_streams_within_a_memory_cap_and_writes_the_same_index(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    capped = _index(corpus, tmp_path / "capped", CAP_MB, 500)
    assert capped["cap_enforced"] and capped["chunks"] >= FILES
    assert capped["chunks"] * 25_000 > 1.5 * CAP_MB * 1e6  # the driver before streaming held ~25 KB a chunk
    whole = _index(corpus, tmp_path / "whole", 0, 10**9)
    assert whole["heap_peak_mb"] - whole["heap_before_mb"] > CAP_MB  # held at once, the run would not fit
    a, b = read_index(tmp_path / "capped"), read_index(tmp_path / "whole")
    assert len(a.keywords.segments) > 10 and len(b.keywords.segments) == 1
    assert list(a.chunks) == list(b.chunks) and dict(a.texts) == dict(b.texts)
    assert np.array_equal(a.all_vectors(), b.all_vectors()) and np.allclose(a.dense_stats, b.dense_stats, atol=1e-6)
    for q in ("Cụm thi đua số 2", "hoi nghi thi dua", "Văn bản số 4321"):
        assert np.array_equal(a.keywords.scores(q), b.keywords.scores(q))
