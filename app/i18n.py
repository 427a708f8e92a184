"""User-interface strings in English and French."""

from __future__ import annotations

LANGUAGES = {"en": "English", "fr": "Français"}

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "Ask your documents", "fr": "Interrogez vos documents"},
    "subtitle": {
        "en": "Private question answering over your PDFs — everything runs on this computer.",
        "fr": "Questions-réponses privées sur vos PDF — tout tourne sur cet ordinateur.",
    },
    "language": {"en": "Interface language", "fr": "Langue de l'interface"},
    "documents": {"en": "Documents", "fr": "Documents"},
    "no_documents": {
        "en": "No document indexed yet. Add PDF, Word, PowerPoint, OpenDocument, EPUB, HTML, .txt or .md files below.",
        "fr": "Aucun document indexé. Ajoutez des fichiers PDF, Word, PowerPoint, OpenDocument, EPUB, HTML, .txt "
        "ou .md ci-dessous.",
    },
    "doc_details": {
        "en": "{pages} pages · {chunks} passages · indexed {when}",
        "fr": "{pages} pages · {chunks} passages · indexé le {when}",
    },
    "delete": {"en": "Delete", "fr": "Supprimer"},
    "deleted": {"en": "Deleted {name}", "fr": "{name} supprimé"},
    "upload": {"en": "Add documents", "fr": "Ajouter des documents"},
    "upload_help": {
        "en": "PDF, .docx, .pptx, .odt, .epub, .html, .txt or .md, up to {mb:g} MB each. They are stored in "
        "{folder} and indexed.",
        "fr": "PDF, .docx, .pptx, .odt, .epub, .html, .txt ou .md, jusqu'à {mb:g} Mo chacun. Ils sont enregistrés "
        "dans {folder} puis indexés.",
    },
    "indexing": {"en": "Indexing {n} file(s)…", "fr": "Indexation de {n} fichier(s)…"},
    "reindexing": {"en": "Re-indexing the documents folder…", "fr": "Réindexation du dossier des documents…"},
    "unchanged_count": {"en": "{n} file(s) unchanged", "fr": "{n} fichier(s) inchangé(s)"},
    "indexing_done": {"en": "Indexing finished", "fr": "Indexation terminée"},
    "indexing_failed": {"en": "Indexing finished with problems", "fr": "Indexation terminée avec des problèmes"},
    "file_status": {"en": "{name}: {status}", "fr": "{name} : {status}"},
    "rejected": {"en": "{name} not added: {reason}", "fr": "{name} non ajouté : {reason}"},
    "reindex": {"en": "Re-index the documents folder", "fr": "Réindexer le dossier des documents"},
    "first_index": {
        "en": "First start: indexing the documents in {folder}…",
        "fr": "Premier démarrage : indexation des documents de {folder}…",
    },
    "settings": {"en": "Settings", "fr": "Réglages"},
    "top_k": {"en": "Passages per answer", "fr": "Passages par réponse"},
    "model": {"en": "Language model", "fr": "Modèle de langue"},
    "temperature": {"en": "Temperature", "fr": "Température"},
    "no_model": {
        "en": "No language model is installed: see the README's install command.",
        "fr": "Aucun modèle de langue n'est installé : voir la commande d'installation du README.",
    },
    "ask": {"en": "Ask a question about your documents", "fr": "Posez une question sur vos documents"},
    "empty_index": {
        "en": "The index is empty: add documents in the sidebar first.",
        "fr": "L'index est vide : ajoutez d'abord des documents dans la barre latérale.",
    },
    "loading_model": {"en": "Loading the language model…", "fr": "Chargement du modèle de langue…"},
    "rewriting": {"en": "Understanding the follow-up question…", "fr": "Reformulation de la question de suivi…"},
    "searching": {"en": "Searching the documents…", "fr": "Recherche dans les documents…"},
    "searched_for": {"en": "Searched for: {question}", "fr": "Recherche : {question}"},
    "sources": {"en": "Sources found", "fr": "Sources trouvées"},
    "source_label": {"en": "[{n}] {name} — {page}", "fr": "[{n}] {name} — {page}"},
    "citations": {"en": "Citations", "fr": "Citations"},
    "evidence": {"en": "Quoted from the documents", "fr": "Extraits cités des documents"},
    "quote_source": {"en": "[{n}] {name}, {page}", "fr": "[{n}] {name}, {page}"},
    "quote_on_page": {"en": "[{n}] {name}, page {page}: on the page", "fr": "[{n}] {name}, page {page} : sur la page"},
    "quoted_answer": {
        "en": "The model's answer was not supported by the passages, so this is the documents' own sentence "
        "that best answers the question (a quotation, not a generated answer).",
        "fr": "La réponse du modèle n'était pas étayée par les passages : voici la phrase des documents qui "
        "répond le mieux à la question (une citation, pas une réponse générée).",
    },
    "closest": {
        "en": "Closest passages (they do not answer the question):",
        "fr": "Passages les plus proches (ils ne répondent pas à la question) :",
    },
    "all_passages": {"en": "All {n} retrieved passages", "fr": "Les {n} passages retrouvés"},
    "unsupported": {
        "en": "Highlighted sentences are not supported by the passages: check them.",
        "fr": "Les phrases surlignées ne sont pas étayées par les passages : vérifiez-les.",
    },
    "unsupported_mark": {"en": "not supported by the passages", "fr": "non étayé par les passages"},
    "whole_page": {"en": "Open the whole page", "fr": "Ouvrir la page entière"},
    "download_page": {"en": "Download the page image", "fr": "Télécharger l'image de la page"},
    "page_of": {"en": "{name}, page {page}", "fr": "{name}, page {page}"},
    "highlight_missing": {
        "en": "The passage could not be located on the page image.",
        "fr": "Le passage n'a pas pu être situé sur l'image de la page.",
    },
    "file_missing": {
        "en": "The original file is no longer on disk.",
        "fr": "Le fichier d'origine n'est plus sur le disque.",
    },
    "timings": {
        "en": "retrieval {retrieval_ms:.0f} ms · first token {first_token_s:.1f} s · {tokens_per_s:.1f} tokens/s"
        " · total {total_s:.1f} s",
        "fr": "recherche {retrieval_ms:.0f} ms · premier mot {first_token_s:.1f} s · {tokens_per_s:.1f} jetons/s"
        " · total {total_s:.1f} s",
    },
    "timings_refused": {
        "en": "retrieval {retrieval_ms:.0f} ms · total {total_s:.1f} s",
        "fr": "recherche {retrieval_ms:.0f} ms · total {total_s:.1f} s",
    },
    "rewrite_time": {"en": " · rewrite {rewrite_s:.1f} s", "fr": " · reformulation {rewrite_s:.1f} s"},
    "remote_model": {"en": "Model: {where}", "fr": "Modèle : {where}"},
    "error": {"en": "Something went wrong: {error}", "fr": "Une erreur est survenue : {error}"},
    "conversations": {"en": "Conversations", "fr": "Conversations"},
    "new_conversation": {"en": "New conversation", "fr": "Nouvelle conversation"},
    "no_conversations": {"en": "No saved conversation yet.", "fr": "Aucune conversation enregistrée."},
    "this_conversation": {"en": "This conversation", "fr": "Cette conversation"},
    "conversation_title": {"en": "Title", "fr": "Titre"},
    "rename": {"en": "Rename", "fr": "Renommer"},
    "export_markdown": {"en": "Export as Markdown", "fr": "Exporter en Markdown"},
    "delete_conversation": {"en": "Delete this conversation", "fr": "Supprimer cette conversation"},
    "conversation_deleted": {"en": "Conversation deleted", "fr": "Conversation supprimée"},
    "feedback_comment": {
        "en": "What was wrong? (optional, saved with your rating)",
        "fr": "Qu'est-ce qui n'allait pas ? (facultatif, enregistré avec votre avis)",
    },
    "text_preview": {"en": "In the document:", "fr": "Dans le document :"},
    "status_added": {"en": "added", "fr": "ajouté"},
    "status_updated": {"en": "updated", "fr": "mis à jour"},
    "status_removed": {"en": "removed", "fr": "retiré"},
    "status_unchanged": {"en": "unchanged", "fr": "inchangé"},
    "status_skipped": {"en": "skipped", "fr": "ignoré"},
    "status_failed": {"en": "failed", "fr": "échec"},
    # the sidebar search filter (app/scope.py)
    "search_in": {"en": "Search in", "fr": "Chercher dans"},
    "collection": {"en": "Collection", "fr": "Collection"},
    "all_documents": {"en": "All documents", "fr": "Tous les documents"},
    "documents_placeholder": {"en": "All of them", "fr": "Tous"},
    "documents_help": {
        "en": "Ask only in these documents (none chosen: all of the collection).",
        "fr": "Ne chercher que dans ces documents (aucun choisi : toute la collection).",
    },
    "searched_in": {"en": "Searched in: {what}", "fr": "Recherche dans : {what}"},
    "in_collection": {"en": "collection “{name}”", "fr": "collection « {name} »"},
}


def t(key: str, lang: str = "en", **values: object) -> str:
    """The string ``key`` in ``lang`` (English when missing), formatted with ``values``."""
    entry = STRINGS[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


_UNITS_FR = {"slide": "diapositive", "slides": "diapositives", "part": "partie", "parts": "parties"}


def localise_place(label: str, lang: str) -> str:
    """A place label of :func:`ingest.locations.location_label` in the interface language."""
    if lang != "fr":
        return label
    word, _, rest = label.partition(" ")
    return f"{_UNITS_FR.get(word, word)} {rest}" if rest else label


def language_from_locale(locale: str | None) -> str:
    """``"fr"`` for a French browser locale (``fr``, ``fr-CA``…), else ``"en"``."""
    if locale and locale.replace("_", "-").split("-")[0].lower() == "fr":
        return "fr"
    return "en"
