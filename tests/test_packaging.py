"""What a user installing virag gets: a typed library, its licence, one version everywhere, and no
plotting library to ask a question."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import rag
from ui.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_one_version_everywhere(capsys):
    assert rag.__version__ == PROJECT["version"], "reinstall (make setup) after changing the version"
    try:
        main(["--version"])
    except SystemExit:
        pass
    assert capsys.readouterr().out.strip() == f"virag {PROJECT['version']}"
    newest = next(line for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
                  if line.startswith("## "))
    assert newest.startswith(f"## {PROJECT['version']} "), "CHANGELOG.md's newest entry is not this version"


def test_typed_and_licensed():
    assert (ROOT / "rag" / "py.typed").is_file() and (ROOT / "embeddings" / "py.typed").is_file()
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "research use only" in (ROOT / "LICENSE").read_text(encoding="utf-8")  # the reader weights' terms
    assert PROJECT["license"] == "MIT" and "matplotlib" not in " ".join(PROJECT["dependencies"])


def test_asking_imports_no_plotting_library(seed_index_dir, seed_assistant):
    """Answering (index, ask, the reader) never loads matplotlib: it is an extra, for `virag eval --plots`."""
    code = (
        "import sys\n"
        "from rag import Assistant\n"
        f"qa = Assistant.from_index({str(seed_index_dir)!r})\n"
        "answer = qa.ask('Cụm thi đua số 2 gồm những tỉnh nào?', answerer='reader')\n"
        "assert answer.citations, answer\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_model_check_states_the_reader_terms(capsys):
    assert main(["model", "check"]) == 0
    out = capsys.readouterr().out
    assert "research use only" in out and "answerer=sentences" in out
