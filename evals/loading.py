"""Read a question set in either format: the project's JSONL (``evals.questions``) or SQuAD-v1 JSON (``evals.squad``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .questions import QuestionFileError, QuestionSet, load_jsonl, read_question_file
from .squad import load_squad

logger = logging.getLogger(__name__)


def _looks_like_squad(path: Path, raw: bytes) -> bool:
    """A single JSON document with a ``data`` key (or any single document in a ``.json`` file) is SQuAD."""
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return False
    except json.JSONDecodeError as exc:
        return path.suffix.lower() == ".json" and exc.msg != "Extra data"
    return isinstance(obj, dict) and ("data" in obj or path.suffix.lower() == ".json")


def load_questions(path: str | Path, *, strict: bool = False) -> QuestionSet:
    """Read a question file: SQuAD-v1 JSON (``.json``, or a single ``{"data": …}`` document) or JSONL.

    Raises:
        QuestionFileError: the file is missing or unreadable, a line is bad and ``strict`` is set,
            or no valid question is left.
    """
    path = Path(path)
    if _looks_like_squad(path, read_question_file(path)):
        qs = load_squad(path, strict=strict)
    else:
        qs = load_jsonl(path, strict=strict)
    if not qs.questions:
        n = len(qs.issues)
        msg = f"No valid question in '{path}'" + (f" ({n} invalid {'entry' if n == 1 else 'entries'}):" if n else ".")
        msg += "".join(f"\n  {issue}" for issue in qs.issues[:20]) + (f"\n  … and {n - 20} more" if n > 20 else "")
        raise QuestionFileError(msg)
    logger.info("Read %d questions from %s (%d invalid).", len(qs.questions), path, len(qs.issues))
    return qs
