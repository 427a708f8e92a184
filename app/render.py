"""Pure helpers that turn answers into safe Markdown: document and model text is data, never markup."""

from __future__ import annotations

import re
import string

from app.i18n import t
from rag.answer import Answer
from rag.citations import MARKER, strip_markers
from rag.grounding import split_answer

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_AUTOLINK = re.compile(r"(?i)\b(?=www|https?|ftp|mailto|xmpp)")
_JOINER = "\u2060"
"""Invisible WORD JOINER: placed before ``www``/``http`` and after ``@`` it stops GFM from auto-linking."""


def escape_markdown(text: str, lines: bool = True) -> str:
    """``text`` shown literally by ``st.markdown``: every ASCII punctuation backslash-escaped.

    That disables emphasis, links (also bare URLs and e-mail addresses), HTML, headings, lists, tables,
    math and ``:color[...]`` directives. With ``lines``, leading indentation (code blocks) is dropped
    and line breaks are kept.
    """
    escaped = _PUNCT.sub(r"\\\1", _AUTOLINK.sub(_JOINER, text).replace("@", "@" + _JOINER))
    if not lines:
        return escaped
    return "  \n".join(line.strip() for line in escaped.splitlines())


def _sentence_markdown(sentence: str) -> str:
    """A sentence escaped, its citation markers in bold."""
    out, last = [], 0
    for match in MARKER.finditer(sentence):
        out.append(escape_markdown(sentence[last : match.start()], lines=False))
        numbers = ", ".join(n.strip() for n in re.split(r"[,;]", match.group(1)))
        out.append(f"**\\[{numbers}\\]**")
        last = match.end()
    out.append(escape_markdown(sentence[last:], lines=False))
    return " ".join("".join(out).split())


def supported_flags(answer: Answer) -> list[tuple[str, bool]]:
    """The sentences of the final answer text, each with whether the passages support it."""
    sentences = split_answer(answer.answer)
    if not answer.sentences or answer.refused:
        return [(s, True) for s in sentences]
    if len(sentences) == len(answer.sentences):
        return [(s, c.supported) for s, c in zip(sentences, answer.sentences, strict=True)]
    bad = {" ".join(strip_markers(c.text).split()) for c in answer.sentences if not c.supported}
    return [(s, " ".join(strip_markers(s).split()) not in bad) for s in sentences]


def answer_markdown(answer: Answer, lang: str = "en") -> str:
    """The answer as Markdown: text escaped, markers bold, unsupported sentences highlighted with a warning."""
    parts = []
    for sentence, supported in supported_flags(answer):
        body = _sentence_markdown(sentence)
        if not supported:
            body = f":orange-background[{body}] :orange[:material/warning: *{t('unsupported_mark', lang)}*]"
        parts.append(body)
    return " ".join(parts)


def quote_markdown(text: str, lang: str = "en") -> str:
    """A document sentence as a Markdown block quote, escaped, in the language's quotation marks."""
    body = escape_markdown(" ".join(text.split()), lines=False)
    return f"> « {body} »" if lang == "fr" else f"> “{body}”"


def quoted_answer_markdown(answer: Answer, lang: str = "en") -> str:
    """A quoted answer (``answer.quoted``) as a block quote: "According to X, p. 3: "…" [1]", markers bold."""
    return "> " + answer_markdown(answer, lang)


def highlighted_markdown(text: str, ranges: list[tuple[int, int]], context: int = 600) -> str:
    """``text`` as escaped Markdown with ``ranges`` highlighted, cut to ``context`` characters around them."""
    if ranges:
        start, end = max(0, ranges[0][0] - context), min(len(text), ranges[-1][1] + context)
    else:
        start, end = 0, min(len(text), 2 * context)

    def plain(piece: str) -> str:
        return "  \n".join(" ".join(line.split(" ")) for line in escape_markdown(piece, lines=False).split("\n"))

    out, cursor = ["…" if start else ""], start
    for begin, stop in ranges:
        begin, stop = max(begin, cursor), min(stop, end)
        if stop <= begin:
            continue
        out.append(plain(text[cursor:begin]))
        out.append(f":orange-background[{escape_markdown(' '.join(text[begin:stop].split()), lines=False)}]")
        cursor = stop
    out.append(plain(text[cursor:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def timings_caption(timings: dict[str, float], lang: str = "en", refused: bool = False) -> str:
    """One small line: retrieval ms, time to first token, tokens/s, total (and rewrite time)."""
    values = {
        "retrieval_ms": 1000 * timings.get("retrieval_s", 0.0),
        "first_token_s": timings.get("first_token_s", 0.0),
        "tokens_per_s": timings.get("tokens_per_s", 0.0),
        "total_s": timings.get("total_s", 0.0),
    }
    text = t("timings_refused" if refused or "first_token_s" not in timings else "timings", lang, **values)
    if timings.get("rewrite_s"):
        text += t("rewrite_time", lang, rewrite_s=timings["rewrite_s"])
    return text
