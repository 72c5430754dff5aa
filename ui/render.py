"""Pure rendering: answers, sources and documents as HTML, every piece of document text escaped.

Nothing here imports Gradio, so rendering is tested without a server or a browser.
Citations become links ``<a class="virag-cite" href="#t{turn}-c{n}">[n]</a>``; a small
script in :mod:`ui.app` turns a click on one into a request for the source document,
which :func:`document_html` renders with the cited span in ``<mark class="virag-mark">``.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Mapping, Sequence

MARK_ID = "virag-mark"
ABSTAIN_NOTICE = "Không tìm thấy câu trả lời trong tài liệu."
CLOSEST_TITLE = "Các đoạn gần nhất"
SOURCES_TITLE = "Nguồn trích dẫn"
SNIPPET_CHARS = 220
SEARCHED = "Đã tìm"
# The confidence at or above which an answer reads "chắc chắn", per answerer: on ViQuAD dev, the
# answers above it were right 84% (reader) and 83% (sentences) of the time, those below 60% and 70%
# (evals/RESULTS.md, "Confidence in the chat"); the combined answer's confidence is its chance of being
# right, and on the training folds its answers above 0.8 were right 92% of the time (evals/fit_answer.py,
# "right_above").
SURE = {"reader": 0.99, "sentences": 0.95, "combined": 0.8}
SURE_DEFAULT = 0.95
SURE_LABEL, CHECK_LABEL = "Chắc chắn", "Cần kiểm tra nguồn"

_MARKER = re.compile(r"\[(\d+)\]")
# Characters that Gradio's HTML templates could read as template syntax, and the CR that an
# HTML parser would fold into LF: written as character references so the DOM text is exact.
_EXTRA = {"{": "&#123;", "}": "&#125;", "$": "&#36;", "\r": "&#13;", "`": "&#96;"}
_EXTRA_RE = re.compile("[{}$\r`]")
_KEY = re.compile(r"^t(\d{1,6})-([cp])(\d{1,4})$")


def esc(text: str) -> str:
    """Escape ``text`` for HTML (quotes included); the browser shows exactly ``text``."""
    return _EXTRA_RE.sub(lambda m: _EXTRA[m.group(0)], html.escape(text, quote=True))


def cite_key(turn: int, kind: str, n: int) -> str:
    """The link target of citation ``n`` (kind ``c``) or passage rank ``n`` (kind ``p``) of a turn."""
    return f"t{turn}-{kind}{n}"


def parse_key(key: str) -> tuple[int, str, int] | None:
    """``"t3-c1"`` → ``(3, "c", 1)``; anything else → ``None``."""
    m = _KEY.match((key or "").strip().lstrip("#"))
    return (int(m.group(1)), m.group(2), int(m.group(3))) if m else None


def _link(key: str, label: str, title: str = "") -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<a class="virag-cite" href="#{key}"{tip}>{esc(label)}</a>'


# the reader's span in bold: leading the reader's form, or inside the quoted sentence of the combined answer
_SHORT = re.compile(r"\*\*(.+?)\*\*")


def linkify(text: str, turn: int, known: Iterable[int]) -> str:
    """Escape ``text`` and turn each ``[n]`` marker of a known citation into a link."""
    known = set(known)
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in known:
            continue
        out.append(esc(text[pos : m.start()]))
        out.append(_link(cite_key(turn, "c", n), m.group(0), f"Xem nguồn [{n}]"))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answer_html(answer: Mapping, turn: int, *, partial_text: str | None = None) -> str:
    """The assistant's chat message for ``answer`` (an ``Answer.to_dict()``).

    With ``partial_text`` the message is still streaming: only that prefix is shown.
    An abstention is a notice, followed by links to the closest passages.
    """
    if answer.get("abstained"):
        if partial_text is not None:
            return f'<div class="virag-abstain">{esc(partial_text)}</div>'
        links = " ".join(
            _link(cite_key(turn, "p", p["rank"]), "#%d %s" % (p["rank"], p["source"]), _snippet(p["text"], 120))
            for p in answer.get("passages", [])[:3]
        )
        closest = f'<div class="virag-closest">{CLOSEST_TITLE}: {links}</div>' if links else ""
        return (
            f'<div class="virag-abstain"><strong>{esc(ABSTAIN_NOTICE)}</strong> '
            f'{esc(answer.get("answer", ""))}{closest}</div>'
        )
    text = answer.get("answer", "") if partial_text is None else partial_text
    cls = "virag-answer virag-streaming" if partial_text is not None else "virag-answer"
    html = linkify(text, turn, (c["n"] for c in answer.get("citations", [])))
    html = _SHORT.sub(r'<strong class="virag-short">\1</strong>', html, count=1)
    return f'<div class="{cls}">{html}</div>' + ("" if partial_text is not None else meta_html(answer))


def is_sure(answer: Mapping) -> bool:
    return float(answer.get("confidence") or 0.0) >= SURE.get(answer.get("answerer") or "", SURE_DEFAULT)


def confidence_label(answer: Mapping) -> str:
    """What the answer's confidence means to a reader of it."""
    return SURE_LABEL if is_sure(answer) else CHECK_LABEL


def meta_html(answer: Mapping) -> str:
    """The small line under an answer: how sure it is, and what was searched when a follow-up was completed."""
    parts = []
    if not answer.get("abstained") and answer.get("citations"):
        sure = is_sure(answer)
        parts.append(f'<span class="virag-confidence {"virag-sure" if sure else "virag-check"}" '
                     f'title="{esc("độ tin cậy %.2f" % float(answer.get("confidence") or 0.0))}">'
                     f"{esc(confidence_label(answer))}</span>")
    searched = answer.get("search_query")
    if searched and " ".join(searched.split()) != " ".join((answer.get("question") or "").split()):
        parts.append(f'<span class="virag-searched">{esc(SEARCHED)}: {esc(searched)}</span>')
    return f'<div class="virag-meta">{" · ".join(parts)}</div>' if parts else ""


def _quote_html(citation: Mapping, short: Mapping | None) -> str:
    """A cited quote with the short answer marked inside it (when it lies there)."""
    quote = citation["quote"]
    if short and short.get("source") == citation["source"] and \
            citation["start"] <= short["start"] < short["end"] <= citation["start"] + len(quote):
        a, b = short["start"] - citation["start"], short["end"] - citation["start"]
        return (f'{esc(" ".join(quote[:a].split()))} <mark class="virag-short-mark">'
                f'{esc(" ".join(quote[a:b].split()))}</mark> {esc(" ".join(quote[b:].split()))}').strip()
    return esc(_snippet(quote))


def location(citation: Mapping) -> str:
    """'Điều 35, khoản 2 — Bộ luật Lao động 2019' for a citation into a legal text, else ''."""
    return " — ".join(x for x in (citation.get("section"), citation.get("document")) if x)


def sources_html(answer: Mapping | None, turn: int) -> str:
    """The sources panel: the cited passages, or the closest passages of an abstention."""
    if not answer:
        return f'<div class="virag-sources virag-empty">{esc("Các nguồn trích dẫn sẽ hiện ở đây.")}</div>'
    items = []
    if answer.get("citations"):
        title = SOURCES_TITLE
        for c in answer["citations"]:
            page = f" (tr. {c['page']})" if c.get("page") else ""
            where = location(c)
            name = f"{where} · {c['source']}" if where else c["source"]
            items.append(
                f'<li>{_link(cite_key(turn, "c", c["n"]), "[%d] %s%s" % (c["n"], name, page))}'
                f'<div class="virag-snippet">{_quote_html(c, answer.get("short_answer"))}</div></li>'
            )
    else:
        title = CLOSEST_TITLE
        for p in answer.get("passages", []):
            items.append(
                f'<li>{_link(cite_key(turn, "p", p["rank"]), "#%d %s" % (p["rank"], p["source"]))}'
                f'<div class="virag-snippet">{esc(_snippet(p["text"]))}</div></li>'
            )
    body = "".join(items) or f"<li>{esc('Không có đoạn nào.')}</li>"
    return f'<div class="virag-sources"><h4>{esc(title)}</h4><ol>{body}</ol></div>'


def document_html(source: str, text: str, start: int, end: int, *, note: str = "", key: str = "") -> str:
    """The full document with ``text[start:end]`` in ``<mark id="virag-mark">``, all escaped; ``key`` names
    the citation shown (:func:`cite_key`), so a click on it again only scrolls to the mark."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    header = f'<div class="virag-doc-title">{esc(source)}</div>'
    if note:
        header += f'<div class="virag-doc-note">{esc(note)}</div>'
    body = (
        f"{esc(text[:start])}<mark id=\"{MARK_ID}\" class=\"virag-mark\">{esc(text[start:end])}</mark>"
        f"{esc(text[end:])}"
    )
    shown = f' data-key="{esc(key)}"' if key else ""
    return f'<div class="virag-doc"{shown}>{header}<div class="virag-doc-body">{body}</div></div>'


def placeholder_html(message: str) -> str:
    """A muted one-line message (empty viewer, errors)."""
    return f'<div class="virag-doc virag-empty">{esc(message)}</div>'


def documents_table_html(files: Sequence, skipped: Sequence = ()) -> str:
    """The documents tab: one row per indexed file (chunks, pages, encoding, when it was indexed; an
    :class:`~rag.index.catalogue.IndexedFile` each), then the skipped files with the reason."""
    def when(t: float | None) -> str:
        return time.strftime("%d/%m/%Y %H:%M", time.localtime(t)) if t else "—"

    rows = "".join(
        f'<tr data-source="{esc(f.source)}"><td>{esc(f.source)}</td><td>{f.chunks}</td><td>{f.pages or "—"}</td>'
        f"<td>{esc(f.encoding or '—')}</td><td>{esc(when(f.indexed))}</td></tr>"
        for f in sorted(files, key=lambda f: f.source)
    )
    head = "".join(f"<th>{esc(h)}</th>" for h in ("Tệp", "Số đoạn", "Số trang", "Mã hoá", "Lập chỉ mục lúc"))
    table = f'<table class="virag-files"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    if skipped:
        items = "".join(f'<li><b>{esc(s.source)}</b>: {esc(s.reason)}</li>' for s in skipped)
        table += f'<div class="virag-skipped"><h4>{esc("Tệp bị bỏ qua")}</h4><ul>{items}</ul></div>'
    return table


def conversation_markdown(turns: Sequence[Mapping], *, title: str = "virag — hội thoại") -> str:
    """A conversation as Markdown: each question, its answer with its ``[n]``, and its sources
    (file, page or characters, quote)."""
    lines = [f"# {title}", "", f"_{time.strftime('%d/%m/%Y %H:%M')}_", ""]
    for i, t in enumerate(turns, 1):
        lines += [f"## {i}. {t.get('question', '')}", ""]
        searched = t.get("search_query")
        if searched and searched != t.get("question"):
            lines += [f"_{SEARCHED}: {searched}_", ""]
        if t.get("abstained"):
            lines += [f"**{ABSTAIN_NOTICE}** {t.get('answer', '')}".rstrip(), ""]
        else:
            lines += [t.get("answer", ""), ""]
        if t.get("citations"):
            lines += [f"**{SOURCES_TITLE}**", ""]
            for c in t["citations"]:
                where = f"tr. {c['page']}, " if c.get("page") else ""
                quote = " ".join(c["quote"].split())
                article = f"{location(c)}, " if location(c) else ""
                lines.append(f"[{c['n']}] {article}`{c['source']}` ({where}ký tự {c['start']}–{c['end']}): “{quote}”")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def upload_report_html(added: Sequence[str], rejected: Sequence[tuple[str, str]], summary: str = "") -> str:
    """What an upload did: files added, files rejected with the reason, the index summary."""
    parts = []
    if added:
        names = ", ".join(esc(a) for a in added)
        parts.append(f'<div class="virag-ok">{esc("Đã thêm và lập chỉ mục:")} {names}</div>')
    for name, reason in rejected:
        parts.append(f'<div class="virag-error">{esc("Từ chối")} {esc(name)}: {esc(reason)}</div>')
    if summary:
        parts.append(f'<div class="virag-summary">{esc(summary)}</div>')
    return "".join(parts) or f'<div class="virag-empty">{esc("Chưa có tệp nào được chọn.")}</div>'
