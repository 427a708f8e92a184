"""Streamlit front end: upload and index documents, ask questions, read cited and highlighted sources.

The UI is thin: it calls the same functions as the ``rag`` CLI (``index_files``/``index_folder``,
``QA.retrieve``/``QA.stream``). Run with ``streamlit run app/streamlit_app.py`` (``scripts/run.sh``).
Conversations are saved in ``$RAG_HOME/conversations.sqlite3`` (:mod:`rag.conversations`): a question
before its answer streams, the answer when it is finished. The open conversation's id is kept in the
URL (``?c=...``), so a browser reload reopens it; a new browser session opens the latest one.

Tests drive uploads without the browser widget by putting ``(name, bytes)`` pairs in
``st.session_state["pending_uploads"]`` before a run; they are handled exactly like uploaded files.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # `streamlit run app/streamlit_app.py` puts app/ first on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from app.documents import delete_document, list_documents, needs_first_index, reindex_docs
from app.i18n import LANGUAGES, language_from_locale, localise_place, t
from app.page_image import locate, render_page
from app.render import (
    answer_markdown,
    escape_markdown,
    highlighted_markdown,
    quote_markdown,
    quoted_answer_markdown,
    timings_caption,
)
from app.scope import scope_caption, sidebar_scope
from app.uploads import UploadResult, ingest_uploads
from ingest.extract import SUPPORTED_SUFFIXES
from ingest.indexer import FileStatus, IndexReport, ProgressFn
from ingest.locations import has_page_images, location_label
from ingest.parse_guard import guarded_extract_document
from rag.answer import QA, Answer
from rag.conversations import ConversationStore, Message, export_markdown
from rag.evidence import Quote
from rag.followup import rewrite_question, search_context
from rag.llm import ChatModel, GenerationError, describe_llm, get_llm, installed_models
from rag.retrieve import Passage, Retriever
from rag.scope import Scope
from rag.settings import Settings, get_settings

# Session-state key: ``[(name, bytes), ...]`` handled like files from the uploader (used by tests).
# (A comment, not a docstring: Streamlit "magic" would print a bare string on the page.)
PENDING_UPLOADS = "pending_uploads"
CONVERSATION_PARAM = "c"  # URL query parameter holding the open conversation's id
NEW = "new"  # its value for a conversation not started yet


# ---------------------------------------------------------------- cached resources (once per server process)


@st.cache_resource(show_spinner=False)
def load_llm(model: str, n_ctx: int, threads: int, llm_url: str = "") -> ChatModel:
    """The generator, loaded once per server process and model (the model server's URL is part of the key: a model
    loaded in process is never used when a server is configured, nor the reverse)."""
    return get_llm(get_settings().model_copy(update={"n_ctx": n_ctx, "threads": threads}), model)


@st.cache_resource(show_spinner=False)
def load_retriever(index_dir: str) -> Retriever:
    """The retriever over ``index_dir``; it reloads the index itself when a new generation is committed."""
    settings = get_settings()
    return Retriever(settings.model_copy(update={"home": Path(index_dir).parent}))


@st.cache_data(show_spinner=False, max_entries=128)
def page_png(
    source: str, mtime: float, page: int, passage: str, scale: float, excerpt: bool = False
) -> tuple[bytes, bool]:
    """PNG of a PDF page (or of the band around the highlight) with ``passage`` highlighted, and whether it
    was located. ``mtime`` only keys the cache."""
    rendered = render_page(Path(source), page, passage, scale)
    return rendered.png(excerpt), rendered.found


@st.cache_data(show_spinner=False, max_entries=64)
def page_text(source: str, mtime: float, page: int) -> str:
    """The cleaned text of one page (slide, part) of a document, read again through the parsing worker.
    ``mtime`` only keys the cache."""
    document = guarded_extract_document(Path(source), source, get_settings())
    return next((p.text for p in document.pages if p.page == page), "")


# ---------------------------------------------------------------- conversations


def conversation_store() -> ConversationStore:
    """The conversations of this data folder."""
    return ConversationStore.for_settings(get_settings())


def turns_from(messages: list[Message]) -> list[dict]:
    """Saved messages as the chat's turns (the dictionaries :func:`answer_turn` makes)."""
    turns: list[dict] = []
    question = ""
    for m in messages:
        if m.role == "user":
            question = m.text
            turns.append({"role": "user", "content": m.text, "id": m.id})
            continue
        turn = {"role": "assistant", "question": question, "searched": m.searched or question, "id": m.id,
                "rewrite_s": m.timings.get("rewrite_s", 0.0), "rating": m.rating, "comment": m.comment}  # fmt: skip
        if m.answer is None:
            turn["error"] = m.error
        else:
            turn["answer"] = m.answer
        turns.append(turn)
    return turns


def open_conversation(store: ConversationStore, conversation_id: str | None) -> None:
    """Show a saved conversation (None: a new, empty one) and name it in the URL."""
    st.session_state.conversation_id = conversation_id
    st.session_state.messages = turns_from(store.messages(conversation_id)) if conversation_id else []
    st.query_params[CONVERSATION_PARAM] = conversation_id or NEW


def restore_conversation(store: ConversationStore) -> None:
    """Once per browser session: the conversation the URL names, else the latest one."""
    if "conversation_id" in st.session_state:
        return
    wanted = st.query_params.get(CONVERSATION_PARAM)
    latest = store.latest() if wanted is None else None
    if wanted and wanted != NEW and store.get(wanted) is not None:
        open_conversation(store, wanted)
    else:
        open_conversation(store, latest.id if latest else None)


def sidebar_conversations(box, store: ConversationStore, lang: str) -> None:
    """The conversation list (title, date), new conversation, and rename / export / delete of the open one."""
    box.subheader(t("conversations", lang))
    if box.button(t("new_conversation", lang), icon=":material/add:", key="new_conversation", width="stretch"):
        open_conversation(store, None)
        st.rerun()
    current = st.session_state.get("conversation_id")
    conversations = store.list()
    if not conversations:
        box.caption(t("no_conversations", lang))
    for conversation in conversations[:50]:
        when = datetime.fromtimestamp(conversation.updated).strftime("%Y-%m-%d %H:%M")
        kind = "primary" if conversation.id == current else "secondary"
        label = f"{escape_markdown(conversation.title, lines=False)} · {when}"
        if box.button(label, key=f"conv:{conversation.id}", type=kind, width="stretch"):
            open_conversation(store, conversation.id)
            st.rerun()
    opened = store.get(current) if current else None
    if opened is None:
        return
    with box.expander(t("this_conversation", lang)):
        title = st.text_input(t("conversation_title", lang), value=opened.title, key=f"title:{opened.id}")
        if st.button(t("rename", lang), icon=":material/edit:", key="rename_conversation") and title.strip():
            store.rename(opened.id, title)
            st.rerun()
        markdown = export_markdown(opened, store.messages(opened.id))
        st.download_button(
            t("export_markdown", lang),
            markdown.encode("utf-8"),
            file_name=f"{_file_stem(opened.title)}.md",
            mime="text/markdown",
            icon=":material/download:",
            key="export_conversation",
        )
        if st.button(t("delete_conversation", lang), icon=":material/delete:", key="delete_conversation"):
            store.delete(opened.id)
            open_conversation(store, None)
            st.toast(t("conversation_deleted", lang))
            st.rerun()


def _file_stem(title: str) -> str:
    stem = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()[:60]
    return stem or "conversation"


def save_feedback(message: dict) -> None:
    """Store the thumbs (and comment) of an answer (a widget callback)."""
    value = st.session_state.get(f"fb:{message['id']}")
    comment = st.session_state.get(f"fbc:{message['id']}", "") if value == 0 else ""
    rating = None if value is None else (1 if value == 1 else -1)
    conversation_store().set_feedback(message["id"], rating, comment)
    message["rating"], message["comment"] = rating or 0, comment


def render_feedback(message: dict, lang: str) -> None:
    """Thumbs up/down under a saved answer; a comment box after a thumbs down."""
    key = f"fb:{message['id']}"
    if key not in st.session_state and message.get("rating"):
        st.session_state[key] = 1 if message["rating"] > 0 else 0
    st.feedback("thumbs", key=key, on_change=save_feedback, args=(message,))
    if st.session_state.get(key) == 0:
        comment_key = f"fbc:{message['id']}"
        st.session_state.setdefault(comment_key, message.get("comment", ""))
        st.text_input(t("feedback_comment", lang), key=comment_key, on_change=save_feedback, args=(message,))


def place(source: str, page: int, page_end: int, section: str, lang: str) -> str:
    """Where a passage or quote is, in the interface language: "page 3", "slide 2", "§ Setup"."""
    return localise_place(location_label(source, page, page_end, section), lang)


# ---------------------------------------------------------------- settings and language


def ui_language() -> str:
    """The interface language chosen in the sidebar (default: the browser's, else English)."""
    if "ui_lang" not in st.session_state:
        locale = getattr(st.context, "locale", None)
        st.session_state.ui_lang = language_from_locale(locale)
    return st.sidebar.selectbox("Language / Langue", list(LANGUAGES), format_func=LANGUAGES.__getitem__, key="ui_lang")


def session_settings(base: Settings, lang: str) -> Settings:
    """The settings of this browser session: the sidebar's passages, model and temperature."""
    st.sidebar.subheader(t("settings", lang))
    if base.llm_url:  # answers come from a model server (RAG_LLM_URL): no local model to choose
        st.sidebar.caption(escape_markdown(t("remote_model", lang, where=describe_llm(base))))
        model = base.llm_model
    else:
        models = installed_models()
        options = [*models, base.llm_model] if base.llm_model not in models else models
        if not options:
            st.sidebar.error(t("no_model", lang))
            options = [base.llm_model]
        model = st.sidebar.selectbox(t("model", lang), options, index=options.index(base.llm_model), key="model")
    top_k = st.sidebar.slider(t("top_k", lang), 1, 10, min(max(base.top_k, 1), 10), key="top_k")
    temperature = st.sidebar.slider(
        t("temperature", lang), 0.0, 1.0, min(max(float(base.temperature), 0.0), 1.0), 0.05, key="temperature"
    )
    return base.model_copy(update={"llm_model": model, "top_k": top_k, "temperature": temperature})


# ---------------------------------------------------------------- indexing


def _status_label(status: FileStatus, lang: str) -> str:
    text = t("file_status", lang, name=Path(status.source).name, status=t(f"status_{status.status}", lang))
    return f"{text} ({status.reason})" if status.reason else text


def run_indexing(label: str, work: Callable[[ProgressFn], UploadResult | IndexReport], lang: str) -> None:
    """Run ``work(progress)`` (an indexing call) under a status box with per-file progress; keep a summary."""
    lines: list[tuple[str, str]] = []
    with st.status(label, expanded=True) as box:
        bar = st.progress(0.0)

        def progress(status: FileStatus, done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"{done}/{total}")
            st.text(_status_label(status, lang))

        try:
            result = work(progress)
        except Exception as exc:  # shown to the user, never swallowed silently
            lines.append(("error", t("error", lang, error=f"{type(exc).__name__}: {exc}")))
            box.update(label=t("indexing_failed", lang), state="error")
            st.session_state.index_summary = lines
            return
        rejected, report = (result.rejected, result.report) if isinstance(result, UploadResult) else ([], result)
        lines.extend(("error", t("rejected", lang, name=name, reason=reason)) for name, reason in rejected)
        lines.extend(_report_lines(report, lang))
        failed = bool(rejected) or any(f.status in ("failed", "skipped") for f in report.files)
        box.update(
            label=t("indexing_failed" if failed else "indexing_done", lang), state="error" if failed else "complete"
        )
    st.session_state.index_summary = lines


def _report_lines(report: IndexReport, lang: str) -> list[tuple[str, str]]:
    """Failures and skips one by one; the other files in one note; unchanged files only counted."""
    kinds = {"failed": "error", "skipped": "warning"}
    lines = [(kinds[f.status], _status_label(f, lang)) for f in report.files if f.status in kinds]
    done = [_status_label(f, lang) for f in report.files if f.status in ("added", "updated", "removed")]
    if report.counts["unchanged"]:
        done.append(t("unchanged_count", lang, n=report.counts["unchanged"]))
    if done:
        lines.append(("info", "\n".join(done)))
    return lines


def handle_uploads(files: list[tuple[str, bytes]], settings: Settings, lang: str) -> None:
    """Store and index uploaded ``(name, content)`` files: the code path of ``rag index``."""
    run_indexing(t("indexing", lang, n=len(files)), lambda progress: ingest_uploads(files, settings, progress), lang)


def first_start(settings: Settings, lang: str) -> None:
    """Index the documents folder once when the index is empty and the folder holds documents."""
    if st.session_state.get("first_start_done"):
        return
    st.session_state.first_start_done = True
    if needs_first_index(settings):
        run_indexing(
            t("first_index", lang, folder=escape_markdown(str(settings.docs_dir))),
            lambda progress: reindex_docs(settings, progress),
            lang,
        )


# ---------------------------------------------------------------- sidebar


def sidebar_documents(settings: Settings, lang: str) -> int:
    """Documents list with delete buttons, uploader, re-index button; returns the number of documents."""
    side = st.sidebar
    side.subheader(t("documents", lang))
    docs = list_documents(settings)
    if not docs:
        side.info(t("no_documents", lang))
    for doc in docs:
        name_col, button_col = side.columns([6, 1], vertical_alignment="center")
        name_col.text(doc.name)
        when = datetime.fromtimestamp(doc.indexed_at).strftime("%Y-%m-%d %H:%M")
        name_col.caption(t("doc_details", lang, pages=doc.pages, chunks=doc.chunks, when=when))
        if button_col.button(":material/delete:", key=f"delete:{doc.source}", help=t("delete", lang), type="tertiary"):
            delete_document(doc.source, settings)
            st.session_state.index_summary = [("info", t("deleted", lang, name=doc.name))]
            st.rerun()

    uploader_key = f"uploader_{st.session_state.setdefault('uploader_round', 0)}"
    uploaded = side.file_uploader(
        t("upload", lang),
        type=sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES),
        accept_multiple_files=True,
        key=uploader_key,
        help=t("upload_help", lang, mb=settings.max_file_mb, folder=escape_markdown(str(settings.docs_dir))),
        max_upload_size=max(1, round(settings.max_file_mb)),
    )
    pending = [(f.name, f.getvalue()) for f in uploaded or []] + st.session_state.pop(PENDING_UPLOADS, [])
    if pending:
        with side:
            handle_uploads(pending, settings, lang)
        st.session_state.uploader_round += 1
        st.rerun()
    if side.button(t("reindex", lang), icon=":material/refresh:", key="reindex", width="stretch"):
        with side:
            run_indexing(t("reindexing", lang), lambda progress: reindex_docs(settings, progress), lang)
        st.rerun()
    for kind, line in st.session_state.get("index_summary", []):
        getattr(side, kind)(escape_markdown(line))
    return len(docs)


# ---------------------------------------------------------------- passages and answers


WHOLE_PAGE = "whole_page"
"""Session key of the page shown in the dialog: (file name, path, page, passage text), until it is dismissed."""


def open_whole_page(name: str, source: str, page: int, passage: str) -> None:
    """Button callback: show this page in the dialog from this run on (a later rerun keeps it open)."""
    st.session_state[WHOLE_PAGE] = (name, source, page, passage)


def close_whole_page() -> None:
    """Dialog dismissed: stop showing it."""
    st.session_state.pop(WHOLE_PAGE, None)


def show_whole_page(source: str, page: int, passage: str, lang: str) -> None:
    """Dialog body: the whole page at high resolution, highlighted, with a download button."""
    path = Path(source)
    png, _found = page_png(source, path.stat().st_mtime, page, passage, 2.0)
    st.image(png, width="stretch")
    st.download_button(
        t("download_page", lang),
        png,
        file_name=f"{path.stem}-page{page}.png",
        mime="image/png",
        key="dl_page",
        on_click="ignore",
    )


def render_whole_page_dialog(lang: str) -> None:
    """The dialog of the page opened with "Open the whole page", on every run until the user dismisses it."""
    opened = st.session_state.get(WHOLE_PAGE)
    if not opened or not Path(opened[1]).is_file():
        return
    name, source, page, passage = opened
    title = escape_markdown(t("page_of", lang, name=name, page=page))
    st.dialog(title, width="large", on_dismiss=close_whole_page)(show_whole_page)(source, page, passage, lang)


def render_passage(number: int, passage: Passage, lang: str, key: str, expanded: bool = False) -> None:
    """An expander with the passage (as plain text), its page image with the passage highlighted, and a zoom."""
    where = place(passage.source, passage.page, passage.page_end, passage.section, lang)
    label = t("source_label", lang, n=number, name=passage.name, page=where)
    with st.expander(escape_markdown(label), expanded=expanded):
        if passage.section:
            st.caption(escape_markdown(f"§ {passage.section}"))
        st.text(passage.text)
        path = Path(passage.source)
        if not path.is_file():
            st.caption(t("file_missing", lang))
            return
        if not has_page_images(passage.source):
            render_text_preview(passage, lang)
            return
        try:
            png, found = page_png(passage.source, path.stat().st_mtime, passage.page, passage.text, 1.5, True)
        except Exception as exc:
            st.caption(t("error", lang, error=escape_markdown(str(exc))))
            return
        st.image(png, caption=t("page_of", lang, name=passage.name, page=passage.page), width=720)
        if not found:
            st.caption(t("highlight_missing", lang))
        st.button(
            t("whole_page", lang),
            icon=":material/open_in_full:",
            key=f"page:{key}",
            on_click=open_whole_page,
            args=(passage.name, passage.source, passage.page, passage.text),
        )


_HEADING_MARKS = re.compile(r"(?m)^#{1,6}[ \t]+")


def render_text_preview(passage: Passage, lang: str) -> None:
    """For a document without page images: the text of its page (slide, part) with the passage highlighted."""
    path = Path(passage.source)
    try:
        text = page_text(passage.source, path.stat().st_mtime, passage.page)
    except Exception as exc:
        st.caption(t("error", lang, error=escape_markdown(str(exc))))
        return
    text = _HEADING_MARKS.sub("", text)  # headings of Word, slides, EPUB and web pages are stored as "# Title"
    if not text:
        return
    st.caption(t("text_preview", lang))
    with st.container(border=True):
        st.markdown(highlighted_markdown(text, locate(text, passage.text)))


def quote_place(quote: Quote, passages: list[Passage], lang: str) -> str:
    """Where a quote is (its passage gives the section of documents without pages)."""
    section = passages[quote.number - 1].section if 0 < quote.number <= len(passages) else ""
    return place(quote.source, quote.page, 0, section, lang)


def render_quotes(quotes: list[Quote], passages: list[Passage], lang: str) -> None:
    """The evidence quotes as block quotes with file and page (no widgets: shown as soon as retrieval ends)."""
    if not quotes:
        return
    st.caption(t("evidence", lang))
    for quote in quotes:
        st.markdown(quote_markdown(quote.text, lang))
        where = quote_place(quote, passages, lang)
        st.caption(escape_markdown(t("quote_source", lang, n=quote.number, name=quote.name, page=where)))


def render_quote_page(quote: Quote, passages: list[Passage], lang: str, expanded: bool = False) -> None:
    """An expander with the quote's page image, the quoted sentence highlighted."""
    path = Path(quote.source)
    if path.suffix.lower() != ".pdf" or not path.is_file():
        return
    label = t("quote_on_page", lang, n=quote.number, name=quote.name, page=quote.page)
    with st.expander(escape_markdown(label), expanded=expanded):
        passage = passages[quote.number - 1] if 0 < quote.number <= len(passages) else None
        last = max(quote.page, getattr(passage, "page_end", 0) or 0)
        try:
            for page in range(quote.page, last + 1):  # a passage may run onto the next page
                png, found = page_png(quote.source, path.stat().st_mtime, page, quote.text, 1.5, True)
                if found or page == last:
                    break
        except Exception as exc:
            st.caption(t("error", lang, error=escape_markdown(str(exc))))
            return
        st.image(png, caption=t("page_of", lang, name=quote.name, page=page), width=720)
        if not found:
            st.caption(t("highlight_missing", lang))


def render_evidence(quotes: list[Quote], passages: list[Passage], lang: str) -> None:
    """The evidence quotes of a finished turn, each with its page image."""
    if not quotes:
        return
    st.caption(t("evidence", lang))
    for quote in quotes:
        st.markdown(quote_markdown(quote.text, lang))
        render_quote_page(quote, passages, lang)


def render_sources_preview(passages: list[Passage], lang: str) -> None:
    """The retrieved passages as soon as retrieval ends (no widgets: redrawn when the answer is done)."""
    st.caption(t("sources", lang))
    for number, passage in enumerate(passages, 1):
        where = place(passage.source, passage.page, passage.page_end, passage.section, lang)
        with st.expander(escape_markdown(t("source_label", lang, n=number, name=passage.name, page=where))):
            st.text(passage.text)


def render_answer(message: dict, index: int, lang: str) -> None:
    """A finished assistant turn: answer, citations with their passages, timings."""
    if message.get("error"):
        st.error(escape_markdown(message["error"]))
        return
    answer: Answer = message["answer"]
    if message.get("scope"):
        st.caption(escape_markdown(message["scope"]))
    if message["searched"] != message["question"]:
        st.caption(escape_markdown(t("searched_for", lang, question=message["searched"])))
    if answer.quoted:
        st.caption(t("quoted_answer", lang))
        st.markdown(quoted_answer_markdown(answer, lang))
        shown = answer.quote or (answer.evidence[0] if answer.evidence else None)  # older records: the first quote
        if shown is not None:
            render_quote_page(shown, answer.passages, lang, expanded=True)
        for citation in answer.citations:
            render_passage(citation.number, answer.passages[citation.number - 1], lang, f"{index}:{citation.number}")
    elif answer.refused:
        st.markdown(escape_markdown(answer.answer))
        if answer.passages:
            st.caption(t("closest", lang))
            for number, passage in enumerate(answer.passages[:3], 1):
                render_passage(number, passage, lang, f"{index}:{number}")
    else:
        st.markdown(answer_markdown(answer, lang))
        if not answer.grounded:
            st.caption(t("unsupported", lang))
        render_evidence(answer.evidence, answer.passages, lang)
        cited = {c.number for c in answer.citations}
        if cited:
            st.caption(t("citations", lang))
        for number in sorted(cited):
            render_passage(number, answer.passages[number - 1], lang, f"{index}:{number}")
        others = [(n, p) for n, p in enumerate(answer.passages, 1) if n not in cited]
        if others:
            with st.expander(t("all_passages", lang, n=len(answer.passages))):
                for number, passage in enumerate(answer.passages, 1):
                    where = place(passage.source, passage.page, passage.page_end, passage.section, lang)
                    st.caption(escape_markdown(t("source_label", lang, n=number, name=passage.name, page=where)))
                    st.text(passage.text)
    timings = {**answer.timings, "rewrite_s": message.get("rewrite_s", 0.0)}
    st.caption(timings_caption(timings, lang, answer.refused))
    if message.get("id"):
        render_feedback(message, lang)


def _escaped(pieces: Iterator[str]) -> Iterator[str]:
    for piece in pieces:
        yield escape_markdown(piece, lines=False)


def history_pairs(messages: list[dict]) -> list[tuple[str, str]]:
    """``(standalone question, answer text)`` of the finished turns, for follow-up rewriting."""
    return [(m["searched"], m["answer"].answer) for m in messages if m["role"] == "assistant" and m.get("answer")]


def answer_turn(
    question: str, settings: Settings, lang: str, index: int, store: ConversationStore, scope: Scope | None = None
) -> dict:
    """Rewrite (follow-ups), retrieve (within ``scope``), show sources, stream the answer, save it, then draw the
    finished turn."""
    message = {"role": "assistant", "question": question, "searched": question, "rewrite_s": 0.0}
    message["scope"] = scope_caption(scope, lang)
    history = history_pairs(st.session_state.messages)
    try:
        llm = None
        if history:
            with st.spinner(t("rewriting", lang)):
                llm = load_llm(settings.llm_model, settings.n_ctx, settings.threads, settings.llm_url)
                started = time.perf_counter()
                message["searched"] = rewrite_question(question, history, llm)
                message["rewrite_s"] = round(time.perf_counter() - started, 3)
        live = st.empty()
        with live.container():
            with st.spinner(t("searching", lang)):
                qa = QA(settings, retriever=load_retriever(str(settings.index_dir)), llm=llm)
                retrieval = qa.retrieve(
                    message["searched"], settings.top_k, scope.sources if scope else None, search_context(history)
                )
            if message["searched"] != question:
                st.caption(escape_markdown(t("searched_for", lang, question=message["searched"])))
            evidence = qa.evidence(message["searched"], retrieval)
            render_quotes(evidence.quotes, retrieval.passages, lang)
            render_sources_preview(retrieval.passages, lang)
            if llm is None:
                with st.spinner(t("loading_model", lang)):
                    llm = load_llm(settings.llm_model, settings.n_ctx, settings.threads, settings.llm_url)
            stream = QA(settings, retriever=qa.retriever, llm=llm).stream(message["searched"], retrieval, evidence)
            st.write_stream(_escaped(iter(stream)))
        live.empty()
        message["answer"] = stream.result
    except GenerationError as exc:  # the model server failed: a message, never a half answer
        message["error"] = t("error", lang, error=str(exc))
    except Exception as exc:
        message["error"] = t("error", lang, error=f"{type(exc).__name__}: {exc}")
    message["id"] = store.add_answer(
        st.session_state.conversation_id,
        message.get("answer"),
        message["searched"],
        message.get("error", ""),
        {"rewrite_s": message["rewrite_s"]},
    )
    render_answer(message, index, lang)
    return message


# ---------------------------------------------------------------- page


def main() -> None:
    """The whole page, top to bottom."""
    st.set_page_config(page_title="Local document Q&A", page_icon=":material/description:", layout="wide")
    base = get_settings()
    lang = ui_language()
    st.title(t("title", lang))
    st.caption(t("subtitle", lang))
    first_start(base, lang)
    settings = session_settings(base, lang)
    store = conversation_store()
    restore_conversation(store)
    conversations_box = st.sidebar.container()  # filled last, so a conversation started below is listed
    scope = sidebar_scope(settings, lang)
    count = sidebar_documents(settings, lang)

    messages = st.session_state.messages
    for index, message in enumerate(messages):
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(message["content"])
            else:
                render_answer(message, index, lang)
    if not count and not messages:
        st.info(t("empty_index", lang))
    if question := st.chat_input(t("ask", lang)):
        if st.session_state.conversation_id is None:
            st.session_state.conversation_id = store.create(question).id
            st.query_params[CONVERSATION_PARAM] = st.session_state.conversation_id
        # Saved before the answer streams: a crash loses at most the answer in flight.
        question_id = store.add_question(st.session_state.conversation_id, question)
        messages.append({"role": "user", "content": question, "id": question_id})
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            messages.append(answer_turn(question, settings, lang, len(messages), store, scope))
    sidebar_conversations(conversations_box, store, lang)
    render_whole_page_dialog(lang)


main()
