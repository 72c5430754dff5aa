"""Rendering without a browser: escaping, citation links, the highlighted span."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from ui import render

DOC = "Tiêu đề <b>đậm</b>\r\nCâu một có {{value}} và ${value}. Câu hai: Hà Tĩnh & Nghệ An.\nHết."


class _Text(HTMLParser):
    """Collects the text a browser would show, and the text inside <mark>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.mark, self.in_mark, self.tags = [], [], False, []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.in_mark = self.in_mark or tag == "mark"

    def handle_endtag(self, tag):
        if tag == "mark":
            self.in_mark = False

    def handle_data(self, data):
        self.text.append(data)
        if self.in_mark:
            self.mark.append(data)


def parse(markup: str) -> _Text:
    p = _Text()
    p.feed(markup)
    return p


def test_esc_leaves_no_markup_and_round_trips():
    raw = '<script>alert("x")</script> {{a}} ${b} `c` \r'
    out = render.esc(raw)
    assert "<" not in out and ">" not in out and "{" not in out and "$" not in out and "\r" not in out
    assert html.unescape(out) == raw


def test_document_mark_equals_the_quote_exactly():
    start = DOC.index("Câu một")
    end = DOC.index("Nghệ An.") + len("Nghệ An.")
    out = render.document_html("a<b>.txt", DOC, start, end, note="Trích dẫn [1]")
    p = parse(out)
    assert "".join(p.mark) == DOC[start:end]
    assert "".join(p.text).endswith(DOC)  # title and note first, then the whole document verbatim
    assert [t for t, _ in p.tags if t in ("b", "script")] == []
    assert ("mark", {"id": render.MARK_ID, "class": "virag-mark"}) in p.tags


def test_linkify_turns_only_known_markers_into_links():
    out = render.linkify("Hà Tĩnh [1], xem [2] và [9] <i>x</i>", turn=3, known=[1, 2])
    assert out.count('class="virag-cite"') == 2
    assert re.search(r'href="#t3-c1"[^>]*>\[1\]</a>', out) and re.search(r'href="#t3-c2"[^>]*>\[2\]</a>', out)
    assert "[9]" in out and "&lt;i&gt;" in out


def test_answer_html_for_an_answer_and_an_abstention():
    answer = {"answer": "Gồm Hà Tĩnh. [1]", "abstained": False,
              "citations": [{"n": 1, "source": "004.txt", "start": 0, "end": 5, "quote": "Gồm"}], "passages": []}
    out = render.answer_html(answer, 0)
    assert 'class="virag-answer"' in out and 'href="#t0-c1"' in out
    streaming = render.answer_html(answer, 0, partial_text="Gồm Hà")
    assert "virag-streaming" in streaming and "[1]" not in streaming

    abstained = {"answer": "Tài liệu không có thông tin.", "abstained": True, "citations": [],
                 "passages": [{"rank": 1, "source": "<x>.txt", "start": 0, "end": 9, "text": "đoạn <gần>"}]}
    out = render.answer_html(abstained, 2)
    assert 'class="virag-abstain"' in out and render.ABSTAIN_NOTICE in out
    assert 'href="#t2-p1"' in out and "&lt;x&gt;.txt" in out and "<x>" not in out


def test_sources_panel_lists_citations_or_closest_passages():
    cited = {"citations": [{"n": 1, "source": "a.txt", "start": 0, "end": 3, "quote": "<q> " * 100}],
             "passages": []}
    out = render.sources_html(cited, 1)
    assert render.SOURCES_TITLE in out and 'href="#t1-c1"' in out and "<q>" not in out
    snippet = html.unescape(re.search(r'virag-snippet">(.*?)</div>', out).group(1))
    assert len(snippet) == render.SNIPPET_CHARS and snippet.endswith("…")  # a snippet, not the whole quote
    closest = render.sources_html({"citations": [], "passages": [{"rank": 2, "source": "b.txt", "text": "t"}]}, 0)
    assert render.CLOSEST_TITLE in closest and 'href="#t0-p2"' in closest


def test_parse_key_accepts_only_our_keys():
    assert render.parse_key("t3-c1") == (3, "c", 1)
    assert render.parse_key("#t0-p12") == (0, "p", 12)
    for bad in ("", "t1-x1", "t-c1", "t1-c1; drop", "../etc", None):
        assert render.parse_key(bad) is None



def test_upload_report_escapes_names_and_reasons():
    out = render.upload_report_html(["a.txt"], [("<img src=x>.pdf", "định dạng '.pdf' không được hỗ trợ")], "1 added")
    assert "<img" not in out and "&lt;img" in out and "virag-error" in out and "virag-ok" in out


def test_the_short_answer_leads_in_bold_and_stays_escaped():
    answer = {"answer": "**<b>14</b> tỉnh** — gồm 14 tỉnh: Lạng Sơn [1]", "citations": [{"n": 1}]}
    html = render.answer_html(answer, 0)
    assert html.startswith('<div class="virag-answer"><strong class="virag-short">&lt;b&gt;14&lt;/b&gt; tỉnh</strong> — ')
    assert "**" not in html and 'href="#t0-c1"' in html


def test_the_short_answer_is_bold_inside_a_quoted_sentence_too():
    """The combined answer bolds the reader's span inside the scorer's sentence: no asterisks shown."""
    answer = {"answer": "Cụm thi đua số 2 gồm: **Lạng Sơn, Hà Tĩnh**. [1]", "citations": [{"n": 1}]}
    html = render.answer_html(answer, 0)
    assert 'gồm: <strong class="virag-short">Lạng Sơn, Hà Tĩnh</strong>. <a class="virag-cite"' in html
    assert "**" not in html


def test_confidence_and_what_was_searched_under_the_answer():
    base = {"answer": "Gồm Hà Tĩnh. [1]", "abstained": False, "question": "Còn cụm số III thì sao?",
            "citations": [{"n": 1, "source": "a.txt", "start": 0, "end": 3, "quote": "Gồm"}]}
    sure = render.answer_html({**base, "confidence": 0.97, "answerer": "sentences",
                               "search_query": "Cụm số III gồm những tỉnh nào?"}, 0)
    assert render.SURE_LABEL in sure and "virag-sure" in sure
    assert re.search(r'virag-searched">Đã tìm: Cụm số III gồm những tỉnh nào\?<', sure)
    unsure = render.answer_html({**base, "confidence": 0.97, "answerer": "reader", "search_query": base["question"]}, 0)
    assert render.CHECK_LABEL in unsure and "virag-searched" not in unsure  # searched as typed: not repeated
    assert "virag-meta" not in render.answer_html(base, 0, partial_text="Gồm")  # nothing while streaming


def test_sources_mark_the_short_answer_inside_its_quote():
    quote = "Cụm thi đua số 2 gồm 14 tỉnh: <Lạng Sơn>, Quảng Ninh."
    at = quote.index("14 tỉnh")
    answer = {"citations": [{"n": 1, "source": "a.txt", "start": 100, "end": 100 + len(quote), "quote": quote,
                             "page": 3}],
              "short_answer": {"text": "14 tỉnh", "source": "a.txt", "start": 100 + at, "end": 107 + at}}
    out = render.sources_html(answer, 0)
    p = parse(out)
    assert "".join(p.mark) == "14 tỉnh" and "<Lạng" not in out and "(tr. 3)" in out
    other = {**answer, "short_answer": {**answer["short_answer"], "source": "b.txt"}}
    assert "virag-short-mark" not in render.sources_html(other, 0)


def test_conversation_markdown_has_questions_answers_and_sources():
    turns = [
        {"question": "Cụm 2 gồm những tỉnh nào?", "answer": "**14 tỉnh** — gồm 14 tỉnh [1]", "abstained": False,
         "search_query": "Cụm 2 gồm những tỉnh nào?",
         "citations": [{"n": 1, "source": "004.txt", "start": 5, "end": 20, "quote": "gồm  14\ntỉnh", "page": None}]},
        {"question": "Còn cụm III?", "answer": "Tài liệu không nói.", "abstained": True, "citations": [],
         "search_query": "Cụm III gồm những tỉnh nào?"},
    ]
    md = render.conversation_markdown(turns)
    assert md.startswith("# virag — hội thoại\n")
    assert "## 1. Cụm 2 gồm những tỉnh nào?\n\n**14 tỉnh** — gồm 14 tỉnh [1]\n" in md
    assert "[1] `004.txt` (ký tự 5–20): “gồm 14 tỉnh”" in md
    assert "## 2. Còn cụm III?\n\n_Đã tìm: Cụm III gồm những tỉnh nào?_\n\n**Không tìm thấy câu trả lời" in md


def test_documents_table_lists_pages_encoding_and_skipped_files():
    from rag.index.catalogue import IndexedFile
    from rag.ingest.documents import Skipped

    files = [IndexedFile(source="b.pdf", chunks=3, pages=2, indexed=1.7e9),
             IndexedFile(source="<a>.txt", chunks=1, encoding="cp1258")]
    out = render.documents_table_html(files, [Skipped("c.xlsx", "unsupported format '.xlsx'")])
    text = "".join(parse(out).text)
    assert text.index("<a>.txt") < text.index("b.pdf") and "cp1258" in text and "c.xlsx" in text
    assert "<a>" not in out and "Tệp bị bỏ qua" in text and "unsupported format" in text


def test_citations_into_a_law_name_the_article_and_the_law():
    citation = {"n": 1, "source": "blld.txt", "start": 5, "end": 20, "quote": "a) Ít nhất 45 ngày", "page": None,
                "section": "Điều 35, khoản 1, điểm a", "document": "Bộ luật Lao động 2019"}
    assert render.location(citation) == "Điều 35, khoản 1, điểm a — Bộ luật Lao động 2019"
    assert render.location({"n": 2, "source": "x.txt"}) == ""
    panel = parse(render.sources_html({"citations": [citation], "passages": []}, 3))
    assert "[1] Điều 35, khoản 1, điểm a — Bộ luật Lao động 2019 · blld.txt" in "".join(panel.text)
    md = render.conversation_markdown([{"question": "q", "answer": "**45 ngày** [1]", "abstained": False,
                                        "citations": [citation]}])
    assert "[1] Điều 35, khoản 1, điểm a — Bộ luật Lao động 2019, `blld.txt` (ký tự 5–20)" in md
