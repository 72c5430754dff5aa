"""kill -9 at exact moments of `virag index` and `virag eval`, and two processes indexing one folder.

Each run is a real process of the real command line (``tests/rag/crash_child.py`` stops it at a
named moment). After the kill, the index must load and answer from its last complete version,
and the next ordinary run must finish the work and leave no debris.
"""

import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant
from rag.index.indexer import Indexer
from rag.index.folder import index_lock, read_index
from tests.conftest import DATA, SEED_DEV

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
QUESTION = "Cụm thi đua số 2 gồm những tỉnh nào?"  # answered by 004_…, which the updates leave alone
NEW_DOC = "Bài mới về lễ hội hoa ở Đà Lạt: năm 2024 lễ hội kéo dài 10 ngày với 50 hoạt động.\n"


def start(point: str, *argv, timeout: float = 120) -> subprocess.Popen:
    """Start the CLI in a child process and return once it is paused at ``point``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(CHILD), point, *map(str, argv)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if line.strip() == "PAUSED":
            return proc
        seen.append(line)
        if not line:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the child never reached {point!r}:\n{''.join(seen)}\n{err[-3000:]}")


def kill_9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def assert_answers(index, settings, encoder) -> None:
    assert len(index.chunks) == index.vectors.ntotal
    answer = Assistant(index, settings=settings, encoder=encoder).ask(QUESTION)
    assert not answer.abstained and answer.citations
    for c in answer.citations:
        assert index.texts[c.source][c.start : c.end] == c.quote


def leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(("v-", ".tmp-")))


@pytest.fixture
def update(tmp_path, corpus, seed_index_dir, seed_assistant):
    """A copy of the seed index, and the seed corpus with one file changed and one added."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    changed = corpus / "000_235558df8fbeb811.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nĐoạn bổ sung về hội nghị.\n", encoding="utf-8")
    (corpus / "bài mới.txt").write_text(NEW_DOC, encoding="utf-8")
    return corpus, index_dir, read_index(index_dir).manifest.files


# what a kill at each point leaves beside the current version: a temporary folder, a finished version
DEBRIS = {"embed": [], "checksums": [".tm"], "pointer": ["v-1"], "cleanup": ["v-1"]}


@pytest.mark.parametrize("point", list(DEBRIS))
def test_kill_9_during_an_incremental_update(update, settings, encoder, point):
    corpus, index_dir, before = update
    kill_9(start(point, "index", corpus, "--index", index_dir))
    after = read_index(index_dir)  # raises if damaged
    debris = [name[:3] for name in leftovers(index_dir) if name != after.path.name]
    assert debris == DEBRIS[point]  # the kill did land in the middle of that step
    if point == "cleanup":  # killed after the commit point: the new version is complete and current
        assert set(after.manifest.files) == {*before, "bài mới.txt"}
    else:
        assert after.manifest.files == before
    assert_answers(after, settings, encoder)

    report = Indexer(settings, encoder).run(corpus, index_dir)  # the next ordinary run finishes the work
    assert set(report.index.manifest.files) == {*before, "bài mới.txt"}
    if point == "cleanup":  # nothing left to write: the old version stays on disk until the next write
        assert not report.wrote and len(leftovers(index_dir)) == 2
    else:
        assert leftovers(index_dir) == [report.index.path.name]
    assert_answers(read_index(index_dir), settings, encoder)


@pytest.mark.parametrize("point", ["checksums", "pointer"])
def test_kill_9_during_a_first_build_leaves_no_half_index(tmp_path, settings, encoder, point):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(DATA / "vi_utf8.txt", corpus / "thư viện.txt")
    kill_9(start(point, "index", corpus, "--index", index_dir))
    assert read_index(index_dir) is None  # nothing committed: no index, rather than half of one
    report = Indexer(settings, encoder).run(corpus, index_dir)
    assert report.index.manifest.files.keys() == {"thư viện.txt"} and leftovers(index_dir) == [report.index.path.name]


@pytest.mark.parametrize("point", ["embed", "ask"])
def test_kill_9_during_eval(update, tmp_path, settings, encoder, point):
    """`virag eval` first brings the index up to date, then asks: killed in either step, the index survives."""
    corpus, index_dir, before = update
    out = tmp_path / "eval.json"
    kill_9(start(point, "eval", SEED_DEV, "--corpus", corpus, "--index", index_dir, "--quiet", "--json", out))
    after = read_index(index_dir)
    expected = before.keys() if point == "embed" else {*before, "bài mới.txt"}
    assert after.manifest.files.keys() == expected
    assert_answers(after, settings, encoder)
    assert not out.exists()  # no half-written report


def test_second_process_indexing_the_same_folder_gets_a_clear_message(update, settings, encoder):
    corpus, index_dir, before = update
    first = start("embed", "index", corpus, "--index", index_dir)  # holds the lock while it embeds
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        second = subprocess.run([sys.executable, "-m", "ui.cli", "index", str(corpus), "--index", str(index_dir)],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        kill_9(first)
    assert second.returncode == 1
    assert second.stderr == (f"Error: Index {index_dir} is being written by another process; "
                             "try again when it finishes.\n")
    with index_lock(index_dir):  # the kernel released the dead writer's lock
        pass
    assert read_index(index_dir).manifest.files == before


@pytest.mark.parametrize("point", ["checksums", "pointer"])
def test_kill_9_during_removal_leaves_the_previous_index(tmp_path, corpus, seed_index_dir, seed_assistant, settings,
                                                         encoder, point):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    before = read_index(index_dir).manifest.files
    gone = "000_235558df8fbeb811.txt"
    kill_9(start(point, "remove", gone, "--corpus", corpus, "--index", index_dir))
    after = read_index(index_dir)  # raises if damaged
    assert after.manifest.files == before and not (corpus / gone).exists()
    assert_answers(after, settings, encoder)
    report = Indexer(settings, encoder).run(corpus, index_dir)  # the next ordinary run drops the file
    assert report.removed == [gone] and gone not in read_index(index_dir).manifest.files
