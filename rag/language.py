"""Which language a question is written in (French or English), to answer in kind."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zàâäçéèêëîïôöùûüÿœæ']+", re.IGNORECASE)
_FRENCH = frozenset(
    """le la les un une des du de au aux et est sont que qui quoi quel quelle quels quelles comment
    pourquoi combien quand où dans pour sur avec sans par pas ne il elle ils elles nous vous je
    ce cette ces son sa ses leur leurs été être avoir fait entre donne donner explique expliquer
    selon qu'est-ce l' d' qu' c'est n'est y a-t-il peut doit""".split()
)
_ENGLISH = frozenset(
    """the a an and is are was were what which who whom how why when where does do did of to in
    for on with without by not it its this that these those can should must give explain between
    according there""".split()
)
CLEAR_MARGIN = 2.0
"""Evidence (function words, half a point per French accent) the other language must have over the expected one
before a text counts as written in it: short answers full of names and numbers stay undecided."""


def language_evidence(text: str) -> dict[str, float]:
    """French and English evidence in ``text``: function words, and half a point per French accent."""
    words = [w.lower() for w in _WORD.findall(text)]
    french = sum(w in _FRENCH or w.startswith(("l'", "d'", "qu'", "c'", "n'")) for w in words)
    french += sum(ch in "éèêàùçœ" for ch in text.lower()) * 0.5
    return {"fr": float(french), "en": float(sum(w in _ENGLISH for w in words))}


def detect_language(text: str) -> str:
    """``"fr"`` or ``"en"``: French function words and accents against English ones."""
    evidence = language_evidence(text)
    return "fr" if evidence["fr"] > evidence["en"] else "en"


def is_other_language(text: str, language: str) -> bool:
    """Whether ``text`` is clearly written in the other language than ``language`` (``"en"``/``"fr"``)."""
    evidence = language_evidence(text)
    other = "en" if language == "fr" else "fr"
    return evidence[other] >= evidence[language] + CLEAR_MARGIN
