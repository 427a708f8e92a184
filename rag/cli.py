"""The ``rag`` command: index a folder, search, ask, evaluate, list and remove documents, manage collections,
serve the HTTP API."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from datetime import datetime
from pathlib import Path

from rag.settings import Settings, describe_settings, get_settings


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _place(passage) -> str:
    """Where a passage is: "page 3", "slide 2", or the section of a Word/EPUB/web document."""
    from ingest.locations import location_label

    return location_label(passage.source, passage.page, passage.page_end, passage.section)


def _open_scope(args: argparse.Namespace, settings: Settings):
    """The configured store and the scope of ``--collection`` / ``--file`` resolved against it (before any model
    loads, so a wrong name fails fast); a :class:`rag.scope.ScopeError` names what exists."""
    from ingest.backends import open_store
    from rag.scope import scope_of

    store = open_store(settings)
    try:
        return store, scope_of(store, args.collection or (), args.file or ())
    except BaseException:
        store.close()
        raise


def _add_scope_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--collection", action="append", metavar="NAME", help="only the documents of this collection (repeatable)"
    )
    p.add_argument(
        "--file",
        action="append",
        metavar="PATTERN",
        help="only documents whose file name matches this glob, e.g. 'notes*.pdf' (repeatable or comma-separated)",
    )


def _sources(paths: list[str], settings: Settings) -> list[str]:
    """Index sources for command-line paths: a file as ``rag remove`` takes it, a folder as its indexed files."""
    from ingest.backends import open_store

    wanted = []
    folders = []
    for value in paths:
        path = Path(value)
        if path.is_dir():
            folders.append(str(path.resolve()) + "/")
        else:
            wanted.append(str(path.resolve()) if path.exists() else value)
    if folders:
        index = open_store(settings)
        try:
            indexed = [f.source for f in index.files()]
        finally:
            index.close()
        for folder in folders:
            inside = [s for s in indexed if s.startswith(folder)]
            if not inside:
                raise ValueError(f"no indexed document in {folder}")
            wanted.extend(inside)
    return list(dict.fromkeys(wanted))


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    """Sync a folder into the index, with a progress bar and a summary."""
    from tqdm import tqdm

    from ingest.indexer import index_folder

    folder = Path(args.folder) if args.folder else settings.docs_dir
    bar = tqdm(total=0, unit="file", disable=args.json or (not sys.stderr.isatty() and not args.progress))
    chunks = 0

    def progress(status, done, total):
        nonlocal chunks
        chunks += status.chunks if status.status in ("added", "updated") else 0
        bar.total = total
        bar.set_postfix(chunks=chunks, refresh=False)
        bar.update(done - bar.n)
        if status.status == "failed" and not args.json:
            bar.write(f"failed: {status.source}: {status.reason}")

    report = index_folder(folder, settings, progress=progress, collection=args.collection)
    bar.close()
    if args.json:
        _print_json(
            {
                "counts": report.counts,
                "collection": report.collection or None,
                "joined": report.joined,
                "chunks": report.chunks,
                "pages": report.pages,
                "seconds": round(report.seconds, 3),
                "files": [f.__dict__ for f in report.files],
            }
        )
    else:
        counts = ", ".join(f"{n} {s}" for s, n in report.counts.items())
        print(f"{folder}: {counts}")
        if report.chunks:
            rate = report.chunks / report.embed_seconds if report.embed_seconds else 0
            print(
                f"{report.pages} pages, {report.chunks} chunks in {report.seconds:.1f}s ({rate:.1f} chunks/s embedding)"
            )
        for f in report.files:
            if f.status in ("failed", "skipped"):
                print(f"  {f.status}: {f.source}: {f.reason}")
        if report.collection:
            print(f"collection {report.collection!r}: {report.joined} document(s) joined")
    return 1 if report.counts["failed"] else 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Print the top passages for a question."""
    from rag.retrieve import Retriever

    store, scope = _open_scope(args, settings)
    retrieval = Retriever(settings, store=store).search(args.question, args.k, not args.dense, scope.sources)
    if args.json:
        _print_json([p.to_dict() for p in retrieval.passages])
        return 0
    if not retrieval.passages:
        empty = "The index is empty: run `rag index FOLDER` first."
        print("No passage in the chosen documents." if scope.sources else empty)
        return 1
    if not scope.whole_index:
        print(f"searched in: {scope.describe()}")
    for rank, p in enumerate(retrieval.passages, 1):
        print(f"{rank}. {p.name}, {_place(p)}  (cosine {p.score:.3f})  {p.source}")
        if p.section:
            print(f"   § {p.section}")
        print(textwrap.indent(textwrap.fill(p.text, 100), "   "))
    print(f"({retrieval.seconds * 1000:.0f} ms)")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Answer a question from the documents, streaming it to the terminal."""
    from ingest.locations import location_label
    from rag.answer import QA
    from rag.retrieve import Retriever

    store, scope = _open_scope(args, settings)
    qa = QA(settings, Retriever(settings, store=store))
    retrieval = qa.retrieve(args.question, args.k, scope.sources)
    evidence = qa.evidence(args.question, retrieval)
    if not args.json and not scope.whole_index:
        print(f"searched in: {scope.describe()}\n")
    if not args.json and evidence.quotes:
        print("Evidence (quoted from the documents):")
        for quote in evidence.quotes:
            print(textwrap.indent(textwrap.fill(f'"{" ".join(quote.text.split())}"', 96), "  "))
            section = retrieval.passages[quote.number - 1].section
            print(f"    [{quote.number}] {quote.name}, {location_label(quote.source, quote.page, 0, section)}")
        print(flush=True)
    stream = qa.stream(args.question, retrieval, evidence)
    streamed = []
    for piece in stream:
        streamed.append(piece)
        if not args.json:
            print(piece, end="", flush=True)
    answer = stream.result
    if args.json:
        _print_json({**answer.to_dict(), "scope": None if scope.whole_index else scope.to_dict()})
        return 0
    print()
    if answer.quoted:
        print(f"\nThe model's answer was not supported by the passages; quoting them instead:\n{answer.answer}")
    elif answer.answer != "".join(streamed).strip():  # refusal after the check, or citations attached
        print(f"\nChecked answer: {answer.answer}")
    if answer.refused and answer.passages:
        print("\nClosest passages:")
        for p in answer.passages[:3]:
            print(f"  - {p.name}, {_place(p)} (cosine {p.score:.2f})")
    for check in answer.sentences:
        if not check.supported:
            print(f"  ! not supported by the passages: {check.text}")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.number}] {c.name}, {_place(answer.passages[c.number - 1])}  ({c.source})")
    t = answer.timings
    print(
        f"\n(retrieval {t.get('retrieval_s', 0) * 1000:.0f} ms, evidence {t.get('evidence_s', 0) * 1000:.0f} ms, "
        f"first token {t.get('first_token_s', 0):.2f} s, "
        f"total {t.get('total_s', 0):.2f} s, {t.get('tokens_per_s', 0):.1f} tokens/s, "
        f"prompt {t.get('prompt_tokens', 0)} tokens of which {t.get('cached_prompt_tokens', 0)} cached)",
        file=sys.stderr,
    )
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Score retrieval (and answers) on a gold file."""
    from ingest.indexer import index_folder
    from rag.answer import QA
    from rag.evaluate import evaluate, read_gold
    from rag.retrieve import Retriever

    if args.baseline and not args.corpus:
        raise ValueError("--baseline needs --corpus (the folder the naive pipeline reads)")
    if args.corpus:
        joins = args.collection[0] if args.collection and len(args.collection) == 1 else None
        report = index_folder(Path(args.corpus), settings, collection=joins)
        print(f"indexed {args.corpus}: {report.counts}", file=sys.stderr)
    rows = read_gold(Path(args.gold))
    store, scope = _open_scope(args, settings)
    if not scope.whole_index:
        print(f"searched in: {scope.describe()}", file=sys.stderr)
    retriever = Retriever(settings, store=store)
    qa = QA(settings, retriever) if args.answers else None
    report = evaluate(rows, retriever, args.k, qa, sources=scope.sources)
    summary = report.summary()
    baseline = None
    if args.baseline:
        from rag.baseline import NaiveBaseline, score_gold

        baseline = score_gold(rows, NaiveBaseline.from_folder(Path(args.corpus)), args.k)
    if args.json:
        scoped = {} if scope.whole_index else {"scope": scope.to_dict()}
        _print_json({"summary": summary, "rows": report.rows, **scoped, **({"baseline": baseline} if baseline else {})})
        return 0
    for key, value in summary.items():
        print(f"{key:>26}: {value}")
    if baseline:
        print("\nnaive baseline (pypdf text, 200-word windows, dense MiniLM) beside the project:")
        for key in (f"recall@{args.k}", "mrr"):
            print(f"{key:>26}: {summary.get(key, 0.0)} (project)  {baseline[key]} (baseline)")
    misses = [r for r in report.rows if not r["unanswerable"] and not r["hit"]]
    if misses:
        print(f"\nmisses at k={args.k}:")
        for r in misses:
            print(f"  {r['id']}: {r['query']}\n      top: {', '.join(r['top'][:3])}")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    """Write the thumbs-down answers of the app's conversations as a gold JSON-lines file to look at."""
    from rag.conversations import ConversationStore, feedback_gold_rows

    rows = feedback_gold_rows(ConversationStore.for_settings(settings), 1 if args.up else -1)
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if args.out and args.out != "-":
        Path(args.out).write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    kind = "thumbs-up" if args.up else "thumbs-down"
    where = f" to {args.out}" if args.out and args.out != "-" else ""
    print(f"{len(rows)} {kind} answer{'s' if len(rows) != 1 else ''} written{where}", file=sys.stderr)
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    """List the indexed documents."""
    from ingest.backends import open_store

    index = open_store(settings)
    try:
        files = index.files()
    finally:
        index.close()
    if args.json:
        _print_json([f.to_dict() for f in files])
        return 0
    for f in files:
        when = datetime.fromtimestamp(f.indexed_at).strftime("%Y-%m-%d %H:%M")
        groups = f"  [{', '.join(f.collections)}]" if f.collections else ""
        print(f"{f.pages:>5} p {f.chunks:>6} chunks  {when}  {f.source}{groups}")
    print(f"{len(files)} documents")
    return 0


def cmd_collections(args: argparse.Namespace, settings: Settings) -> int:
    """List the collections with their documents."""
    from ingest.backends import open_store

    index = open_store(settings)
    try:
        with index.read() as reader:
            collections = reader.collections()
    finally:
        index.close()
    if args.json:
        _print_json([{"name": name, "sources": sources} for name, sources in collections.items()])
        return 0
    for name, sources in collections.items():
        print(f"{name}  ({len(sources)} document{'s' if len(sources) != 1 else ''})")
        for source in sources:
            print(f"    {Path(source).name}  {source}")
    if not collections:
        print("no collections: `rag index FOLDER --collection NAME` or `rag collection add NAME PATH...` makes one")
    return 0


def cmd_collection(args: argparse.Namespace, settings: Settings) -> int:
    """Add documents to a collection, take them out, or delete the collection (its documents stay indexed)."""
    from ingest.indexer import add_to_collection, remove_from_collection

    if args.action == "delete":
        if args.paths:
            raise ValueError("`rag collection delete NAME` takes no paths (use `remove NAME PATH...`)")
        count = remove_from_collection(args.name, None, settings)
        if not count:
            raise ValueError(f"no collection named {args.name!r}")
        print(f"deleted collection {args.name!r} ({count} document(s) left it, still indexed)")
        return 0
    if not args.paths:
        raise ValueError(f"`rag collection {args.action} NAME PATH...` needs at least one path")
    sources = _sources(args.paths, settings)
    if args.action == "add":
        count = add_to_collection(args.name, sources, settings)
        print(f"collection {args.name!r}: {count} of {len(sources)} document(s) joined")
        return 0
    count = remove_from_collection(args.name, sources, settings)
    print(f"collection {args.name!r}: {count} of {len(sources)} document(s) left")
    return 0 if count == len(sources) else 1


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Drop documents from the index."""
    from ingest.indexer import remove_sources

    sources = [str(Path(s).resolve()) if Path(s).exists() else s for s in args.sources]
    report = remove_sources(sources, settings)
    print(f"removed {report.counts['removed']} of {len(sources)}")
    return 0 if report.counts["removed"] == len(sources) else 1


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the HTTP API (``rag.api``) with uvicorn until interrupted."""
    import uvicorn

    from rag.api import create_app

    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        print(
            f"warning: serving on {args.host} without RAG_API_KEY: anyone who can reach it can read and delete "
            "your documents",
            file=sys.stderr,
        )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every setting documented in the epilog."""
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Private question answering over your own PDFs, on the CPU.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings (environment variables, or keys without RAG_ in $RAG_HOME/rag.toml or $RAG_CONFIG):\n"
        + describe_settings(),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index a folder incrementally (default: the data folder's docs/)")
    p.add_argument("folder", nargs="?")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    p.add_argument("--collection", metavar="NAME", help="the folder's documents join this collection")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="print the passages that best match a question")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--dense", action="store_true", help="dense vectors only, no BM25 fusion")
    p.add_argument("--json", action="store_true", help="print a JSON list of passages")
    _add_scope_arguments(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question from the documents, with cited pages")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages in the prompt (default: RAG_TOP_K)")
    p.add_argument("--json", action="store_true", help="print the answer, citations and timings as JSON")
    _add_scope_arguments(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score retrieval (and answers) on a gold JSON-lines file")
    p.add_argument("gold")
    p.add_argument("--corpus", help="folder to index before evaluating")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--answers", action="store_true", help="also generate answers and score them")
    p.add_argument("--baseline", action="store_true", help="also score a naive RAG pipeline over --corpus")
    p.add_argument("--json", action="store_true")
    _add_scope_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("feedback", help="the app's thumbs-down answers as a gold JSON-lines file to review")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--up", action="store_true", help="the thumbs-up answers instead")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("docs", help="list indexed documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("remove", help="remove documents from the index")
    p.add_argument("sources", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("serve", help="serve the HTTP API (OpenAI-compatible chat, search, documents)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("collections", help="list the collections and their documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_collections)

    p = sub.add_parser("collection", help="add documents to a collection, remove them, or delete it")
    p.add_argument("action", choices=["add", "remove", "delete"])
    p.add_argument("name")
    p.add_argument("paths", nargs="*", metavar="PATH", help="indexed files, or folders (their indexed files)")
    p.set_defaults(func=cmd_collection)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rag`` console script."""
    from rag.llm import GenerationError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args, get_settings())
    except (FileNotFoundError, NotADirectoryError, ValueError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GenerationError as exc:  # the model server failed: no answer is printed as if it were complete
        print(f"\nerror: no answer: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
