"""Question sets in the project's JSONL (the format of ``../shared/evals/README.md``); ``evals.loading`` reads either format.

Every problem is reported as ``file:line: what is wrong``. By default the bad lines are
skipped and counted; with ``strict=True`` the first one raises :class:`QuestionFileError`.

Example::

    from evals.loading import load_questions
    qs = load_questions("evals/seed_dev.jsonl")
    len(qs.questions), qs.issues          # (30, [])
    qs.questions[0].docs                  # ['001_7d2fc00ee8fcd6c5.txt']
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rag.errors import ViragError

logger = logging.getLogger(__name__)

Match = Literal["any", "all", "none"]
MATCHES = ("any", "all", "none")
REQUIRED = ("id", "question", "answers", "match", "docs", "evidence", "answerable")


class QuestionFileError(ViragError):
    """A question file is missing, unreadable, malformed (in strict mode) or holds no valid question."""


@dataclass(frozen=True)
class Question:
    """One gold question (see the format README for the meaning of each field)."""

    id: str
    question: str
    answers: list[str]
    match: Match
    docs: list[str]
    evidence: list[str]
    answerable: bool
    kind: str | None = None
    line: int = 0  # where it was read, for messages
    section: str | None = None  # legal texts: the unit that answers, 'Điều 35' or 'Điều 35, khoản 1'

    def to_dict(self) -> dict:
        d = {"id": self.id, "question": self.question, "answers": self.answers, "match": self.match,
             "docs": self.docs, "evidence": self.evidence, "answerable": self.answerable}
        if self.kind is not None:
            d["kind"] = self.kind
        if self.section is not None:
            d["section"] = self.section
        return d


@dataclass(frozen=True)
class QuestionIssue:
    """One malformed line (or SQuAD item): ``str()`` gives ``file:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class QuestionSet:
    """The valid questions of a file, the problems found, and (SQuAD only) the passages by file name."""

    path: Path
    questions: list[Question]
    issues: list[QuestionIssue] = field(default_factory=list)
    format: Literal["jsonl", "squad"] = "jsonl"
    contexts: dict[str, str] | None = None

    @property
    def kinds(self) -> list[str]:
        return sorted({q.kind for q in self.questions if q.kind is not None})


def _type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _string_list(value: object, name: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        what = _type_name(value) if not isinstance(value, list) else "a list holding " + ", ".join(
            sorted({_type_name(v) for v in value if not isinstance(v, str)}))
        problems.append(f"field '{name}' must be a list of strings, got {what}")
        return []
    return value


def validate_record(obj: object) -> tuple[Question | None, list[str]]:
    """Check one decoded line against the format; returns the question or the list of problems."""
    if not isinstance(obj, dict):
        return None, [f"expected a JSON object, got {_type_name(obj)}"]
    missing = [k for k in REQUIRED if k not in obj]
    problems = [f"missing field{'s' if len(missing) > 1 else ''} " + ", ".join(f"'{k}'" for k in missing)] \
        if missing else []
    for name in ("id", "question"):
        if name in obj and not isinstance(obj[name], str):
            problems.append(f"field '{name}' must be a string, got {_type_name(obj[name])}")
        elif name in obj and not obj[name].strip():
            problems.append(f"field '{name}' is empty")
    lists = {name: _string_list(obj[name], name, problems) for name in ("answers", "docs", "evidence") if name in obj}
    match = obj.get("match")
    if "match" in obj and match not in MATCHES:
        got = json.dumps(match, ensure_ascii=False)
        problems.append(f"field 'match' must be one of 'any', 'all', 'none', got {got}")
    answerable = obj.get("answerable")
    if "answerable" in obj and not isinstance(answerable, bool):
        problems.append(f"field 'answerable' must be true or false, got {_type_name(answerable)}")
    kind = obj.get("kind")
    if kind is not None and not isinstance(kind, str):
        problems.append(f"field 'kind' must be a string, got {_type_name(kind)}")
    section = obj.get("section")
    if section is not None and not isinstance(section, str):
        problems.append(f"field 'section' must be a string such as 'Điều 35', got {_type_name(section)}")
    if problems:
        return None, problems
    if answerable != (match != "none"):
        problems.append(f"'answerable' is {json.dumps(answerable)} but 'match' is '{match}' "
                        "('answerable' is false exactly when 'match' is 'none')")
    elif answerable:
        for name in ("answers", "docs", "evidence"):
            if not [v for v in lists[name] if v.strip()]:
                problems.append(f"answerable question with empty '{name}'")
    if problems:
        return None, problems
    return Question(obj["id"], obj["question"], lists["answers"], match, lists["docs"], lists["evidence"],
                    answerable, kind, section=section), []


def record_issue(issue: QuestionIssue, issues: list[QuestionIssue], strict: bool) -> None:
    """Keep ``issue`` (or raise it as a :class:`QuestionFileError` when ``strict``)."""
    if strict:
        raise QuestionFileError(str(issue))
    issues.append(issue)


def load_jsonl(path: str | Path, *, strict: bool = False) -> QuestionSet:
    """Read a JSONL question file; each bad line becomes a :class:`QuestionIssue` (or raises, if strict)."""
    path = Path(path)
    raw = read_question_file(path)
    questions: list[Question] = []
    issues: list[QuestionIssue] = []
    first_line: dict[str, int] = {}

    def bad(line: int, message: str) -> None:
        record_issue(QuestionIssue(str(path), line, message), issues, strict)

    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            bad(n, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            bad(n, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        q, problems = validate_record(obj)
        if q is not None and q.id in first_line:
            problems = [f"duplicate id '{q.id}' (first on line {first_line[q.id]})"]
        if problems:
            bad(n, "; ".join(problems))
            continue
        first_line[q.id] = n
        questions.append(Question(**{**q.__dict__, "line": n}))
    return QuestionSet(path, questions, issues, "jsonl")


def read_question_file(path: Path) -> bytes:
    if not path.is_file():
        msg = f"Question file '{path}' not found." if not path.exists() else f"'{path}' is not a file."
        raise QuestionFileError(msg)
    try:
        return path.read_bytes()
    except OSError as exc:
        msg = f"Cannot read question file '{path}': {exc.strerror}."
        raise QuestionFileError(msg) from None


def select(questions: list[Question], *, kind: str | None = None, limit: int | None = None) -> list[Question]:
    """The questions of one ``kind`` (all when None), at most ``limit`` of them, in file order."""
    if kind is not None:
        questions = [q for q in questions if q.kind == kind]
    return questions[:limit] if limit is not None else questions
