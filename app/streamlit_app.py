"""Streamlit front end: upload and index documents, ask questions, read cited and highlighted sources.

The UI is thin: it calls the same functions as the ``rag`` CLI (``index_files``/``index_folder``,
``QA.retrieve``/``QA.stream``). Run with ``streamlit run app/streamlit_app.py`` (``scripts/run.sh``).

Tests drive uploads without the browser widget by putting ``(name, bytes)`` pairs in
``st.session_state["pending_uploads"]`` before a run; they are handled exactly like uploaded files.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # `streamlit run app/streamlit_app.py` puts app/ first on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from app.documents import delete_document, list_documents, needs_first_index, reindex_docs
from app.i18n import LANGUAGES, language_from_locale, t
from app.page_image import render_page
from app.render import answer_markdown, escape_markdown, quote_markdown, quoted_answer_markdown, timings_caption
from app.scope import scope_caption, sidebar_scope
from app.uploads import UploadResult, ingest_uploads
from ingest.indexer import FileStatus, IndexReport, ProgressFn
from rag.answer import QA, Answer
from rag.evidence import Quote
from rag.followup import rewrite_question
from rag.llm import LocalLLM, get_llm, installed_models
from rag.retrieve import Passage, Retriever
from rag.scope import Scope
from rag.settings import Settings, get_settings

# Session-state key: ``[(name, bytes), ...]`` handled like files from the uploader (used by tests).
# (A comment, not a docstring: Streamlit "magic" would print a bare string on the page.)
PENDING_UPLOADS = "pending_uploads"


# ---------------------------------------------------------------- cached resources (once per server process)


@st.cache_resource(show_spinner=False)
def load_llm(model: str, n_ctx: int, threads: int) -> LocalLLM:
    """The generator, loaded once per server process and model."""
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
        type=["pdf", "txt", "md", "markdown"],
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
    if st.session_state.get("messages") and side.button(t("clear_chat", lang), key="clear_chat", width="stretch"):
        st.session_state.messages = []
        st.rerun()
    return len(docs)


# ---------------------------------------------------------------- passages and answers


def show_whole_page(source: str, page: int, passage: str, lang: str) -> None:
    """Dialog body: the whole page at high resolution, highlighted, with a download button."""
    path = Path(source)
    png, _found = page_png(source, path.stat().st_mtime, page, passage, 2.0)
    st.image(png, width="stretch")
    st.download_button(
        t("download_page", lang), png, file_name=f"{path.stem}-page{page}.png", mime="image/png", key="dl_page"
    )


def render_passage(number: int, passage: Passage, lang: str, key: str, expanded: bool = False) -> None:
    """An expander with the passage (as plain text), its page image with the passage highlighted, and a zoom."""
    pages = f"{passage.page}–{passage.page_end}" if passage.page_end > passage.page else passage.page
    label = t("source_label", lang, n=number, name=passage.name, page=pages)
    with st.expander(escape_markdown(label), expanded=expanded):
        if passage.section:
            st.caption(escape_markdown(f"§ {passage.section}"))
        st.text(passage.text)
        path = Path(passage.source)
        if not path.is_file():
            st.caption(t("file_missing", lang))
            return
        if path.suffix.lower() != ".pdf":
            return
        try:
            png, found = page_png(passage.source, path.stat().st_mtime, passage.page, passage.text, 1.5, True)
        except Exception as exc:
            st.caption(t("error", lang, error=escape_markdown(str(exc))))
            return
        st.image(png, caption=t("page_of", lang, name=passage.name, page=passage.page), width=720)
        if not found:
            st.caption(t("highlight_missing", lang))
        if st.button(t("whole_page", lang), icon=":material/open_in_full:", key=f"page:{key}"):
            title = escape_markdown(t("page_of", lang, name=passage.name, page=passage.page))
            st.dialog(title, width="large")(show_whole_page)(passage.source, passage.page, passage.text, lang)


def render_quotes(quotes: list[Quote], lang: str) -> None:
    """The evidence quotes as block quotes with file and page (no widgets: shown as soon as retrieval ends)."""
    if not quotes:
        return
    st.caption(t("evidence", lang))
    for quote in quotes:
        st.markdown(quote_markdown(quote.text, lang))
        st.caption(escape_markdown(t("quote_source", lang, n=quote.number, name=quote.name, page=quote.page)))


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
        with st.expander(escape_markdown(t("source_label", lang, n=number, name=passage.name, page=passage.page))):
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
        render_quote_page(answer.evidence[0], answer.passages, lang, expanded=True)
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
                    st.caption(escape_markdown(t("source_label", lang, n=number, name=passage.name, page=passage.page)))
                    st.text(passage.text)
    timings = {**answer.timings, "rewrite_s": message.get("rewrite_s", 0.0)}
    st.caption(timings_caption(timings, lang, answer.refused))


def _escaped(pieces: Iterator[str]) -> Iterator[str]:
    for piece in pieces:
        yield escape_markdown(piece, lines=False)


def history_pairs(messages: list[dict]) -> list[tuple[str, str]]:
    """``(standalone question, answer text)`` of the finished turns, for follow-up rewriting."""
    return [(m["searched"], m["answer"].answer) for m in messages if m["role"] == "assistant" and m.get("answer")]


def answer_turn(question: str, settings: Settings, lang: str, index: int, scope: Scope | None = None) -> dict:
    """Rewrite (follow-ups), retrieve (within ``scope``), show sources, stream the answer, draw the finished turn."""
    message = {"role": "assistant", "question": question, "searched": question, "rewrite_s": 0.0}
    message["scope"] = scope_caption(scope, lang)
    history = history_pairs(st.session_state.messages)
    try:
        llm = None
        if history:
            with st.spinner(t("rewriting", lang)):
                llm = load_llm(settings.llm_model, settings.n_ctx, settings.threads)
                started = time.perf_counter()
                message["searched"] = rewrite_question(question, history, llm)
                message["rewrite_s"] = round(time.perf_counter() - started, 3)
        live = st.empty()
        with live.container():
            with st.spinner(t("searching", lang)):
                qa = QA(settings, retriever=load_retriever(str(settings.index_dir)), llm=llm)
                retrieval = qa.retrieve(message["searched"], settings.top_k, scope.sources if scope else None)
            if message["searched"] != question:
                st.caption(escape_markdown(t("searched_for", lang, question=message["searched"])))
            evidence = qa.evidence(message["searched"], retrieval)
            render_quotes(evidence.quotes, lang)
            render_sources_preview(retrieval.passages, lang)
            if llm is None:
                with st.spinner(t("loading_model", lang)):
                    llm = load_llm(settings.llm_model, settings.n_ctx, settings.threads)
            stream = QA(settings, retriever=qa.retriever, llm=llm).stream(message["searched"], retrieval, evidence)
            st.write_stream(_escaped(iter(stream)))
        live.empty()
        message["answer"] = stream.result
    except Exception as exc:
        message["error"] = t("error", lang, error=f"{type(exc).__name__}: {exc}")
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
    scope = sidebar_scope(settings, lang)
    count = sidebar_documents(settings, lang)

    messages = st.session_state.setdefault("messages", [])
    for index, message in enumerate(messages):
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(message["content"])
            else:
                render_answer(message, index, lang)
    if not count and not messages:
        st.info(t("empty_index", lang))
    if question := st.chat_input(t("ask", lang)):
        messages.append({"role": "user", "content": question})
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            messages.append(answer_turn(question, settings, lang, len(messages), scope))


main()
