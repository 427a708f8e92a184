"""Generation: the ``rag ask`` path (QA.stream) against raw llama-cpp-python on the identical prompt.

An index of ../shared/eval/localgpt is built into a temporary RAG_HOME. For each question the
retrieval runs once; the project then answers it with ``QA.stream(question, retrieval)`` and a
separately constructed ``llama_cpp.Llama`` (same GGUF file, same n_ctx/threads, llama-cpp-python
defaults otherwise) answers the very messages ``rag.prompt.build_messages`` produced, through
``create_chat_completion`` with the same max_tokens, temperature, top_p, repeat_penalty and seed.

* fresh: both KV caches are reset first, so the whole prompt is evaluated;
* warm: each instance has just answered the previous (different) question, so the shared prefix
  (chat template + system prompt) is reused from the KV cache (``cached_prompt_tokens``).

Time to first token (TTFT) is wall time from the call to the first non-empty text piece;
tokens/s counts streamed pieces after the first, up to the last piece (for both paths); the time
after the last piece is shown apart (raw: until the stream ends; project: citation/grounding checks).
The order project/raw alternates per question.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import _common as C

EVAL = C.REPO_ROOT.parent / "shared" / "eval" / "localgpt"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="", help="RAG_LLM_MODEL value (default: the settings' model)")
    p.add_argument("--questions", type=int, default=3, help="questions to answer (default 3)")
    p.add_argument("--max-tokens", type=int, default=0, help="override max_tokens (default: settings)")
    p.add_argument("--quick", action="store_true", help="2 questions, max_tokens 64")
    return p.parse_args()


def eval_questions() -> list[str]:
    """Questions from each localgpt jsonl in turn (hr, atlas7, acquisition...), answerable ones first."""
    per_file = []
    for path in sorted(EVAL.glob("*.jsonl")):
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        per_file.append([r["query"] for r in rows if r.get("expected")])
    out = []
    for i in range(max(map(len, per_file), default=0)):
        out.extend(rows[i] for rows in per_file if i < len(rows))
    return out


class Stats:
    def __init__(self) -> None:
        self.ttft = 0.0
        self.total = 0.0
        self.tokens = 0
        self.text = ""
        self.prompt_tokens = 0
        self.cached = 0
        self.tail = 0.0

    @property
    def tps(self) -> float:
        span = self.total - self.ttft
        return (self.tokens - 1) / span if self.tokens > 1 and span > 0 else 0.0


def run_project(qa, question: str, retrieval) -> tuple[Stats, float]:
    """QA.stream with a given retrieval; returns stats and the post-processing time after the last piece."""
    s = Stats()
    parts = []
    t0 = time.perf_counter()
    stream = qa.stream(question, retrieval)
    last = t0
    for piece in stream:
        if not parts:
            s.ttft = time.perf_counter() - t0
        parts.append(piece)
        last = time.perf_counter()
    end = time.perf_counter()
    s.total = last - t0
    s.tokens = len(parts)
    s.text = "".join(parts)
    timings = stream.result.timings if stream.result else {}
    s.prompt_tokens = int(timings.get("prompt_tokens", 0))
    s.cached = int(timings.get("cached_prompt_tokens", 0))
    return s, end - last


def run_raw(llama, messages: list[dict], settings) -> Stats:
    """create_chat_completion on the same messages and sampling parameters as rag.llm.LocalLLM.stream_chat."""
    s = Stats()
    before = list(llama.input_ids[: llama.n_tokens])
    parts = []
    t0 = time.perf_counter()
    last = t0
    for event in llama.create_chat_completion(
        messages=messages,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=0.9,
        repeat_penalty=1.1,
        stream=True,
        seed=0,
    ):
        piece = event["choices"][0]["delta"].get("content") or ""
        if not piece:
            continue
        if not parts:
            s.ttft = time.perf_counter() - t0
        parts.append(piece)
        last = time.perf_counter()
    s.tail = time.perf_counter() - last  # after the last piece until the stream ends
    s.total = last - t0  # same definition as run_project: up to the last text piece
    s.tokens = len(parts)
    s.text = "".join(parts)
    after = list(llama.input_ids[: llama.n_tokens])
    s.prompt_tokens = max(0, len(after) - s.tokens)
    n = 0
    for a, b in zip(before, after[: s.prompt_tokens], strict=False):
        if a != b:
            break
        n += 1
    s.cached = n
    return s


def main() -> None:
    args = parse_args()
    if args.quick:
        args.questions = min(args.questions, 2)
        args.max_tokens = args.max_tokens or 64
    C.header("generation")
    with tempfile.TemporaryDirectory(prefix="rag-bench-gen-") as tmp:
        os.environ["RAG_HOME"] = tmp
        from llama_cpp import Llama

        from ingest.indexer import index_folder
        from rag.answer import QA
        from rag.language import detect_language
        from rag.llm import Generation, get_llm
        from rag.prompt import build_messages
        from rag.settings import Settings

        overrides = {"home": Path(tmp)}
        if args.model:
            overrides["llm_model"] = args.model
        if args.max_tokens:
            overrides["max_tokens"] = args.max_tokens
        settings = Settings(**overrides)
        report = index_folder(EVAL, settings)
        print(f"indexed {EVAL}: {report.pages} pages, {report.chunks} chunks in {report.seconds:.1f}s")

        qa = QA(settings)
        t0 = time.perf_counter()
        project_llm = get_llm(settings)
        load_project = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw = Llama(model_path=str(project_llm.path), n_ctx=settings.n_ctx, n_threads=settings.threads, verbose=False)
        load_raw = time.perf_counter() - t0
        print(f"model {project_llm.path.name}; n_ctx {settings.n_ctx}, threads {settings.threads}, "
              f"max_tokens {settings.max_tokens}, temperature {settings.temperature}; "
              f"load: project {load_project:.1f}s, raw {load_raw:.1f}s", flush=True)  # fmt: skip

        questions = []
        for q in eval_questions():
            retrieval = qa.retrieve(q)
            if retrieval.passages and retrieval.best_score >= settings.min_score:
                questions.append((q, retrieval))
            if len(questions) == args.questions:
                break
        warmup = eval_questions()[-1]
        warm_messages = build_messages(warmup, qa.retrieve(warmup).passages, detect_language(warmup))

        rows, summary = [], {"fresh": [], "warm": []}
        for mode in ("fresh", "warm"):
            if mode == "warm":  # both instances answer an unrelated question first
                for _ in project_llm.stream_chat(warm_messages, 8, settings.temperature, Generation()):
                    pass
                run_raw(raw, warm_messages, settings.model_copy(update={"max_tokens": 8}))
            for i, (q, retrieval) in enumerate(questions):
                messages = build_messages(q, retrieval.passages, detect_language(q))
                results = {}
                order = ("project", "raw") if i % 2 == 0 else ("raw", "project")
                for who in order:
                    if mode == "fresh":
                        (project_llm.llama if who == "project" else raw).reset()
                    if who == "project":
                        results["project"], post = run_project(qa, q, retrieval)
                    else:
                        results["raw"] = run_raw(raw, messages, settings)
                p, r = results["project"], results["raw"]
                rows.append([f"q{i + 1}", mode, r.prompt_tokens, p.cached, r.cached, r.ttft, p.ttft,
                             C.ratio(p.ttft, r.ttft), r.tps, p.tps, C.ratio(p.tps, r.tps), r.tokens, p.tokens,
                             p.text.strip() == r.text.strip(), r.tail, post])  # fmt: skip
                summary[mode].append((C.ratio(p.ttft, r.ttft), C.ratio(p.tps, r.tps), p.ttft, r.ttft))
                print(f"  {mode} q{i + 1}: TTFT raw {r.ttft:.2f}s proj {p.ttft:.2f}s; tok/s raw {r.tps:.1f} "
                      f"proj {p.tps:.1f}; prompt {r.prompt_tokens} tok, cached proj {p.cached} raw {r.cached}; "
                      f"same text {p.text.strip() == r.text.strip()} ({C.load_line()})", flush=True)  # fmt: skip

        C.print_table(
            "per question: raw llama-cpp-python (baseline) vs project QA.stream, same prompt and sampling",
            ["q", "cache", "prompt tok", "cached tok (proj)", "cached tok (raw)", "TTFT raw s", "TTFT proj s",
             "TTFT ×", "tok/s raw", "tok/s proj", "tok/s ×", "tokens raw", "tokens proj", "same text",
             "tail s (raw)", "post s (proj)"],
            rows,
        )  # fmt: skip
        agg = []
        for mode, vals in summary.items():
            if vals:
                agg.append([mode, C.mean([v[3] for v in vals]), C.mean([v[2] for v in vals]),
                            C.mean([v[0] for v in vals]), C.mean([v[1] for v in vals])])  # fmt: skip
        C.print_table("mean over questions (targets: TTFT × <= 1.1, tok/s × >= 0.95)",
                      ["cache", "TTFT raw s", "TTFT proj s", "TTFT ×", "tok/s ×"], agg)  # fmt: skip
        fresh = {r[0]: r for r in rows if r[1] == "fresh"}
        kv = [[r[0], r[2], r[3], fresh[r[0]][6], r[6], C.ratio(r[6], fresh[r[0]][6])]
              for r in rows if r[1] == "warm"]  # fmt: skip
        C.print_table("KV-cache prefix reuse in the project (warm = after a different question)",
                      ["q", "prompt tok", "cached tok", "TTFT fresh s", "TTFT warm s", "warm/fresh"], kv)  # fmt: skip
        print("\nquestions:")
        for i, (q, retrieval) in enumerate(questions):
            ms, best = retrieval.seconds * 1000, retrieval.best_score
            print(f"  q{i + 1}: {q} (retrieval {ms:.0f} ms, best cosine {best:.2f})")
        print(f"done; {C.load_line()}")


if __name__ == "__main__":
    main()
