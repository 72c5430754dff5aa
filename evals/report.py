"""Write an eval run: JSON (``--json``), Markdown (``--report``), and compare two JSON runs (``--compare``).

Example::

    from evals.report import compare, markdown_report, summary_table, write_json
    write_json(result, "out.json")
    print(summary_table(result.to_dict()))
    Path("out.md").write_text(markdown_report(result))
    print(compare(json.load(open("a.json")), json.load(open("b.json"))))
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from rag.errors import ViragError

from .runner import ANSWER_KEYS, LATENCY_KEYS, RETRIEVAL_KEYS, EvalResult, QuestionResult, compute_metrics

logger = logging.getLogger(__name__)

SECTIONS = (("retrieval", RETRIEVAL_KEYS), ("answer", ANSWER_KEYS), ("latency_ms", LATENCY_KEYS))
KIND_COLUMNS = (("retrieval", "doc_recall@5"), ("retrieval", "doc_ndcg@10"), ("retrieval", "evidence_recall@5"),
                ("answer", "accuracy"), ("answer", "abstention_recall"), ("answer", "false_abstention_rate"),
                ("answer", "citation_precision"), ("latency_ms", "p50"))
UNLABELLED = "(no kind)"


class ReportError(ViragError):
    """An eval JSON file cannot be read or compared."""


def _fmt(value: object, section: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if section == "latency_ms" or value >= 10 else f"{value:.3f}"
    return str(value)


def _label(section: str, key: str) -> str:
    return f"latency_ms {key}" if section == "latency_ms" else key


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the target, then rename: a run killed mid-write leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(result: EvalResult, path: str | Path) -> Path:
    """Write the ``--json`` layout (UTF-8, indented); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n")
    return path


def summary_table(summary: Mapping) -> str:
    """The metrics of a ``--json`` dict (or :meth:`EvalResult.to_dict`) as a Markdown table."""
    lines = ["| metric | value |", "|---|---:|", f"| n_questions | {summary['n_questions']} |"]
    for section, keys in SECTIONS:
        for key in keys:
            lines.append(f"| {_label(section, key)} | {_fmt(summary[section].get(key), section)} |")
    return "\n".join(lines)


def _by_kind(rows: list[QuestionResult]) -> str:
    groups: dict[str, list[QuestionResult]] = {}
    for r in rows:
        groups.setdefault(r.question.kind or UNLABELLED, []).append(r)
    header = "| kind | n | " + " | ".join(_label(s, k) for s, k in KIND_COLUMNS) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(KIND_COLUMNS)]
    for kind, group in sorted(groups.items(), key=lambda kv: (kv[0] == UNLABELLED, kv[0])):
        m = compute_metrics(group)
        lines.append(f"| {kind} | {len(group)} | " + " | ".join(_fmt(m[s][k], s) for s, k in KIND_COLUMNS) + " |")
    return "\n".join(lines)


def failure_reasons(row: QuestionResult) -> list[str]:
    """Why a row counts as a failure (empty when it does not)."""
    q = row.question
    if not q.answerable:
        return [] if row.abstained else ["answered a question the documents do not answer"]
    reasons = []
    if row.abstained:
        reasons.append("abstained on an answerable question")
    elif not row.correct:
        reasons.append("the answer does not contain the gold answer" + ("s" if q.match == "all" else ""))
    if reasons:
        if all(r is None for r in row.doc_ranks.values()):
            reasons.append(f"no gold document in the top {len(row.passages)} passages")
        elif row.evidence_rank is None:
            reasons.append(f"no passage in the top {len(row.passages)} holds the evidence")
    return reasons


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure(row: QuestionResult, top: int) -> list[str]:
    q = row.question
    gold = " / ".join(q.answers) if q.answers else "(not answerable)"
    lines = [f"### {q.id}: {_one_line(q.question, 200)}", "",
             f"- **why**: {'; '.join(failure_reasons(row))}",
             f"- **gold** ({q.match}): {_one_line(gold)}" + (f" — in {', '.join(q.docs)}" if q.docs else ""),
             f"- **answer**: {_one_line(row.answer)}"]
    ranks = ", ".join(f"{d} → {r if r is not None else 'not retrieved'}" for d, r in row.doc_ranks.items())
    if ranks:
        lines.append(f"- **gold document ranks**: {ranks}; first evidence passage: {row.evidence_rank or '—'}")
    lines.append("- **top passages**:")
    for p in row.passages[:top]:
        mark = " ✓ evidence" if p.evidence_hit else ""
        lines.append(f"  {p.rank}. `{p.source}` ({p.start}–{p.end}, {p.score:.4f}){mark}: {p.snippet}…")
    return [*lines, ""]


def markdown_report(result: EvalResult, *, max_failures: int = 50, top_passages: int = 3) -> str:
    """The ``--report`` Markdown: summary table, per-``kind`` breakdown, invalid lines and failures."""
    c = result.config
    rows = result.per_question
    n_ans = sum(r.question.answerable for r in rows)
    issues = c.get("invalid_lines", [])
    parts = [
        f"# virag eval: `{Path(str(c.get('questions', '?'))).name}`", "",
        f"Corpus `{c.get('corpus', '?')}`, {len(rows)} questions ({n_ans} answerable, {len(rows) - n_ans} not), "
        f"k = {c.get('k')}, model `{c.get('model_fingerprint')}`.",
        f"{len(issues)} invalid line{'s' if len(issues) != 1 else ''} skipped.", "",
        "## Summary", "", summary_table(result.to_dict()), "",
        "Retrieval metrics and accuracy cover answerable questions; ranks are passage ranks, and a "
        "document counts once, at its best rank.", "",
        "## By kind", "", _by_kind(rows), "",
    ]
    if issues:
        parts += ["## Invalid lines", "", *[f"- `{i}`" for i in issues[:50]]]
        if len(issues) > 50:
            parts.append(f"- … {len(issues) - 50} more")
        parts.append("")
    failures = [r for r in rows if failure_reasons(r)]
    parts += [f"## Failures ({len(failures)})", ""]
    if len(failures) > max_failures:
        parts += [f"The first {max_failures} are shown; every row is in the JSON output (`per_question`).", ""]
    for r in failures[:max_failures]:
        parts += _failure(r, top_passages)
    if not failures:
        parts += ["None.", ""]
    return "\n".join(parts)


def write_report(result: EvalResult, path: str | Path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, markdown_report(result, **kwargs))
    return path


def read_json(path: str | Path) -> dict:
    """Read an eval ``--json`` file, checking it has the summary sections."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"Eval result '{path}' not found."
        raise ReportError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"Cannot read eval result '{path}': {exc}."
        raise ReportError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        raise ReportError(msg) from None
    sections = ("n_questions", "retrieval", "answer", "latency_ms")
    missing = [s for s in sections if not isinstance(data, dict) or s not in data]
    if missing:
        msg = f"'{path}' is not a `virag eval --json` file: missing {', '.join(repr(m) for m in missing)}."
        raise ReportError(msg)
    return data


def _delta(a: object, b: object, coarse: bool) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return "—"
    if isinstance(a, int) and isinstance(b, int):
        return f"{b - a:+d}"
    return f"{b - a:+.1f}" if coarse else f"{b - a:+.3f}"


def compare(a: Mapping, b: Mapping, *, names: tuple[str, str] = ("A", "B")) -> str:
    """The metrics of two runs side by side with ``B − A`` deltas, then the config settings that differ."""
    rows = [("n_questions", a.get("n_questions"), b.get("n_questions"), "", False)]
    for section, keys in SECTIONS:
        for key in keys:
            coarse = section == "latency_ms" or key == "median_answer_chars"
            rows.append((_label(section, key), a[section].get(key), b[section].get(key), section, coarse))
    table = [("metric", names[0], names[1], "Δ (B − A)")]
    table += [(label, _fmt(x, s), _fmt(y, s), _delta(x, y, coarse)) for label, x, y, s, coarse in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ca, cb = a.get("config", {}), b.get("config", {})
    differ = [k for k in sorted(set(ca) | set(cb)) if k != "invalid_lines" and ca.get(k) != cb.get(k)]
    if differ:
        lines += ["", "Config differences:"]
        lines += [f"  {k}: {ca.get(k)!r} → {cb.get(k)!r}" for k in differ]
    return "\n".join(lines)
