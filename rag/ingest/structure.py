"""The numbered structure of Vietnamese legal and administrative texts: Phần › Chương › Mục › Điều › khoản › điểm.

:func:`outline` reads it from a document's text (any format: it works on the extracted text) and
says which spans are content: the heading block and the "Căn cứ …" preamble before the first unit,
and the "Nơi nhận" and signature blocks after the last, are not. A text with fewer than
:data:`MIN_ARTICLES` ``Điều`` headings has no outline (``None``) and is chunked as prose.

Example::

    o = outline(text)
    o.title                      # 'Bộ luật Lao động 2019'
    [u.label for u in o.path(12345)]   # ['Chương III', 'Điều 35', 'khoản 2']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..types import Span, Step
from ..vietnamese import fold, lines

MIN_ARTICLES = 3
STRUCTURE_RULES = 1  # part of the index's chunker key: bump when outlines change

LEVELS = {"phan": 0, "chuong": 1, "muc": 2, "dieu": 3, "khoan": 4, "diem": 5, "ghichu": 3, "ket": 3}
NAMES = {"phan": "Phần", "chuong": "Chương", "muc": "Mục", "dieu": "Điều", "khoan": "khoản", "diem": "điểm",
         "ghichu": "Ghi chú", "ket": "Phần kết"}

_I = re.IGNORECASE
_ROMAN = r"[IVXLC]+"
_HEADINGS = [  # (kind, pattern on a line); the number is group 1, a title on the same line group 2
    ("phan", re.compile(rf"Phần\s+(thứ\s+\w+|{_ROMAN}|\d+)\b[.:]?\s*(.*)", _I)),
    ("chuong", re.compile(rf"Chương\s+({_ROMAN}|\d+)\b[.:]?\s*(.*)", _I)),
    ("muc", re.compile(rf"Mục\s+(\d+|{_ROMAN})\b[.:]?\s*(.*)", _I)),
    ("dieu", re.compile(r"Điều\s+(\d+[a-zđ]?)\s*[.:]\s*(.*)", _I)),
]
_KHOAN = re.compile(r"(\d{1,3}[a-zđ]?)\.(?:\s+(\S.*))?")
_DIEM = re.compile(r"([a-zđ]\d?)\)\s+(\S.*)")
_NOTE = re.compile(r"\[(\d+)\]\s*(.*)")
# A law's closing line ("Luật này đã được Quốc hội … thông qua ngày …"): content, but no article's.
_CLOSING = re.compile(r"(?:Bộ luật|Luật|Pháp lệnh|Nghị quyết) này (?:đã )?được .{0,120}thông qua", _I)
# Where the sign-off starts: "Nơi nhận", "TM. CHÍNH PHỦ", "KT. BỘ TRƯỞNG", "CHỦ TỊCH QUỐC HỘI", …
_SIGNOFF = re.compile(r"(?:Nơi\s+nhận\b|(?:TM|KT|Q|TL|TUQ)\.\s|(?:NỮ\s+|PHÓ\s+)?(?:CHỦ\s+TỊCH|THỦ\s+TƯỚNG|BỘ\s+TRƯỞNG)\b)")

# The title: "… ban hành Bộ luật Lao động", "LUẬT CÔNG ĐOÀN", "NGHỊ ĐỊNH" with "Số: 12/2022/NĐ-CP".
_KINDS = ("Bộ luật", "Luật", "Pháp lệnh", "Nghị định", "Nghị quyết", "Thông tư liên tịch", "Thông tư", "Quyết định",
          "Chỉ thị", "Quy chế", "Quy định", "Hiến pháp")
_ENACTS = re.compile(r"ban hành ((?:Bộ luật|Luật|Pháp lệnh) [^\n.\[;“”\"]{3,90})")
_KIND_LINE = re.compile(rf"({'|'.join(k.upper() for k in _KINDS)})\b\s*(.*)")
_NUMBER = re.compile(r"(?:Số|số)\s*:?\s*(\d+/\d{4}/[\w-]+)")
_STATUTES = ("Bộ luật", "Luật", "Pháp lệnh", "Hiến pháp")


@dataclass(frozen=True)
class Unit:
    """One numbered unit: ``text[start:end]`` is its heading line and everything under it."""

    kind: str  # phan, chuong, muc, dieu, khoan, diem; ghichu (a footnote), ket (the closing line)
    number: str  # 'III', '35', '2', 'a'
    start: int
    end: int
    heading_end: int  # end of the heading line (for a Chương or Mục: of its title line too)
    title: str = ""  # 'Quyền đơn phương chấm dứt hợp đồng lao động của người lao động'

    @property
    def level(self) -> int:
        return LEVELS[self.kind]

    def step(self) -> Step:
        """This unit as one level of a chunk's path."""
        return Step(self.kind, self.number, self.label)

    @property
    def label(self) -> str:
        """'Điều 35', 'khoản 2', 'điểm a', 'Chương III'."""
        if self.kind == "ghichu":
            return f"Ghi chú [{self.number}]"
        return NAMES[self.kind] if self.kind == "ket" else f"{NAMES[self.kind]} {self.number}"


@dataclass(frozen=True)
class Outline:
    """A structured document: its title and number, its units in document order, its content spans."""

    title: str  # 'Bộ luật Lao động 2019', 'Nghị định 12/2022/NĐ-CP' ('' when the text does not say)
    number: str  # '45/2019/QH14'
    units: tuple[Unit, ...]
    content: tuple[Span, ...]  # the lines that are content, merged: no heading block, preamble or sign-off

    def path(self, offset: int) -> tuple[Unit, ...]:
        """The units holding ``offset``, outermost first (a Chương, its Điều, the khoản, the điểm)."""
        return tuple(u for u in self.units if u.start <= offset < u.end)

    def citation_label(self, start: int, end: int) -> str:
        """'Điều 35, khoản 2' for a quote ``[start, end)``: the deepest units holding all of it, from the Điều."""
        inner = [u for u in self.units if u.start <= start and end <= u.end and u.level >= LEVELS["dieu"]]
        return ", ".join(u.label for u in inner)

    def articles(self) -> list[Unit]:
        return [u for u in self.units if u.kind == "dieu"]

    def locate(self, article: str, clause: str | None = None, point: str | None = None) -> list[Unit]:
        """The Điều numbered ``article``, then its khoản ``clause`` and the điểm ``point`` inside that
        (numbers compared without diacritics: 'd' finds 'đ'), as far as they exist; [] without the Điều."""
        path = [u for u in self.articles() if u.number == article][:1]
        for kind, number in (("khoan", clause), ("diem", point)):
            if not path or not number:
                continue
            outer = path[-1]
            inner = next((u for u in self.units if u.kind == kind and outer.start <= u.start < outer.end
                          and fold(u.number) == number), None)
            if inner is None:
                break
            path.append(inner)
        return path


def _heading(line: str) -> tuple[str, str, str] | None:
    for kind, pattern in _HEADINGS:
        m = pattern.fullmatch(line)
        if m:
            return kind, m.group(1), m.group(2).strip()
    return None


def _is_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def title_of(text: str, head_end: int) -> tuple[str, str]:
    """The document's title and number, from its heading block and preamble (``text[:head_end]``)."""
    head = text[:head_end]
    number_match = _NUMBER.search(head)
    number = number_match.group(1) if number_match else ""
    kind, name = "", ""
    enacted = _ENACTS.search(head)
    if enacted:
        words = enacted.group(1).strip(" ,;:").split(" ", 2 if enacted.group(1).startswith("Bộ") else 1)
        kind = " ".join(words[:-1]).capitalize()
        name = words[-1]
    else:
        rows = [head[s:e] for s, e in lines(head)]
        for i, line in enumerate(rows):
            m = _KIND_LINE.fullmatch(line)
            if m and _is_caps(m.group(1)):
                kind = m.group(1).capitalize()
                rest = m.group(2).strip()
                if not rest and i + 1 < len(rows) and len(rows[i + 1].split()) <= 10 and kind in _STATUTES:
                    rest = rows[i + 1]
                name = rest.strip("()")
                break
    if not kind:
        return "", number
    name = name[:1].upper() + name[1:].lower() if _is_caps(name) else name[:1].upper() + name[1:]
    year = re.search(r"/(\d{4})/", number)
    if kind in _STATUTES and name:
        return f"{kind} {name}{f' {year.group(1)}' if year else ''}", number
    return (f"{kind} {number}" if number else f"{kind} {name}".strip()), number


def outline(text: str) -> Outline | None:
    """The structure of ``text``, or ``None`` when it is not a numbered legal text."""
    spans = lines(text)
    heads = [(i, _heading(text[s:e])) for i, (s, e) in enumerate(spans)]
    if sum(1 for _, h in heads if h and h[0] == "dieu") < MIN_ARTICLES:
        return None
    first = next(i for i, h in heads if h)
    last_article = max(i for i, h in heads if h and h[0] == "dieu")

    units: list[Unit] = []
    content: list[Span] = []
    stack: list[tuple[str, str, int, int, str]] = []
    in_article, skipping, end_of_text = False, False, spans[-1][1]

    def close(level: int, at: int) -> None:
        while stack and LEVELS[stack[-1][0]] >= level:
            kind, number, start, heading_end, title = stack.pop()
            units.append(Unit(kind, number, start, max(at, heading_end), heading_end, title))

    def last_end(default: int) -> int:
        return content[-1][1] if content else default

    i = first
    while i < len(spans):
        s, e = spans[i]
        line = text[s:e]
        head = heads[i][1]
        note = _NOTE.match(line) if i > last_article else None
        if i > last_article and not note and (_CLOSING.match(line) or _SIGNOFF.match(line) or skipping):
            if not skipping:
                close(0, last_end(s))
                if _CLOSING.match(line):  # content, but no article's; what follows it is the sign-off
                    stack.append(("ket", "", s, e, ""))
                    content.append((s, e))
                    close(0, e)
            skipping = True
            i += 1
            continue
        if note:
            close(0, last_end(s))
            skipping, in_article = False, False
            stack.append(("ghichu", note.group(1), s, e, ""))
            content.append((s, e))
            i += 1
            continue
        if head and not (stack and stack[-1][0] == "ghichu"):
            kind, number, title = head
            close(LEVELS[kind], last_end(s))
            heading_end = e
            while kind != "dieu" and i + 1 < len(spans) and _is_caps(text[slice(*spans[i + 1])]) \
                    and not _heading(text[slice(*spans[i + 1])]) and len(title) < 300:
                i += 1  # "Chương III" then "HỢP ĐỒNG LAO ĐỘNG" on the next line(s)
                heading_end = spans[i][1]
                title = f"{title} {text[spans[i][0]:heading_end]}".strip()
            stack.append((kind, number, s, heading_end, title))
            in_article = kind == "dieu"
            content.append((s, heading_end))
            i += 1
            continue
        if in_article and not (stack and stack[-1][0] == "ghichu"):
            m = _KHOAN.fullmatch(line)
            if m:
                close(LEVELS["khoan"], last_end(s))
                stack.append(("khoan", m.group(1), s, e, ""))
            else:
                m = _DIEM.fullmatch(line)
                if m:
                    close(LEVELS["diem"], last_end(s))
                    stack.append(("diem", m.group(1), s, e, ""))
        content.append((s, e))
        i += 1
    close(0, last_end(end_of_text))
    units.sort(key=lambda u: (u.start, u.level))
    title, number = title_of(text, spans[first][0])
    return Outline(title=title, number=number, units=tuple(units), content=tuple(content))
