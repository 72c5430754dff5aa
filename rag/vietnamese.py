"""Vietnamese text keys: NFC, one tone-mark placement, accent folding, syllable tokens.

Every function here maps a string to one of the same length (for NFC input),
so a position found in a key is the same position in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
_VOWELS = set("aăâeêioôơuưy")
_QUALITY = set("ăâêôơư")
_WORD = re.compile(r"\w+", re.UNICODE)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=200_000)
def _canonical_syllable(word: str) -> str:
    """Put the tone mark on the vowel modern orthography chooses ('hòa' → 'hoà', 'thủy' → 'thuỷ')."""
    decomposed = unicodedata.normalize("NFD", word)
    tone = next((ch for ch in decomposed if ch in _TONES), None)
    if tone is None:
        return word
    bare = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONES))
    if len(bare) != len(word):
        return word  # not a plain precomposed syllable: leave untouched
    low = bare.lower()
    start = 0
    if low.startswith("qu") or (low.startswith("gi") and len(low) > 2 and low[2] in _VOWELS):
        start = 2  # the u of qu and i of gi belong to the consonant
    i = start
    while i < len(low) and low[i] not in _VOWELS:
        i += 1
    j = i
    while j < len(low) and low[j] in _VOWELS:
        j += 1
    if i == j:
        return word
    cluster = range(i, j)
    quality = [k for k in cluster if low[k] in _QUALITY]
    if quality:
        pos = quality[-1]  # ươ → ơ, and any single quality vowel
    elif j < len(low) or len(cluster) == 3:
        pos = j - 1 if j < len(low) else i + 1
    elif len(cluster) == 2:
        pos = j - 1 if low[i:j] in ("oa", "oe", "uy") else i
    else:
        pos = i
    chars = list(bare)
    chars[pos] = unicodedata.normalize("NFC", chars[pos] + tone)
    out = "".join(chars)
    return out if len(out) == len(word) else word


def canonical_tones(text: str) -> str:
    """Same text with one tone-mark placement per syllable; length unchanged."""
    return _WORD.sub(lambda m: _canonical_syllable(m.group(0)), text)


def fold(text: str) -> str:
    """Strip all diacritics ('Đà Nẵng' → 'Da Nang'); length unchanged for NFC input."""
    out = []
    for ch in text:
        if ch in "đĐ":
            out.append("d" if ch == "đ" else "D")
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base if base.isascii() or not ch.isalpha() else ch)
    return "".join(out)


def has_diacritics(text: str) -> bool:
    return fold(text) != text


def match_key(text: str) -> str:
    """The key answers and evidence are compared on: NFC, tones canonical, casefolded, spaces collapsed."""
    return " ".join(canonical_tones(nfc(text)).casefold().split())


@lru_cache(maxsize=500_000)
def _token(word: str, folded: bool) -> str:
    key = _canonical_syllable(word).lower()
    return fold(key) if folded else key


def syllables(text: str, *, folded: bool = False) -> list[str]:
    """Lower-cased syllable tokens with canonical tones (or folded to ASCII)."""
    # word by word through a cache: the same syllables recur in every sentence
    return [_token(w, folded) for w in _WORD.findall(nfc(text))]


# One written Vietnamese syllable, accents folded: onset, vowel nucleus, final consonant.
_SYLLABLE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?"
    r"(ieu|oai|oao|oay|oeo|uay|uoi|uou|uya|uye|uyu|yeu|"
    r"ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|uo|uu|uy|ye|[aeiouy])"
    r"(ch|ng|nh|[cmnpt])?"
)


def is_syllable(word: str) -> bool:
    """Could ``word`` be one Vietnamese syllable ('nghiêng', 'khong': yes; 'the': yes; 'conference': no)?"""
    return _SYLLABLE.fullmatch(fold(word.lower())) is not None


def looks_vietnamese(text: str) -> bool:
    """Most of the words are Vietnamese syllables (with or without diacritics).

    Capitalised words (names, acronyms) are left out, so 'Gaston Jèze là ai?' is
    Vietnamese; an English question has few syllables ('who', 'many', 'did' are not).
    Too few words to tell counts as Vietnamese.
    """
    found = [w for w in _WORD.findall(nfc(text)) if w.isalpha()]
    # proper names and acronyms are not evidence either way (sentence-initial words are)
    words = found[:1] + [w for w in found[1:] if w.islower()]
    if len(words) < 3:
        return True
    return sum(map(is_syllable, words)) >= 0.6 * len(words)


# -- spans of text: [start, end) offsets, whitespace left out
_LINE = re.compile(r"[^\r\n]+")


def trim(text: str, s: int, e: int) -> tuple[int, int]:
    """``(s, e)`` without the whitespace at either end of ``text[s:e]``."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def lines(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The non-blank lines of ``text[start:end]``, each without the whitespace around it."""
    spans = (trim(text, *m.span()) for m in _LINE.finditer(text, start, len(text) if end is None else end))
    return [(s, e) for s, e in spans if s < e]
