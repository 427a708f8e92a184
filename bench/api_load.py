"""Load on ``rag serve`` (localhost, bounded in time): N concurrent API clients search and ask while the folder is
re-indexed by ``rag index`` (a separate writer process) and documents are uploaded through ``POST /documents``.

1. Builds a folder of real PDFs (fpdf2; each holds a few invented facts) in a temporary RAG_HOME and indexes it.
2. Starts ``python -m rag.cli serve`` on a free 127.0.0.1 port (SmolLM2-135M in process unless --llm-url).
3. Baseline, same process: one client alone, sequential searches and questions.
4. Load: ``--clients`` clients for ``--duration`` seconds, ``--chat-clients`` of them looping on
   ``POST /v1/chat/completions`` (the answers queue for the one model), the others on ``GET /search``; meanwhile
   rounds of (rewrite some files, upload one through the API, run ``rag index`` on the folder) go on until the
   load ends.
5. Prints errors (any non-2xx reply, exception, empty result), p50/p95/max per request kind, requests/s, and the
   ratio of loaded to lone latency. No assertion: figures for bench/RESULTS.md.

    python bench/api_load.py                       # 50 clients (5 asking questions), 60 s
    python bench/api_load.py --clients 10 --chat-clients 0 --duration 20   # quick, search only
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common as C
import httpx

CITIES = ["Grenoble", "Lyon", "Nantes", "Lille", "Brest", "Nancy", "Rennes", "Dijon", "Tours", "Metz"]
THINGS = ["reactor", "bridge", "observatory", "dam", "library", "tunnel", "harbour", "museum", "stadium", "tower"]


def fact_pages(number: int, version: int) -> tuple[list[str], list[str]]:
    """Three pages about invented place ``number`` (``version`` changes its figures), and questions on it."""
    rng = random.Random(number)
    name = f"Zorblax-{number}"
    thing, city = rng.choice(THINGS), rng.choice(CITIES)
    year, staff = 1900 + (number * 7 + version) % 120, 20 + (number * 13 + version) % 900
    pages = [
        f"The {name} {thing} was built in {year} in {city}. It was designed by the engineer Ada Morel-{number}.",
        f"The {name} {thing} employs {staff} people. Its annual budget is {staff * 3} thousand euros.",
        f"Visitors reach the {name} {thing} by tram line {number % 9 + 1}. It closes on Mondays for maintenance.",
    ]
    questions = [f"When was the {name} {thing} built?", f"How many people work at the {name} {thing}?"]
    return pages, questions


def write_pdf(path: Path, pages: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    tmp = path.with_name(f".{path.name}.tmp")
    pdf.output(str(tmp))
    os.replace(tmp, path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"rag serve exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("rag serve did not start in time")


class Recorder:
    """Latencies and errors per request kind (thread-safe enough: appends under the GIL)."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def ok(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)

    def error(self, kind: str, what: str) -> None:
        self.errors.setdefault(kind, []).append(what)


async def one_request(http: httpx.AsyncClient, kind: str, question: str, k: int, rec: Recorder) -> None:
    started = time.perf_counter()
    try:
        if kind == "search":
            reply = await http.get("/search", params={"q": question, "k": k})
            good = reply.status_code == 200 and bool(reply.json()["passages"])
        else:
            body = {"model": "local-doc-qa", "messages": [{"role": "user", "content": question}], "max_tokens": 48}
            reply = await http.post("/v1/chat/completions", json=body)
            good = reply.status_code == 200 and bool(reply.json()["choices"][0]["message"]["content"])
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        rec.error(kind, f"{type(exc).__name__}: {exc}")
        return
    if good:
        rec.ok(kind, time.perf_counter() - started)
    else:
        rec.error(kind, f"HTTP {reply.status_code}: {reply.text[:200]}")


async def client_loop(
    http: httpx.AsyncClient, seed: int, deadline: float, questions: list[str], kind: str, rec: Recorder
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        await one_request(http, kind, rng.choice(questions), 5, rec)


def reindex_rounds(base: str, home: Path, docs: int, stop: threading.Event, rec: Recorder, rounds: list) -> None:
    """Until ``stop``: rewrite 3 PDFs with new figures, upload a new one through the API, run ``rag index``."""
    env = {**os.environ, "RAG_HOME": str(home)}
    folder = home / "docs"
    version = 0
    with httpx.Client(base_url=base, timeout=600) as http:
        while not stop.is_set():
            version += 1
            for number in range(version * 3, version * 3 + 3):
                write_pdf(folder / f"place-{number % docs:03d}.pdf", fact_pages(number % docs, version)[0])
            started = time.perf_counter()
            pages, _ = fact_pages(1000 + version, 0)
            upload = f"upload-{version:03d}.pdf"
            path = home / upload
            write_pdf(path, pages)
            reply = http.post("/documents", files=[("files", (upload, path.read_bytes(), "application/pdf"))])
            if reply.status_code == 201:
                rec.ok("upload", time.perf_counter() - started)
            else:
                rec.error("upload", f"HTTP {reply.status_code}: {reply.text[:200]}")
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "rag.cli", "index", str(folder)], env=env, cwd=C.REPO_ROOT, capture_output=True
            )
            seconds = time.perf_counter() - started
            rounds.append((version, seconds, done.returncode, done.stdout.decode().strip().splitlines()[:1]))
            if done.returncode == 0:
                rec.ok("rag index", seconds)
            else:
                rec.error("rag index", done.stderr.decode()[-300:])


async def baseline(base: str, questions: list[str], searches: int, chats: int) -> Recorder:
    rec = Recorder()
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        for i in range(searches):
            await one_request(http, "search", questions[i % len(questions)], 5, rec)
        for i in range(chats):
            await one_request(http, "chat", questions[i % len(questions)], 5, rec)
    return rec


async def load(base: str, args: argparse.Namespace, questions: list[str], rec: Recorder) -> float:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=args.request_timeout, limits=limits) as http:
        deadline = started + args.duration
        await asyncio.gather(
            *(
                client_loop(http, seed, deadline, questions, "chat" if seed < args.chat_clients else "search", rec)
                for seed in range(args.clients)
            )
        )
    return time.monotonic() - started


def rows(rec: Recorder, lone: Recorder | None, wall: float) -> list[list[object]]:
    out = []
    for kind in sorted(set(rec.latency) | set(rec.errors)):
        values = rec.latency.get(kind, [])
        p50, p95 = C.pct(values, 50), C.pct(values, 95)
        alone = lone.latency.get(kind, []) if lone else []
        out.append(
            [
                kind,
                len(values),
                len(rec.errors.get(kind, [])),
                len(values) / wall if wall else float("nan"),
                p50,
                p95,
                max(values, default=float("nan")),
                C.pct(alone, 50),
                C.ratio(p50, C.pct(alone, 50)) if alone else float("nan"),
            ]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds during which clients send requests")
    parser.add_argument("--chat-clients", type=int, default=5, help="clients asking questions (the others search)")
    parser.add_argument("--docs", type=int, default=30, help="PDFs (3 pages each) in the folder")
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--llm-url", default="", help="RAG_LLM_URL for the server (default: SmolLM2 in process)")
    args = parser.parse_args()
    C.header("api_load")
    print(
        f"{args.clients} clients, {args.duration:g} s, {args.chat_clients} of them asking questions (max 48 tokens), "
        f"{args.docs} PDFs; generation: {args.llm_url or 'SmolLM2-135M in process (one at a time)'}"
    )

    with tempfile.TemporaryDirectory(prefix="rag-api-load-") as tmp:
        home = Path(tmp)
        (home / "docs").mkdir()
        questions = []
        for number in range(args.docs):
            pages, asked = fact_pages(number, 0)
            write_pdf(home / "docs" / f"place-{number:03d}.pdf", pages)
            questions += asked
        env = {**os.environ, "RAG_HOME": str(home), "RAG_LLM_MODEL": "smollm2-135m", "RAG_LLM_URL": args.llm_url}
        env.pop("RAG_API_KEY", None)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "index", str(home / "docs")],
            env=env,
            check=True,
            cwd=C.REPO_ROOT,
            capture_output=True,
        )
        print(f"initial index: {time.perf_counter() - started:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (home / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=C.REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_up(f"{base}/health", server)
            lone = asyncio.run(baseline(base, questions, 20, 3 if args.chat_clients else 0))
            C.print_table(
                "one client alone (baseline, same process)",
                ["kind", "n", "errors", "p50 s", "p95 s"],
                [
                    [k, len(v), len(lone.errors.get(k, [])), C.pct(v, 50), C.pct(v, 95)]
                    for k, v in sorted(lone.latency.items())
                ],
            )
            rec, stop, rounds = Recorder(), threading.Event(), []
            writer = threading.Thread(target=reindex_rounds, args=(base, home, args.docs, stop, rec, rounds))
            writer.start()
            wall = asyncio.run(load(base, args, questions, rec))
            stop.set()
            writer.join()
            print(
                f"\nload: {wall:.1f} s wall; {C.load_line()} at the end; re-index rounds during it: "
                + ", ".join(f"#{v} {s:.1f}s (exit {rc})" for v, s, rc, _ in rounds)
            )
            C.print_table(
                f"{args.clients} clients while re-indexing",
                ["kind", "ok", "errors", "per s", "p50 s", "p95 s", "max s", "alone p50 s", "p50 ratio"],
                rows(rec, lone, wall),
            )
            for kind, errors in rec.errors.items():
                print(f"errors ({kind}): {len(errors)}; first: {errors[:3]}")
            total = sum(len(e) for e in rec.errors.values())
            docs = httpx.get(f"{base}/health").json()["documents"]
            print(f"\ntotal errors: {total}; documents indexed at the end: {docs}")
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


if __name__ == "__main__":
    main()
