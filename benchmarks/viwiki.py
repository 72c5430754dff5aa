"""Vietnamese Wikipedia paragraphs as a scale corpus: extract the archive, pick paragraphs, write corpora."""

from __future__ import annotations

import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "bench" / "viwiki.tar.xz"
EXTRACTED = ROOT / "bench_out" / "viwiki"
MIN_CHARS = 100


def extract(archive: Path = ARCHIVE, dest: Path = EXTRACTED) -> Path:
    """The folder of article ``.txt`` files, extracting ``archive`` on first use."""
    folder = dest / "viwiki"
    if not folder.is_dir():
        if not archive.is_file():
            msg = f"Wikipedia archive not found at {archive}."
            raise FileNotFoundError(msg)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    return folder


def paragraphs(folder: Path, limit: int | None = None, min_chars: int = MIN_CHARS) -> list[str]:
    """Body paragraphs (one line each, headings and formula residue dropped) of at least ``min_chars``."""
    out: list[str] = []
    for path in sorted(folder.rglob("*.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = " ".join(line.split())
            if len(line) >= min_chars and not line.startswith("==") and "{\\displaystyle" not in line:
                out.append(line)
                if limit and len(out) >= limit:
                    return out
    return out


def write_corpus(texts: list[str], dest: Path) -> Path:
    """One ``.txt`` file per paragraph (so passages ≈ paragraphs); reused when already complete."""
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / ".complete"
    if marker.is_file() and marker.read_text() == str(len(texts)):
        return dest
    for i, text in enumerate(texts):
        (dest / f"p{i:06d}.txt").write_text(text + "\n", encoding="utf-8")
    marker.write_text(str(len(texts)))
    return dest
