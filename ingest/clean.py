"""Removal of PDF extraction noise: ligatures, hyphenation at line ends, odd whitespace."""

from __future__ import annotations

import re
import unicodedata

_HYPHEN_BREAK = re.compile(r"(\w)[-\u00ad\u2010]\s*\n\s*(\w)")
_SOFT_HYPHEN = re.compile("\u00ad")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_LINE_BREAKS = re.compile(r" *\n *")
_MANY_NEWLINES = re.compile(r"\n{3,}")

_SPACING_ACCENTS = {"\u00b4": "\u0301", "`": "\u0300", "\u02c6": "\u0302", "\u00a8": "\u0308", "\u02dc": "\u0303",
                    "\u02c7": "\u030c"}  # fmt: skip
_ACCENT_BEFORE = re.compile(r"([\u00b4`\u02c6\u00a8\u02dc\u02c7])([^\W\d_])")
_CEDILLA_AFTER = re.compile(r"([cC])\u00b8")
_CORK_LIGATURES = {"\x1b": "ff", "\x1c": "fi", "\x1d": "fl", "\x1e": "ffi", "\x1f": "ffl"}
_CORK_LIGATURE = re.compile(r"(?<=[^\W\d_])[\x1b-\x1f]|[\x1b-\x1f](?=[^\W\d_])")


def restore_ligatures(text: str) -> str:
    """Ligatures a PDF font left as raw codes put back as letters: TeX's T1 (Cork) encoding, which French LaTeX
    documents use for their accents, sets ff, fi, fl, ffi and ffl at codes 0x1B to 0x1F, and a font without a
    Unicode map gives those codes as they are ("con\\x1cance" for "confiance"). Only a code next to a letter is
    read as a ligature; elsewhere (a diagram's arrows) it stays a control character, later a space."""
    return _CORK_LIGATURE.sub(lambda m: _CORK_LIGATURES[m.group()], text)


def join_accents(text: str) -> str:
    """Accents a PDF gives as separate glyphs put back on their letters: TeX's older font encoding sets
    "é" as "´e" ("caract´eristique", "tr`es", "mˆeme", "franc¸ais"). An accent is joined only to a letter it
    forms one character with, so "ˆθ" (an estimator) stays as it is."""

    def compose(match: re.Match[str]) -> str:
        accent, letter = match.groups()
        start, end = match.span()
        if accent == "`" and not (start and text[start - 1].isalpha()):
            # a backtick opens quoted code ("`echo`"); outside a word it is only "à" written "`a"
            if letter not in "aA" or (end < len(text) and text[end].isalpha()):
                return match.group()
        base = "i" if letter == "\u0131" else letter  # TeX's \^{\i}: the dotless i takes the circumflex
        joined = unicodedata.normalize("NFC", base + _SPACING_ACCENTS[accent])
        return joined if len(joined) == 1 else match.group()

    text = _ACCENT_BEFORE.sub(compose, text)
    return _CEDILLA_AFTER.sub(lambda m: unicodedata.normalize("NFC", m.group(1) + "\u0327"), text)


def clean_text(text: str) -> str:
    """Normalise extracted text while keeping paragraph breaks (blank lines).

    NFKC folds ligatures (``ﬁ`` -> ``fi``) and compatibility characters; a word hyphenated
    across a line end is joined again; runs of spaces collapse to one.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _SOFT_HYPHEN.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()
