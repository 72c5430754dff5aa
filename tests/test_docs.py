"""The documentation holds together: a short README that opens with the two commands, relative links
(and their #anchors) that resolve, and every page of docs/ reachable from the README.

Plain text processing only: no import of virag, no model, well under a second.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 15_000

# Pages another engineer generates, which may not exist yet when a link to them is written. An entry
# is honoured only while its file is missing: once it exists, links to it are checked like any other.
#   docs/configuration.md: every setting, generated from the code (issue 26).
ALLOWED_MISSING = {"docs/configuration.md"}

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
# [text](target) or ![alt](target), with an optional "title"; the text may hold `code` but no ']'.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), *sorted((ROOT / "evals").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def links(path: Path) -> list[str]:
    """Every link target in the file's prose (not in code blocks or `code spans`), paragraph by
    paragraph, so that a link or a code span may wrap across lines."""
    found = []
    for paragraph in "\n".join(prose_lines(path.read_text(encoding="utf-8"))).split("\n\n"):
        found += LINK.findall(INLINE_CODE.sub("", paragraph))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower-case, punctuation but '-' and '_' dropped,
    spaces turned into '-'. Letters of any script (Vietnamese included) stay."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = unicodedata.normalize("NFC", text).strip().lower()
    text = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LNM")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the file's headings (a repeated one gets -1, -2, …)."""
    seen: dict[str, int] = {}
    result = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)  # http:, https:, mailto:, …


def allowed_missing(file: Path) -> bool:
    rel = file.resolve().relative_to(ROOT).as_posix() if file.resolve().is_relative_to(ROOT) else None
    return rel in ALLOWED_MISSING and not file.exists()


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in links(path):
        if not relative(target):
            continue
        file_part, _, anchor = target.partition("#")
        file = (path.parent / file_part).resolve() if file_part else path
        if allowed_missing(file):
            continue
        if not file.exists():
            problems.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            problems.append(f"{target}: no heading with the anchor #{anchor} in {file.name}")
    return problems


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes; at most {README_MAX_BYTES:,} (move detail to docs/)"


def test_readme_opens_with_the_two_commands():
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines[0].startswith("# "):  # the title
        lines = lines[1:]
    assert lines[0].startswith("```"), lines[0]
    assert lines[1].startswith("make chat "), lines[1]
    assert lines[2].startswith("make test "), lines[2]
    assert lines[3].strip() == "```", lines[3]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in links(README)
        if relative(target) and target.partition("#")[0]
    }
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert unlinked == [], f"docs pages the README does not link: {unlinked}"


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The helpers see a broken link, a wrong anchor, links inside code, and GitHub's slugs."""
    (tmp_path / "other.md").write_text("# Điều 35: Quyền (`x = 1`)\n## Dup\n## Dup\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#điều-35-quyền-x--1) [dup](other.md#dup-1) [web](https://example.com/x)\n"
        "[missing](nowhere.md) [bad anchor](other.md#no-such-heading) [self](#nothing)\n"
        "`[code](not-checked.md)`\n```\n[fenced](not-checked-either.md)\n```\n",
        encoding="utf-8",
    )
    assert sorted(broken_links(page)) == [
        "#nothing: no heading with the anchor #nothing in page.md",
        "nowhere.md: no such file",
        "other.md#no-such-heading: no heading with the anchor #no-such-heading in other.md",
    ]
