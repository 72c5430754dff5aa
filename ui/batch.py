"""``virag ask --questions FILE``: many questions answered in one process, written as JSONL or CSV.

The questions come one a line, or as JSONL or CSV with a ``question`` field (``-``: standard input).
Nothing needs gold answers: that is ``virag eval``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from rag.errors import QuestionError

CSV_FIELDS = ("question", "answer", "abstained", "confidence", "answerer", "short_answer", "citations")


def read_questions(name: str) -> list[str]:
    """The questions of ``name`` (a path, or ``-`` for standard input): JSONL or CSV by their ``question``
    field, anything else one question a non-blank line (standard input: JSONL when it opens with ``{``). :class:`QuestionError` names the file and line."""
    if name == "-":  # standard input has no suffix: JSONL when it opens with an object, else lines
        text = sys.stdin.read()
        suffix = ".jsonl" if text.lstrip().startswith("{") else ""
    else:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"{name}: cannot read the questions ({exc})."
            raise QuestionError(msg) from None
        suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and "question" not in rows[0]:
            msg = f"{name}: a CSV of questions needs a 'question' column (found: {', '.join(rows[0])})."
            raise QuestionError(msg)
        questions = [(i + 2, r.get("question") or "") for i, r in enumerate(rows)]
    elif suffix == ".jsonl":
        questions = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                msg = f"{name}, line {i}: not JSON ({exc.msg})."
                raise QuestionError(msg) from None
            if not isinstance(row, dict) or not isinstance(row.get("question"), str):
                msg = f"{name}, line {i}: needs a 'question' field holding text."
                raise QuestionError(msg)
            questions.append((i, row["question"]))
    else:
        questions = list(enumerate(text.splitlines(), start=1))
    found = [q.strip() for _, q in questions if q.strip()]
    if not found:
        msg = f"{name}: no question found (one a line, or JSONL/CSV with a 'question' field)."
        raise QuestionError(msg)
    return found


def row(answer) -> dict:
    """One answer as a flat record: the question, the answer with its [n], and where each [n] points."""
    d = answer.to_dict()
    return {"question": d["question"], "answer": d["answer"], "abstained": d["abstained"],
            "confidence": d["confidence"], "answerer": d["answerer"],
            "short_answer": (d["short_answer"] or {}).get("text"),
            "citations": [{k: c[k] for k in ("n", "source", "start", "end", "page", "section", "quote")}
                          for c in d["citations"]]}


def answer_file(qa, questions: str, output: str | None, *, quiet: bool = False) -> int:
    """Answer every question of ``questions`` with ``qa`` and write one record each to ``output`` (.jsonl or
    .csv; None: JSONL on standard output). Returns the exit status."""
    from tqdm import tqdm

    asked = read_questions(questions)
    as_csv = bool(output) and output.lower().endswith(".csv")
    if output and not as_csv and not output.lower().endswith((".jsonl", ".json")):
        msg = f"--output {output}: give a .jsonl or .csv file."
        raise QuestionError(msg)
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    try:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS) if as_csv else None
        if writer:
            writer.writeheader()
        for question in tqdm(asked, desc="ask", unit="q", disable=quiet, file=sys.stderr, dynamic_ncols=True):
            record = row(qa.ask(question))
            if writer:
                writer.writerow({**record, "citations": "; ".join(
                    f"[{c['n']}] {c['source']} ({c['start']}–{c['end']})" for c in record["citations"])})
            else:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
    finally:
        if output:
            out.close()
    if output and not quiet:
        print(f"Wrote {len(asked)} answers to {output}", file=sys.stderr)
    return 0
