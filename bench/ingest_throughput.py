"""Ingestion throughput: the project's ``index_folder`` against raw SentenceTransformer.encode.

(a) full ``index_folder`` into a temporary RAG_HOME (pages/s, chunks/s, wall time);
(b) raw ``SentenceTransformer.encode`` of exactly the texts the index embeds (each chunk with its title and
    section line) with the same model object and batch size: ratio pipeline/raw (target >= 0.9x);
(c) re-indexing the unchanged folders, scaled per 1,000 pages;
(d) ``--onnx``: ONNX Runtime fp32 and int8 against torch on the same chunks (speed, cosine
    agreement, top-5 agreement);
(e) ``--llamaindex``: LlamaIndex's default pipeline on the same PDFs, and with project-sized chunks.

Optional packages go into /tmp/rag-bench-* folders (``pip --target --no-deps``), never the venv.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import _common as C
import numpy as np

EVAL = C.REPO_ROOT.parent / "shared" / "eval"
DEFAULT_FOLDERS = [EVAL / "localgpt", EVAL / "papers"]

ONNX_PINS = ["flatbuffers==25.12.19", "ml_dtypes==0.6.0", "onnx==1.23.2", "onnxruntime==1.32.0"]
# Resolved with `pip install --dry-run` against torch==2.13.0 / transformers==5.24.0 (nothing in the venv moves).
# llama-index-readers-file wants pypdf<7 and pandas<3; the venv's pypdf 7 / pandas 3 are used (PDFReader works).
LLAMAINDEX_PINS = [
    "Deprecated==1.3.1", "SQLAlchemy==2.1.9", "aiohappyeyeballs==2.7.1", "aiohttp==3.14.5", "aiosignal==1.4.0",
    "aiosqlite==0.22.1", "banks==2.5.1", "colorama==0.4.6", "dataclasses-json==0.6.7", "dirtyjson==1.0.8",
    "filetype==1.2.0", "frozenlist==1.8.0", "griffe==2.4.1", "griffecli==2.4.1", "griffelib==2.4.1",
    "httpcore==1.0.9", "httpx==0.28.1", "llama-index-core==0.14.25", "llama-index-embeddings-huggingface==0.8.0",
    "llama-index-instrumentation==0.6.0", "llama-index-workflows==2.26.1", "llama-index-readers-file==0.7.0",
    "marshmallow==3.26.2", "multidict==7.2.1", "mypy_extensions==1.2.0", "nest-asyncio==1.6.0", "nltk==3.10.4",
    "platformdirs==4.14.8", "propcache==0.5.4", "tenacity==9.2.1", "tiktoken==0.14.0", "tinytag==2.3.2",
    "typing-inspect==0.9.0", "wrapt==2.5.2", "yarl==1.25.1", "beautifulsoup4==4.15.0", "soupsieve==4.1.3",
    "striprtf==0.0.26",
]  # fmt: skip


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="*", type=Path, help="folders to index (default: eval localgpt + papers)")
    p.add_argument("--quick", action="store_true", help="only the first folder, one repetition")
    p.add_argument("--repeat", type=int, default=2, help="alternating pipeline/raw repetitions (default 2)")
    p.add_argument("--batch-size", type=int, default=32, help="embedding batch size (default 32, the setting)")
    p.add_argument("--onnx", action="store_true", help="also compare ONNX Runtime fp32/int8 against torch")
    p.add_argument("--llamaindex", action="store_true", help="also run LlamaIndex's default pipeline")
    return p.parse_args()


def default_folders() -> list[Path]:
    found = [f for f in DEFAULT_FOLDERS if f.is_dir()]
    return found or [C.REPO_ROOT / "data" / "docs"]


def new_settings(home: Path, batch_size: int):
    os.environ["RAG_HOME"] = str(home)
    from rag.settings import Settings

    return Settings(home=home, embed_batch_size=batch_size)


def run_pipeline(folders: list[Path], embedder, batch_size: int) -> tuple[list[list], dict, list[str]]:
    """Index every folder into a fresh temp home; rows per folder, totals, and the embedded texts."""
    from ingest import store
    from ingest.indexer import index_folder

    rows, totals = [], {"pages": 0, "chunks": 0, "seconds": 0.0, "embed": 0.0, "cpu": 0.0}
    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp:
        settings = new_settings(Path(tmp), batch_size)
        for folder in folders:
            cpu0 = time.process_time()
            report = index_folder(folder, settings, embedder=embedder)
            totals["cpu"] += time.process_time() - cpu0
            rows.append([folder.name, report.pages, report.chunks, report.seconds, report.embed_seconds])
            totals["pages"] += report.pages
            totals["chunks"] += report.chunks
            totals["seconds"] += report.seconds
            totals["embed"] += report.embed_seconds
            failed = [f for f in report.files if f.status == "failed"]
            if failed:
                reasons = "; ".join(f"{Path(f.source).name}: {f.reason}" for f in failed)
                print(f"  {folder}: {len(failed)} failed files: {reasons}")
        collection = store.load(settings.index_dir)
        texts = [collection.chunks[i].indexed_text() for i in sorted(collection.chunks)]  # what index_folder embeds
        # (c) unchanged re-index: hashing + triage + loading the committed generation.
        reindex = 0.0
        for folder in folders:
            report = index_folder(folder, settings, embedder=embedder)
            reindex += report.seconds
        totals["reindex"] = reindex
    return rows, totals, texts


RAW_CPU: list[float] = []
"""Process CPU seconds of each raw encode (less sensitive than wall time to other processes' load)."""


def raw_encode(model, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    t0, cpu0 = time.perf_counter(), time.process_time()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    RAW_CPU.append(time.process_time() - cpu0)
    return np.asarray(vectors, dtype=np.float32), time.perf_counter() - t0


def extract_only(folders: list[Path]) -> tuple[int, int, float]:
    """Parsing + chunking alone, serially (what the background thread does)."""
    from ingest.chunking import chunk_pages
    from ingest.extract import ExtractionError, extract_pages
    from ingest.indexer import scan_folder

    pages = chunks = 0
    t0 = time.perf_counter()
    for folder in folders:
        for path in scan_folder(folder):
            try:
                found = extract_pages(path)
            except ExtractionError:
                continue
            pages += len(found)
            chunks += len(chunk_pages(found, 120, 24))
    return pages, chunks, time.perf_counter() - t0


def eval_queries(limit: int) -> list[str]:
    queries = []
    for path in sorted((EVAL / "localgpt").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                queries.append(json.loads(line)["query"])
    step = max(1, len(queries) // limit) if queries else 1
    return queries[::step][:limit]


# ---------------------------------------------------------------- (d) ONNX


def st_onnx_backend_status(model_path: Path) -> str:
    """Whether the project's ``embed_backend="onnx"`` setting (SentenceTransformer backend='onnx') can load."""
    try:
        from sentence_transformers import SentenceTransformer

        SentenceTransformer(str(model_path), device="cpu", backend="onnx")
        return "loads"
    except Exception as exc:
        return f"fails: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


class OrtEncoder:
    """MiniLM exported from the packaged folder with torch.onnx, run by ONNX Runtime; ST-equivalent pooling."""

    def __init__(self, st_model, onnx_path: Path) -> None:
        import onnxruntime as ort

        self.tokenizer = st_model.tokenizer
        self.max_len = int(st_model.max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 2
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait on 2 shared cores
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # ST sorts by length too
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_len, return_tensors="np"
            )
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def export_onnx(st_model, folder: Path) -> tuple[Path, Path]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    auto = st_model[0].auto_model.eval()

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.auto = auto

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.auto(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    enc = st_model.tokenizer(["a sample sentence for export"], return_tensors="pt")
    args = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    fp32 = folder / "model.onnx"
    axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "token_type_ids": {0: "b", 1: "s"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapper(),
            args,
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={**axes, "last_hidden_state": {0: "b", 1: "s"}},
            opset_version=17,
            dynamo=False,
        )
    int8 = folder / "model_int8.onnx"
    logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing" advice
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def topk_agreement(ref_docs, ref_q, docs, q, k: int = 5) -> tuple[float, float]:
    """(mean overlap@k, top-1 agreement) of the searches over each backend's own vectors."""
    a = np.argsort(-(ref_q @ ref_docs.T), axis=1)[:, :k]
    b = np.argsort(-(q @ docs.T), axis=1)[:, :k]
    overlap = np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b, strict=True)])
    top1 = float(np.mean(a[:, 0] == b[:, 0]))
    return float(overlap), top1


def bench_onnx(embedder, texts: list[str], batch_size: int, torch_seconds: float, torch_vectors, quick: bool) -> None:
    status = st_onnx_backend_status(embedder.path)
    print(f"\nproject setting embed_backend='onnx' (SentenceTransformer backend='onnx'): {status}")
    if C.overlay("onnx", ONNX_PINS) is None:
        print("onnxruntime could not be installed: ONNX comparison skipped")
        return
    queries = eval_queries(20 if quick else 60)
    q_torch = embedder.model.encode(queries, batch_size=batch_size, normalize_embeddings=True)
    with tempfile.TemporaryDirectory(prefix="rag-bench-onnx-") as tmp:
        try:
            fp32, int8 = export_onnx(embedder.model, Path(tmp))
        except Exception:
            print("ONNX export failed; comparison skipped:\n" + traceback.format_exc(limit=3))
            return
        encoders = {label: OrtEncoder(embedder.model, path)
                    for label, path in (("onnxruntime fp32", fp32), ("onnxruntime int8 (dynamic)", int8))}  # fmt: skip
        best: dict[str, float] = {}  # (torch_seconds, measured earlier under other load, is not reused)
        outputs = {"torch (project)": torch_vectors}
        for enc in encoders.values():
            enc.encode(texts[:8], batch_size)  # warm-up
        for _ in range(1 if quick else 2):  # interleaved, so load from other processes hits all backends alike
            _, seconds = raw_encode(embedder.model, texts, batch_size)
            best["torch (project)"] = min(best.get("torch (project)", float("inf")), seconds)
            for label, enc in encoders.items():
                t0 = time.perf_counter()
                outputs[label] = enc.encode(texts, batch_size)
                best[label] = min(best.get(label, float("inf")), time.perf_counter() - t0)
        rows = []
        for label, vectors in outputs.items():
            cos = np.sum(vectors * torch_vectors, axis=1)
            q_vec = q_torch if label.startswith("torch") else encoders[label].encode(queries, batch_size)
            overlap, top1 = topk_agreement(torch_vectors, q_torch, vectors, q_vec)
            speed = len(texts) / best[label]
            rows.append([label, speed, best["torch (project)"] / best[label], float(cos.mean()), float(cos.min()),
                         overlap, top1])  # fmt: skip
    C.print_table(
        f"(d) embedding backends on the same {len(texts)} chunks ({len(queries)} eval queries for top-5)",
        ["backend", "chunks/s", "× torch", "mean cos vs torch", "min cos", "top-5 overlap", "top-1 same"],
        rows,
    )


# ---------------------------------------------------------------- (e) LlamaIndex


def bench_llamaindex(folders: list[Path], model_path: Path, ours: dict, batch_size: int) -> None:
    if C.overlay("llamaindex", LLAMAINDEX_PINS) is None:
        print("LlamaIndex could not be installed: comparison skipped")
        return
    try:
        from llama_index.core import Settings as LISettings
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except Exception as exc:
        print(f"LlamaIndex import failed ({type(exc).__name__}: {exc}): comparison skipped")
        return
    LISettings.llm = None

    def run(embed_batch: int, splitter: SentenceSplitter | None) -> tuple[int, int, float]:
        embed = HuggingFaceEmbedding(model_name=str(model_path), device="cpu", embed_batch_size=embed_batch)
        LISettings.embed_model = embed
        embed.get_text_embedding_batch(["warm up"])
        pages = nodes = 0
        t0 = time.perf_counter()
        for folder in folders:
            reader = SimpleDirectoryReader(input_dir=str(folder), recursive=True, required_exts=[".pdf", ".txt", ".md"])
            documents = reader.load_data()
            extra = {"transformations": [splitter]} if splitter else {}
            index = VectorStoreIndex.from_documents(documents, **extra)
            pages += len(documents)
            nodes += len(index.docstore.docs)
        return pages, nodes, time.perf_counter() - t0

    default = run(10, None)  # LlamaIndex defaults: 1024-token chunks, overlap 200, 10 texts per batch
    # Project-sized chunks: 120 words ~ 160 tokens, overlap 24 words ~ 32 tokens, the project's batch size.
    sized = run(batch_size, SentenceSplitter(chunk_size=160, chunk_overlap=32))
    rows = [["project index_folder", ours["pages"], ours["chunks"], ours["seconds"],
             ours["pages"] / ours["seconds"], ours["chunks"] / ours["seconds"], 1.0]]  # fmt: skip
    for name, (pages, nodes, seconds) in (("llama-index 0.14 default", default),
                                          ("llama-index, project-sized chunks", sized)):  # fmt: skip
        rows.append([name, pages, nodes, seconds, pages / seconds, nodes / seconds, seconds / ours["seconds"]])
    C.print_table(
        "(e) LlamaIndex pipeline (SimpleDirectoryReader + VectorStoreIndex, HuggingFaceEmbedding) vs project",
        ["pipeline", "pages", "chunks", "wall s", "pages/s", "chunks/s", "project speed-up (wall)"],
        rows,
    )
    print("note: LlamaIndex's default splitter makes 1024-token chunks (overlap 200) that MiniLM truncates to 256")
    print("      tokens, so it embeds less of each page; the second row splits like the project does.")


def main() -> None:
    args = parse_args()
    folders = [f.resolve() for f in (args.folders or default_folders())]
    if args.quick:
        folders = folders[:1]
        args.repeat = 1
    C.header("ingest_throughput")
    print("folders: " + ", ".join(str(f) for f in folders))

    from ingest.embedder import Embedder

    loaded_at = time.perf_counter()
    embedder = Embedder(backend="torch", batch_size=args.batch_size)
    print(f"embedder {embedder.name} loaded in {time.perf_counter() - loaded_at:.2f}s; torch threads "
          f"{__import__('torch').get_num_threads()}")  # fmt: skip
    raw_encode(embedder.model, ["warm up the model"] * 4, args.batch_size)

    pipe_runs, raw_runs = [], []
    rows = totals = texts = vectors = None
    for rep in range(args.repeat):
        rows, totals, texts = run_pipeline(folders, embedder, args.batch_size)
        pipe_runs.append(totals)
        vectors, raw_s = raw_encode(embedder.model, texts, args.batch_size)
        raw_runs.append(raw_s)
        totals["raw_cpu"] = RAW_CPU[-1]
        print(f"  rep {rep + 1}: pipeline {totals['seconds']:.2f}s ({totals['embed']:.2f}s embedding), "
              f"raw encode {raw_s:.2f}s, {C.load_line()}", flush=True)  # fmt: skip

    best = min(pipe_runs, key=lambda t: t["seconds"])
    raw_best = min(raw_runs)
    n_pages, n_chunks = best["pages"], best["chunks"]
    table = [[name, p, c, s, p / s if s else 0.0, c / s if s else 0.0, e] for name, p, c, s, e in rows]
    table.append(["TOTAL (best run)", n_pages, n_chunks, best["seconds"], n_pages / best["seconds"],
                  n_chunks / best["seconds"], best["embed"]])  # fmt: skip
    C.print_table("(a) index_folder into a fresh RAG_HOME (last run per folder, best total)",
                  ["folder", "pages", "chunks", "wall s", "pages/s", "chunks/s", "embed s"], table)  # fmt: skip

    ex_pages, ex_chunks, ex_s = extract_only(folders)
    pipe_cps = n_chunks / best["seconds"]
    raw_cps = len(texts) / raw_best
    embed_cps = n_chunks / best["embed"]
    C.print_table(
        f"(b) same {len(texts)} chunk texts, same model object, batch {args.batch_size} (best of {args.repeat})",
        ["stage", "seconds", "chunks/s", "ratio vs raw encode"],
        [
            ["raw SentenceTransformer.encode (baseline)", raw_best, raw_cps, 1.0],
            ["project embed calls inside index_folder", best["embed"], embed_cps, embed_cps / raw_cps],
            ["project index_folder end to end", best["seconds"], pipe_cps, pipe_cps / raw_cps],
            [f"extract+chunk only, serial ({ex_pages} pages)", ex_s, ex_chunks / ex_s, (ex_chunks / ex_s) / raw_cps],
        ],
    )
    print(f"pipeline/raw = {pipe_cps / raw_cps:.3f}x (target >= 0.9x), wall time, best runs")
    cpu_rows = [[i + 1, t["raw_cpu"], t["cpu"], t["raw_cpu"] / t["cpu"]] for i, t in enumerate(pipe_runs)]
    C.print_table("(b') process CPU seconds per repetition (parsing runs in the parse_guard worker, not counted)",
                  ["rep", "raw encode CPU s", "index_folder CPU s", "raw/pipeline (throughput ratio)"],
                  cpu_rows)  # fmt: skip

    per_k = best["reindex"] / n_pages * 1000 if n_pages else float("nan")
    C.print_table(
        "(c) re-index of the unchanged folders (hash + triage + load of the committed generation)",
        ["pages", "files' wall s", "s per 1,000 pages", "vs first index"],
        [[n_pages, best["reindex"], per_k, best["reindex"] / best["seconds"]]],
    )

    if args.onnx:
        bench_onnx(embedder, texts, args.batch_size, raw_best, vectors, args.quick)
    if args.llamaindex:
        bench_llamaindex(folders, embedder.path, best, args.batch_size)
    print(f"\ndone; {C.load_line()}; peak RSS {C.proc_status_kb('VmHWM') / 1024:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
