"""Saved web pages (``.html``, ``.htm``): the main text, headings kept, one line per block.

BeautifulSoup (with lxml when installed) parses the page; this module only decides what to keep:

1. what is never text goes: scripts, styles, forms, frames, embedded objects, hidden elements;
2. the main content is the largest ``<article>``, else ``<main>`` (or ``role="main"``), else the
   whole ``<body>``; the page's ``<h1>`` title is kept when it sits outside the article;
3. inside it, navigation, asides, page headers and footers go, and so do blocks named like
   boilerplate (``class``/``id``: menu, sidebar, share, related …) and blocks that are mostly
   links (menus, "tin liên quan", share bars), unless they hold the page's title or most of its
   paragraphs;
4. each heading, paragraph, list item, caption and table row becomes one line (cells joined by
   ``" | "``), with a blank line between blocks.

``Document.text`` is this extracted text (NFC); citations index it, not the HTML.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ...errors import DocumentError
from ...vietnamese import nfc
from .encoding import detect

_NEVER_TEXT = (
    "script", "style", "noscript", "template", "iframe", "frame", "object", "embed", "svg", "math", "canvas",
    "video", "audio", "map", "form", "button", "input", "select", "option", "textarea", "link", "meta", "base",
)
_BOILERPLATE_TAGS = ("nav", "aside", "footer", "menu", "dialog")
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog"}
_BOILERPLATE_NAMES = {
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "sidebar", "footer", "social", "share",
    "sharing", "comment", "comments", "related", "advert", "advertisement", "ads", "banner", "cookie", "cookies",
    "popup", "subscribe", "newsletter", "tags", "pagination", "toolbar", "widget", "lienquan", "quangcao",
}
_LINK_BLOCKS = ("div", "section", "ul", "ol", "table", "dl", "p", "header")
_BLOCKS = {
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html",
    "legend", "li", "main", "ol", "p", "section", "summary", "table", "tbody", "tfoot", "thead", "ul",
}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_NAME_PARTS = re.compile(r"[\s_\-]+")


_WORDS, _LINK_WORDS, _P_WORDS, _H1, _H1_H2 = range(5)


def _measure(root) -> dict[int, list[int]]:
    """Per element (by ``id``): words, words in links, words in ``<p>``, ``<h1>`` count, ``<h1>``/``<h2>`` count.

    One pass from the leaves up, so pages of any size or depth cost linear time.
    """
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    stats: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for node in reversed([root, *root.descendants]):
        if isinstance(node, Tag):
            own = stats[id(node)]
            if node.name == "a":
                own[_LINK_WORDS] = own[_WORDS]
            elif node.name == "p":
                own[_P_WORDS] = own[_WORDS]
            if node.name in ("h1", "h2"):
                own[_H1_H2] += 1
                own[_H1] += node.name == "h1"
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            own = [len(node.split()), 0, 0, 0, 0]
        else:
            continue
        if node is not root and node.parent is not None:
            parent = stats[id(node.parent)]
            for i, value in enumerate(own):
                parent[i] += value
    return stats


def _names(tag) -> set[str]:
    classes = tag.get("class") or []
    words = [*(classes if isinstance(classes, list) else [classes]), str(tag.get("id") or "")]
    return {part.lower() for word in words for part in _NAME_PARTS.split(word) if part}


def _is_hidden(tag) -> bool:
    return (
        tag.has_attr("hidden")
        or str(tag.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDDEN_STYLE.search(str(tag.get("style") or "")))
    )


def _parse(raw: bytes, source: str):
    from bs4 import BeautifulSoup, FeatureNotFound
    from bs4.dammit import EncodingDetector

    declared = EncodingDetector.find_declared_encoding(raw, is_html=True, search_entire_document=False)
    markup = None
    if declared and not raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            markup = nfc(raw.decode(declared))
        except (UnicodeDecodeError, LookupError):
            markup = None  # a wrong declaration: detect as for plain text
    if markup is None:
        markup = detect(raw, source)[0]
    try:
        return BeautifulSoup(markup, "lxml")
    except FeatureNotFound:  # lxml missing: the standard library's parser
        return BeautifulSoup(markup, "html.parser")


def _prune(root, drop) -> None:
    """Remove every element ``drop`` picks, with its subtree; each element is looked at once, top-down.

    (``Tag.decomposed`` is not used: on a live tag it searches the subtree for a child tag of that name.)
    """
    from bs4 import Tag

    doomed, stack = [], [root]
    while stack:
        tag = stack.pop()
        if tag is not root and drop(tag):
            doomed.append(tag)
            continue
        stack.extend(child for child in tag.contents if isinstance(child, Tag))
    for tag in doomed:
        tag.decompose()


def _main_content(soup, stats: dict[int, list[int]]):
    body = soup.body or soup
    articles = [a for a in body.find_all("article") if stats[id(a)][_WORDS]]
    if articles:
        return max(articles, key=lambda a: stats[id(a)][_WORDS])
    return body.find("main") or body.find(attrs={"role": "main"}) or body


def _strip_boilerplate(root, stats: dict[int, list[int]]) -> None:
    paragraphs = stats[id(root)][_P_WORDS] or 1

    def keep(s: list[int]) -> bool:
        """The title, or most of the paragraphs, are never boilerplate."""
        return s[_H1] > 0 or s[_P_WORDS] >= 0.5 * paragraphs

    def boilerplate(tag) -> bool:
        s = stats[id(tag)]
        if tag.name == "header" and not s[_H1_H2]:
            return True
        named = (tag.name in _BOILERPLATE_TAGS or str(tag.get("role", "")).lower() in _BOILERPLATE_ROLES
                 or bool(_names(tag) & _BOILERPLATE_NAMES))
        link_list = tag.name in _LINK_BLOCKS and s[_WORDS] > 0 and s[_LINK_WORDS] > 0.5 * s[_WORDS]
        return (named or link_list) and not keep(s)

    _prune(root, boilerplate)


def _lines(root) -> list[str]:
    """One line per block, in document order (iterative: deeply nested pages cannot overflow the stack)."""
    from bs4 import Comment, NavigableString, Tag
    from bs4.element import PreformattedString

    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = " ".join("".join(current).split())
        if text:
            lines.append(text)
        current.clear()

    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            flush()
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, (Comment, PreformattedString)):
                current.append(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name == "br":
            flush()
        elif name == "tr":
            flush()
            cells = [" ".join(c.get_text(" ").split()) for c in node.find_all(["td", "th"], recursive=False)]
            row = " | ".join(c for c in cells if c)
            if row:
                lines.append(row)
        elif name == "pre":
            flush()
            lines.extend(" ".join(line.split()) for line in node.get_text().splitlines() if line.strip())
        elif name in ("td", "th"):
            current.append(" ")
            stack.extend((child, False) for child in reversed(node.contents))
        else:
            block = name in _BLOCKS
            if block:
                flush()
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return lines


def read_html(raw: bytes, source: str) -> str:
    """The main text of a web page, NFC; raises :class:`DocumentError` when there is none."""
    soup = _parse(raw, source)
    _prune(soup, lambda tag: tag.name in _NEVER_TEXT or _is_hidden(tag))
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag else ""
    if soup.head is not None:
        soup.head.decompose()
    stats = _measure(soup)
    root = _main_content(soup, stats)
    h1 = soup.find("h1")
    lines = []
    if h1 is None and title:
        lines.append(title)  # no heading at all: the <title> names the page
    elif h1 is not None and root.find("h1") is None:
        lines.append(" ".join(h1.get_text(" ").split()))  # the title above the article
    _strip_boilerplate(root, stats)
    body = _lines(root)
    if not body:
        msg = f"{source}: the page has no text outside menus, scripts and styles."
        raise DocumentError(msg)
    return nfc("\n\n".join(line for line in [*lines, *body] if line))
