"""SQuAD-v1 JSON (``data → paragraphs → qas``) as a question set, each paragraph one corpus document.

Paragraph ``j`` of the article titled ``title`` becomes the file ``<slug(title)>-<j:03d>.txt``
(``j`` counted from 0, the slug is the title without diacritics, lower-cased, words joined by
``-``). :func:`write_corpus` writes those files; :func:`check_corpus` tells which are missing.
Gold answers become both ``answers`` and ``evidence``; SQuAD-v2 ``is_impossible`` questions
become unanswerable (``match: none``). Problems are reported with the line of the offending
object and its JSON path, e.g. ``dev.json:12: data[0].paragraphs[1].qas[0]: missing field 'question'``.

Example::

    from evals.squad import doc_name, load_squad
    doc_name("Thành phố Hồ Chí Minh", 2)       # 'thanh-pho-ho-chi-minh-002.txt'
    qs = load_squad("dev.json")
    qs.questions[0].docs, len(qs.contexts)
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import logging
import re
from bisect import bisect_left
from pathlib import Path

from rag.vietnamese import fold, nfc

from .questions import (Question, QuestionFileError, QuestionIssue, QuestionSet, read_question_file,
                        record_issue)

logger = logging.getLogger(__name__)


class _Located(dict):
    """A decoded JSON object that remembers the line it starts on."""

    line: int = 0


def parse_with_lines(text: str) -> object:
    """``json.loads`` whose objects are dicts carrying ``.line`` (1-based line of their ``{``)."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    decoder = json.JSONDecoder()

    def parse_object(s_and_end, *args, **kwargs):
        obj, end = json.decoder.JSONObject(s_and_end, *args, **kwargs)
        located = _Located(obj)
        located.line = bisect_left(newlines, s_and_end[1] - 1) + 1
        return located, end

    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


def slug(title: str) -> str:
    """``'Thành phố Hồ Chí Minh'`` → ``'thanh-pho-ho-chi-minh'`` (``'article'`` when nothing is left)."""
    return re.sub(r"[^a-z0-9]+", "-", fold(nfc(title)).lower()).strip("-")[:60].strip("-") or "article"


def doc_name(title: str, paragraph: int) -> str:
    """The corpus file name of paragraph ``paragraph`` (from 0) of the article ``title``."""
    return f"{slug(title)}-{paragraph:03d}.txt"


def _line(obj: object, default: int) -> int:
    return getattr(obj, "line", default)


def _qa(qa: object, where: str, doc: str) -> tuple[Question | None, str | None]:
    if not isinstance(qa, dict):
        return None, f"{where}: expected an object, got {type(qa).__name__}"
    problems = [f"missing field '{k}'" for k in ("id", "question", "answers") if k not in qa]
    for k in ("id", "question"):
        if k in qa and (not isinstance(qa[k], str) or not qa[k].strip()):
            problems.append(f"field '{k}' must be a non-empty string, got {json.dumps(qa[k], ensure_ascii=False)}")
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        problems.append("field 'is_impossible' must be true or false")
    answers: list[str] = []
    if "answers" in qa:
        items = qa["answers"]
        if not isinstance(items, list) or not all(isinstance(a, dict) and isinstance(a.get("text"), str)
                                                  for a in items):
            problems.append("field 'answers' must be a list of objects with a string 'text'")
        else:
            answers = list(dict.fromkeys(a["text"] for a in items if a["text"].strip()))
            if not answers and not impossible:
                problems.append("no answer text (set 'is_impossible': true for an unanswerable question)")
    if problems:
        return None, f"{where}: " + "; ".join(problems)
    if impossible:
        return Question(qa["id"], qa["question"], [], "none", [], [], False), None
    return Question(qa["id"], qa["question"], answers, "any", [doc], list(answers), True), None


def load_squad(path: str | Path, *, strict: bool = False) -> QuestionSet:
    """Read a SQuAD-v1 (or v2) JSON file; ``contexts`` maps each paragraph's file name to its text."""
    path = Path(path)
    try:
        data = parse_with_lines(read_question_file(path).decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        msg = f"{path}: not valid UTF-8 (byte {exc.start + 1})."
        raise QuestionFileError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        raise QuestionFileError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        msg = f"{path}: not a SQuAD file: expected an object with a 'data' list of articles."
        raise QuestionFileError(msg)
    questions: list[Question] = []
    issues: list[QuestionIssue] = []
    contexts: dict[str, str] = {}
    first_line: dict[str, int] = {}
    slugs: dict[str, int] = {}

    def bad(line: int, message: str) -> None:
        record_issue(QuestionIssue(str(path), line, message), issues, strict)

    for i, article in enumerate(data["data"]):
        where = f"data[{i}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            bad(_line(article, _line(data, 1)), f"{where}: expected an object with a 'paragraphs' list")
            continue
        title = article.get("title") if isinstance(article.get("title"), str) else f"article-{i}"
        base = slug(title)
        slugs[base] = slugs.get(base, 0) + 1
        if slugs[base] > 1:  # two articles with the same slug: keep their files apart
            title = f"{base}-{slugs[base]}"
        for j, paragraph in enumerate(article["paragraphs"]):
            pwhere = f"{where}.paragraphs[{j}]"
            pline = _line(paragraph, _line(article, _line(data, 1)))
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
                    or not paragraph["context"].strip() or not isinstance(paragraph.get("qas", []), list):
                bad(pline, f"{pwhere}: expected an object with a non-empty 'context' string and a 'qas' list")
                continue
            name = doc_name(title, j)
            contexts[name] = paragraph["context"]
            for k, qa in enumerate(paragraph.get("qas", [])):
                line = _line(qa, pline)
                q, problem = _qa(qa, f"{pwhere}.qas[{k}]", name)
                if q is not None and q.id in first_line:
                    problem = f"{pwhere}.qas[{k}]: duplicate id '{q.id}' (first on line {first_line[q.id]})"
                if problem:
                    bad(line, problem)
                    continue
                first_line[q.id] = line
                questions.append(Question(**{**q.__dict__, "line": line}))
    return QuestionSet(path, questions, issues, "squad", contexts)


def check_corpus(contexts: dict[str, str], folder: str | Path) -> list[str]:
    """The passage files missing from ``folder`` or holding other text."""
    folder = Path(folder)
    wrong = []
    for name, text in contexts.items():
        f = folder / name
        try:
            same = nfc(f.read_text(encoding="utf-8-sig")) == nfc(text)
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            wrong.append(name)
    return wrong


def write_corpus(contexts: dict[str, str], folder: str | Path) -> int:
    """Write each passage as ``folder/<name>`` (UTF-8, NFC); returns how many files were (re)written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for name in check_corpus(contexts, folder):
        (folder / name).write_text(nfc(contexts[name]), encoding="utf-8")
        written += 1
    logger.info("Wrote %d of %d passages to %s.", written, len(contexts), folder)
    return written
