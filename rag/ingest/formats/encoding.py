"""Plain text: find the encoding of a ``.txt``/``.md`` file, decode it and normalise to NFC.

The order is fixed, so the same bytes always give the same text:

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE);
2. UTF-16 without a BOM, when the NUL bytes sit on every other byte as they do in UTF-16 text;
3. strict UTF-8 (ASCII included);
4. legacy code pages: Windows-1258, then charset-normalizer's guesses, each accepted only when
   the decoded, NFC-normalised text reads as Vietnamese (:func:`looks_vietnamese`). Windows-1258
   stores base letters with *combining* tone marks; NFC composes them into the usual letters.

Anything else (a binary file, NUL bytes, TCVN3/VNI font encodings) is a
:class:`~rag.errors.DocumentError` that names the file and the fix.
"""

from __future__ import annotations

import codecs
import logging
import unicodedata

from ...errors import DocumentError
from ...vietnamese import nfc

logger = logging.getLogger(__name__)

_BOMS = (  # UTF-32 first: its LE mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BASES = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # none, huyền sắc ngã hỏi nặng
#: Every non-ASCII letter of Vietnamese, precomposed (NFC): 'ă', 'ộ', 'Đ', …
VIETNAMESE_LETTERS = frozenset(
    c for c in {nfc(b + t) for b in _BASES + _BASES.upper() for t in _TONES} | {"đ", "Đ"} if c > "\x7f"
)
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1a")  # \x1a: the DOS end-of-file mark
_SAMPLE = 1 << 20  # characters or bytes looked at by the heuristics
_FIX = "save it as UTF-8 (UniKey's converter handles TCVN3 and VNI files)"


def looks_vietnamese(text: str) -> bool:
    """True when ``text`` (NFC) reads as Vietnamese: some Vietnamese letters, almost no foreign ones.

    A wrong code page turns Vietnamese letters into letters Vietnamese does not use
    ('Ã', 'Ð', 'õ' …) or leaves combining marks that compose with nothing.
    """
    sample = text[:_SAMPLE]
    letters = [c for c in sample if c.isalpha()]
    if not letters:
        return False
    viet = sum(c in VIETNAMESE_LETTERS for c in letters)
    foreign = sum(c > "\x7f" and c not in VIETNAMESE_LETTERS for c in letters)
    stray_marks = sum(1 for c in sample if unicodedata.combining(c))
    return viet >= 0.02 * len(letters) and foreign + stray_marks <= 0.01 * len(letters)


def control_share(text: str) -> float:
    """Share of control characters other than whitespace: text has (almost) none, binary files many."""
    sample = text[:_SAMPLE]
    if not sample:
        return 0.0
    bad = sum(1 for c in sample if (c < " " and c not in _TEXT_CONTROLS) or "\x7f" <= c <= "\x9f")
    return bad / len(sample)


def _utf16_without_bom(raw: bytes) -> tuple[str, str] | None:
    if len(raw) < 4 or len(raw) % 2:
        return None
    sample = raw[: _SAMPLE * 2]
    even, odd = sample[0::2], sample[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd >= 0.2 and zeros_even <= 0.01:
        encoding = "utf-16-le"
    elif zeros_even >= 0.2 and zeros_odd <= 0.01:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return None
    if "\x00" in text or control_share(text) > 0.001:
        return None
    ascii_share = sum(c < "\x80" for c in text[:_SAMPLE]) / len(text[:_SAMPLE])
    if not (looks_vietnamese(nfc(text)) or ascii_share >= 0.95):
        return None  # NUL bytes by chance: binary, not UTF-16 text
    return text, encoding


def _legacy_candidates(raw: bytes) -> list[str]:
    """Windows-1258 first, then charset-normalizer's other guesses, best first.

    Windows-1258 goes first even when charset-normalizer ranks it lower (it often does on short
    texts): read as Windows-1252, a Windows-1258 file without 'đ' or a tilde still shows only
    letters Vietnamese uses ('Hôòi' for 'Hội'), so the Vietnamese check alone cannot tell them apart.
    """
    from charset_normalizer import from_bytes

    guesses = [m.encoding for m in from_bytes(raw[:_SAMPLE])]
    return ["cp1258", *(g for g in guesses if g != "cp1258" and not g.startswith(("utf", "ascii")))]


def detect(raw: bytes, source: str) -> tuple[str, str]:
    """``(text, encoding)`` of a text file: ``text`` decoded and NFC-normalised, BOM removed, line endings kept.

    :raises DocumentError: binary content, NUL bytes or no encoding that gives Vietnamese text.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                at = exc.start + len(bom)
                msg = f"{source}: not valid {encoding.upper()} (byte {at}: {raw[at:at + 4]!r}); {_FIX}."
                raise DocumentError(msg) from None
            return _checked(text, source), encoding
    if b"\x00" in raw:
        found = _utf16_without_bom(raw)
        if found is not None:
            return nfc(found[0]), found[1]
        msg = f"{source}: contains NUL bytes; it looks like a binary file, not text."
        raise DocumentError(msg)
    try:
        return _checked(raw.decode("utf-8"), source), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = f"invalid UTF-8 at byte {exc.start}: {raw[exc.start:exc.start + 4]!r}"
    tried = []
    for encoding in _legacy_candidates(raw):
        try:  # judge on a sample first: a large file is decoded in full once, with the chosen code page
            sample = nfc(raw[:_SAMPLE].decode(encoding))
            if control_share(sample) > 0.001 or not looks_vietnamese(sample):
                tried.append(encoding)
                continue
            text = nfc(raw.decode(encoding))
        except (UnicodeDecodeError, LookupError):
            tried.append(encoding)
            continue
        logger.info("%s: decoded as %s", source, encoding)
        return text, encoding
    msg = (
        f"{source}: not UTF-8, UTF-16 or Vietnamese Windows-1258 text ({utf8_error}; "
        f"{', '.join(tried) or 'no code page'} did not give Vietnamese text); {_FIX}."
    )
    raise DocumentError(msg)


def _checked(text: str, source: str) -> str:
    if "\x00" in text:
        msg = f"{source}: contains NUL characters; it looks like a binary file, not text."
        raise DocumentError(msg)
    if control_share(text) > 0.01:
        msg = f"{source}: {control_share(text):.0%} control characters; it looks like a binary file, not text."
        raise DocumentError(msg)
    return nfc(text)


def decode(raw: bytes, source: str) -> str:
    """The text of a ``.txt``/``.md`` file, NFC-normalised; see :func:`detect`."""
    return detect(raw, source)[0]
