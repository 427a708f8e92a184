"""Retrieval quality of the project against a naive RAG baseline, on every gold set.

Each gold set is scored on its own corpus, as its authors intended, indexed into a temporary
RAG_HOME (never data/). Beside the project runs the naive pipeline of ``rag/baseline.py``
(pypdf text, 200-word windows, same MiniLM, FAISS dense top-k), in the same process, on the same
rows, with the same hit rule (``rag.evaluate.is_hit``). Unanswerable rows are left out.

Sets (shared files under ``../shared/eval``, the rest in this repository):

    atlas7        localgpt/atlas7.jsonl        on localgpt/atlas7_service_manual.pdf
    hr            localgpt/hr.jsonl            on localgpt/northwind_leave_policy.pdf
    acquisition   localgpt/acquisition.jsonl   on localgpt/acquisition/
    paraphrases   localgpt/paraphrases.jsonl   each row on its own corpus's index (atlas7, hr, acquisition)
    docs          localgpt/docs.jsonl          on localgpt/docs/ (15 Markdown files)
    financebench  financebench/financebench_dev.jsonl on financebench/pdfs/ (page-level hits)
    french        eval/french.jsonl            on ../shared/eval/french/
    default-docs  eval/default_docs.jsonl      on data/docs/
    french-holdout eval/french_holdout.jsonl   on ../shared/eval/french/ (written after the defaults were set)
    papers        eval/papers_holdout.jsonl    on ../shared/eval/papers/ (idem)

Tune and held-out sets: defaults in rag/settings.py may only be chosen by their scores on
TUNE_SETS (atlas7, hr, french, default-docs). HELD_OUT sets (acquisition, paraphrases, docs,
financebench, french-holdout, papers) are reported, never tuned on: a change that helps only them is not evidence.
The macro average over sets (paraphrases counts as one set) is printed for all, tune and held-out.

Recall@k counts a row when one of the top-k passages is a hit; MRR is 1/rank of the first hit
within max(k, 10) passages (0 when none), as ``rag eval`` computes it.

    python bench/retrieval_eval.py                           # every set found, k = 5
    python bench/retrieval_eval.py --quick --sets atlas7 hr  # first 12 answerable rows per set
    python bench/retrieval_eval.py --set-override chunk_words=200,chunk_overlap=0 --set-override chunk_words=80
    python bench/retrieval_eval.py --one-index --json /tmp/retrieval_eval.json

``--set-override`` defines one variant of the project's settings per occurrence (comma-separated
KEY=VALUE pairs, any field of ``rag.settings.Settings``); the defaults and every variant are
indexed and scored in the same run, each printed against the baseline. ``--one-index`` also
indexes every shared document (localgpt PDFs, acquisition, docs, financebench, french, papers) and
data/docs into one RAG_HOME and scores every set against that single index, where documents of
other corpora compete. Wall times of indexing are printed per corpus and pipeline; other work on
the 2-core machine skews them.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as C

from ingest import store
from ingest.embedder import Embedder, get_embedder
from ingest.indexer import index_files, index_folder
from rag.baseline import NaiveBaseline, corpus_files
from rag.evaluate import is_hit, read_gold
from rag.retrieve import Retriever
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"
LOCALGPT = SHARED / "localgpt"

TUNE_SETS = ("atlas7", "hr", "french", "default-docs")
"""Sets the defaults may be chosen on."""
HELD_OUT = ("acquisition", "paraphrases", "docs", "financebench", "french-holdout", "papers")
"""Sets only reported: never used to choose a default."""

CORPORA: dict[str, list[Path]] = {
    "atlas7": [LOCALGPT / "atlas7_service_manual.pdf"],
    "hr": [LOCALGPT / "northwind_leave_policy.pdf"],
    "acquisition": [LOCALGPT / "acquisition"],
    "docs": [LOCALGPT / "docs"],
    "financebench": [SHARED / "financebench/pdfs"],
    "french": [SHARED / "french"],
    "default-docs": [ROOT / "data/docs"],
    "papers": [SHARED / "papers"],
}
"""Corpus name -> files and folders indexed for it."""

ONE_INDEX = "one-index"
ALL_DOCUMENTS = [
    *CORPORA["atlas7"],
    *CORPORA["hr"],
    *CORPORA["acquisition"],
    *CORPORA["docs"],
    *CORPORA["financebench"],
    *CORPORA["french"],
    *CORPORA["papers"],
    *CORPORA["default-docs"],
]
"""Everything indexed together for ``--one-index``."""

PARAPHRASE_CORPUS = {"atlas7": "atlas7", "hr": "hr", "acq": "acquisition", "acquisition": "acquisition"}
"""A paraphrase row's ``corpus`` field -> corpus name."""


@dataclass(frozen=True)
class GoldSet:
    """A gold file and the corpus it is scored on (``None``: each row's ``corpus`` field says)."""

    name: str
    gold: Path
    corpus: str | None


SETS = [
    GoldSet("atlas7", LOCALGPT / "atlas7.jsonl", "atlas7"),
    GoldSet("hr", LOCALGPT / "hr.jsonl", "hr"),
    GoldSet("acquisition", LOCALGPT / "acquisition.jsonl", "acquisition"),
    GoldSet("paraphrases", LOCALGPT / "paraphrases.jsonl", None),
    GoldSet("docs", LOCALGPT / "docs.jsonl", "docs"),
    GoldSet("financebench", SHARED / "financebench/financebench_dev.jsonl", "financebench"),
    GoldSet("french", ROOT / "eval/french.jsonl", "french"),
    GoldSet("default-docs", ROOT / "eval/default_docs.jsonl", "default-docs"),
    GoldSet("french-holdout", ROOT / "eval/french_holdout.jsonl", "french"),
    GoldSet("papers", ROOT / "eval/papers_holdout.jsonl", "papers"),
]

QUICK_ROWS = 12
BASELINE = "baseline"
PROJECT = "project"

Search = Callable[[str, int], list]
"""(question, depth) -> passages best first, each with .name, .page, .text, .source."""


def row_corpus(gold_set: GoldSet, row: dict) -> str:
    """The corpus a row is scored on."""
    return gold_set.corpus or PARAPHRASE_CORPUS[row["corpus"]]


def set_corpora(gold_set: GoldSet, rows: list[dict]) -> list[str]:
    """Corpora a set needs, in first-use order."""
    return list(dict.fromkeys(row_corpus(gold_set, r) for r in rows))


def missing_files(gold_set: GoldSet) -> list[Path]:
    """Gold and corpus paths of a set that are absent (paraphrases: its three corpora)."""
    corpora = [gold_set.corpus] if gold_set.corpus else sorted(set(PARAPHRASE_CORPUS.values()))
    paths = [gold_set.gold, *(p for c in corpora for p in CORPORA[c])]
    return [p for p in paths if not p.exists()]


# --- pipelines ------------------------------------------------------------------------------


@dataclass
class IndexTiming:
    """How long indexing one corpus took for one pipeline."""

    pipeline: str
    corpus: str
    files: int
    units: int
    seconds: float
    failed: list[str] = field(default_factory=list)


class ProjectPipeline:
    """The project (``index_folder``/``index_files`` + hybrid ``Retriever``) with some settings overrides."""

    def __init__(
        self,
        label: str,
        overrides: dict[str, str],
        stack: ExitStack,
        timings: list[IndexTiming],
        index_dir: Path | None = None,
    ) -> None:
        self.label = label
        self.overrides = overrides
        self.stack = stack
        self.timings = timings
        self.index_dir = index_dir
        self.retrievers: dict[str, Retriever] = {}
        probe = Settings(home=Path(tempfile.gettempdir()), **overrides)
        self.embedder: Embedder = get_embedder(probe.embed_model, probe.embed_backend, probe.embed_batch_size)
        self.settings_line = ", ".join(
            f"{key}={getattr(probe, key)}" for key in ("chunk_words", "chunk_overlap") if hasattr(probe, key)
        )

    def search(self, corpus: str, paths: list[Path]) -> Search:
        """Search over ``corpus`` (indexed on first use into a temporary RAG_HOME)."""
        if corpus not in self.retrievers:
            if self.index_dir:  # kept between runs; index_folder re-indexes only what changed
                home = (
                    self.index_dir
                    / f"{corpus}-{store.pipeline_signature(Settings(home=self.index_dir, **self.overrides))}"
                )
            else:
                home = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix=f"rag-eval-{corpus}-")))
            settings = Settings(home=home, **self.overrides)
            started = time.perf_counter()
            reports = [
                index_folder(p, settings, self.embedder) if p.is_dir() else index_files([p], settings, self.embedder)
                for p in paths
            ]
            seconds = time.perf_counter() - started
            files = [f for r in reports for f in r.files]
            failed = [f"{Path(f.source).name}: {f.reason}" for f in files if f.status in ("failed", "skipped")]
            chunks = sum(r.chunks for r in reports)
            self.timings.append(IndexTiming(self.label, corpus, len(files), chunks, seconds, failed))
            self.retrievers[corpus] = Retriever(settings, self.embedder)
        retriever = self.retrievers[corpus]
        return lambda question, depth: retriever.search(question, depth, hybrid=True).passages


class BaselinePipeline:
    """The naive pipeline; window embeddings are cached per file for the whole run."""

    label = BASELINE

    def __init__(self, timings: list[IndexTiming], index_dir: Path | None = None) -> None:
        self.timings = timings
        self.embedder = get_embedder()
        self.saved = index_dir / "baseline-windows.pkl" if index_dir else None
        self.cache: dict = pickle.loads(self.saved.read_bytes()) if self.saved and self.saved.exists() else {}
        self.indexes: dict[str, NaiveBaseline] = {}

    def save(self) -> None:
        """Keep the window vectors for the next run (with ``--index-dir``)."""
        if self.saved:
            self.saved.parent.mkdir(parents=True, exist_ok=True)
            self.saved.write_bytes(pickle.dumps(self.cache))
        self.indexes: dict[str, NaiveBaseline] = {}

    def search(self, corpus: str, paths: list[Path]) -> Search:
        """Search over ``corpus`` (built on first use; files embedded before are reused)."""
        if corpus not in self.indexes:
            files = [f for p in paths for f in (corpus_files(p) if p.is_dir() else [p])]
            started = time.perf_counter()
            baseline = NaiveBaseline(files, self.embedder, cache=self.cache)
            seconds = time.perf_counter() - started
            failed = [f"{Path(s).name}: {why}" for s, why in baseline.failed.items()]
            self.timings.append(IndexTiming(self.label, corpus, len(files), len(baseline.windows), seconds, failed))
            self.indexes[corpus] = baseline
        return self.indexes[corpus].search


Pipeline = ProjectPipeline | BaselinePipeline


# --- scoring --------------------------------------------------------------------------------


def score_row(row: dict, search: Search, k: int) -> dict:
    """Rank of the first hit (1-based, None within max(k, 10)), hit@k and the top-k pages."""
    passages = search(row["query"], max(k, 10))
    rank = next((i for i, p in enumerate(passages, 1) if is_hit(p, row)), None)
    return {
        "hit": rank is not None and rank <= k,
        "rank": rank,
        "top": [page_label(p) for p in passages[:k]],
    }


def page_label(passage: Any) -> str:
    """``name p.N`` (``p.N-M`` for a project passage that runs onto later pages)."""
    last = getattr(passage, "page_end", 0) or passage.page
    return f"{passage.name} p.{passage.page}" + (f"-{last}" if last > passage.page else "")


def summarise(results: list[dict], ks: list[int]) -> dict[str, float]:
    """recall@each k and MRR over row results of one pipeline."""
    n = len(results)
    out = {f"R@{j}": sum(r["rank"] is not None and r["rank"] <= j for r in results) / n for j in ks}
    out["MRR"] = sum(1.0 / r["rank"] for r in results if r["rank"]) / n
    return out


def score_set(
    gold_set: GoldSet,
    rows: list[dict],
    pipelines: list[Pipeline],
    corpus_paths: Callable[[str], tuple[str, list[Path]]],
    k: int,
) -> list[dict]:
    """Every row through every pipeline; ``corpus_paths`` maps a row's corpus to the index to use."""
    out = []
    for row in rows:
        corpus, paths = corpus_paths(row_corpus(gold_set, row))
        result = {"set": gold_set.name, "id": row.get("id", row["query"][:40]), "query": row["query"], "corpus": corpus}
        for pipeline in pipelines:
            result[pipeline.label] = score_row(row, pipeline.search(corpus, paths), k)
        out.append(result)
    return out


# --- output ---------------------------------------------------------------------------------


def f3(value: float) -> str:
    """Three decimals, n/a for NaN."""
    return "n/a" if value != value else f"{value:.3f}"


def signed(value: float) -> str:
    """Signed three decimals."""
    return f"{value:+.3f}"


def print_results(title: str, results: dict[str, list[dict]], project: str, k: int) -> dict[str, dict]:
    """The per-set table of one project variant against the baseline, with macro rows; returns the summaries."""
    ks = sorted({1, 3, k})
    headers = ["set", "split", "n", *(f"R@{j}" for j in ks), "MRR", f"base R@{k}", "base MRR"]
    headers += [f"R@{k} ratio", f"ΔR@{k}", "ΔMRR"]
    summaries: dict[str, dict] = {}
    table = []
    for name, rows in results.items():
        mine = summarise([r[project] for r in rows], ks)
        base = summarise([r[BASELINE] for r in rows], ks)
        summaries[name] = {"n": len(rows), PROJECT: mine, BASELINE: base}
    groups = [("macro (all)", list(summaries))]
    groups.append(("macro (tune)", [s for s in summaries if s in TUNE_SETS]))
    groups.append(("macro (held-out)", [s for s in summaries if s in HELD_OUT]))
    for name, summary in summaries.items():
        split = "tune" if name in TUNE_SETS else "held-out" if name in HELD_OUT else ""
        table.append(_line(name, split, summary["n"], summary[PROJECT], summary[BASELINE], ks, k))
    for label, names in groups:
        if not names:
            continue
        mine, base = macro(summaries, names, PROJECT), macro(summaries, names, BASELINE)
        table.append(_line(label, f"{len(names)} sets", sum(summaries[s]["n"] for s in names), mine, base, ks, k))
    C.print_table(title, headers, table)
    return summaries


def _line(name: str, split: str, n: int, mine: dict, base: dict, ks: list[int], k: int) -> list[str]:
    key = f"R@{k}"
    return [
        name,
        split,
        str(n),
        *(f3(mine[f"R@{j}"]) for j in ks),
        f3(mine["MRR"]),
        f3(base[key]),
        f3(base["MRR"]),
        f3(C.ratio(mine[key], base[key])),
        signed(mine[key] - base[key]),
        signed(mine["MRR"] - base["MRR"]),
    ]


def print_timings(title: str, timings: list[IndexTiming]) -> None:
    """Indexing wall time per corpus and pipeline, and files that could not be read."""
    rows = [[t.corpus, t.pipeline, str(t.files), str(t.units), f"{t.seconds:.1f}"] for t in timings]
    C.print_table(title, ["corpus", "pipeline", "files", "chunks/windows", "index s"], rows)
    for t in timings:
        for reason in t.failed:
            print(f"  {t.pipeline} on {t.corpus}: not indexed: {reason}")


def macro(summaries: dict[str, dict], names: list[str], pipeline: str) -> dict[str, float]:
    """Mean of each metric of ``pipeline`` over the sets ``names``."""
    keys = summaries[names[0]][pipeline]
    return {key: C.mean([summaries[s][pipeline][key] for s in names]) for key in keys}


def print_variants(title: str, summaries: dict[str, dict], projects: list[str], k: int) -> None:
    """Macro recall@k and MRR of each settings variant against the project's defaults."""
    sets = list(summaries[PROJECT])
    groups = [("all", sets), ("tune", [s for s in sets if s in TUNE_SETS])]
    groups.append(("held-out", [s for s in sets if s in HELD_OUT]))
    rows = []
    for label in projects[1:]:
        for group, names in groups:
            if not names:
                continue
            mine = macro(summaries[label], names, PROJECT)
            default = macro(summaries[PROJECT], names, PROJECT)
            key = f"R@{k}"
            rows.append([label, group, f3(mine[key]), signed(mine[key] - default[key])])
            rows[-1] += [f3(mine["MRR"]), signed(mine["MRR"] - default["MRR"])]
    C.print_table(
        f"{title}: settings variants vs defaults (macro)", ["variant", "sets", f"R@{k}", "Δ", "MRR", "Δ"], rows
    )


def print_paraphrase_check(para: list[dict], original: list[dict], labels: list[str], k: int) -> None:
    """Recall@k of the reworded questions beside that of their original wording (should be within 0.05)."""
    print(f"\nparaphrases vs original wording ({len(para)} rows, recall@{k}):")
    for label in labels:
        reworded = sum(r[label]["hit"] for r in para) / len(para)
        first = sum(r[label]["hit"] for r in original) / len(original)
        gap = reworded - first
        verdict = "within 0.05" if abs(gap) <= 0.05 + 1e-9 else "MORE THAN 0.05 APART"
        print(f"  {label:<40} reworded {reworded:.3f}  original {first:.3f}  difference {gap:+.3f}  ({verdict})")


# --- runs -----------------------------------------------------------------------------------


def load_rows(gold_set: GoldSet, quick: bool) -> list[dict]:
    """Answerable rows of a set (the first 12 with ``quick``)."""
    rows = [r for r in read_gold(gold_set.gold) if not r.get("unanswerable")]
    return rows[:QUICK_ROWS] if quick else rows


def evaluate_all(
    title: str,
    sets: list[tuple[GoldSet, list[dict]]],
    pipelines: list[Pipeline],
    corpus_paths: Callable[[str], tuple[str, list[Path]]],
    k: int,
) -> dict:
    """Score every set with every pipeline, print the tables and the paraphrase check; JSON-ready results."""
    results: dict[str, list[dict]] = {}
    originals: list[dict] = []
    for gold_set, rows in sets:
        started = time.perf_counter()
        results[gold_set.name] = score_set(gold_set, rows, pipelines, corpus_paths, k)
        if gold_set.name == "paraphrases":
            first = [{**r, "query": r["original_query"]} for r in rows if r.get("original_query")]
            originals = score_set(gold_set, first, pipelines, corpus_paths, k)
        seconds = time.perf_counter() - started
        print(
            f"scored {gold_set.name}: {len(rows)} rows in {seconds:.1f}s (first use of an index included)", flush=True
        )
    projects = [p.label for p in pipelines if p.label != BASELINE]
    out: dict = {"sets": {}, "summaries": {}}
    for label in projects:
        out["summaries"][label] = print_results(f"{title}: {label} vs naive baseline", results, label, k)
    if len(projects) > 1:
        print_variants(title, out["summaries"], projects, k)
    if originals:
        print_paraphrase_check(results["paraphrases"], originals, [*projects, BASELINE], k)
        out["sets"]["paraphrases-original-wording"] = originals
    out["sets"].update(results)
    return out


def parse_variants(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Each ``--set-override`` value (KEY=VALUE[,KEY=VALUE...]) -> (label, overrides)."""
    variants = []
    for value in values:
        overrides = {}
        for pair in value.split(","):
            key, sep, setting = pair.partition("=")
            key = key.strip()
            if not sep or key not in Settings.model_fields or key == "home":
                raise SystemExit(f"--set-override {value!r}: expected KEY=VALUE with KEY a setting other than home")
            overrides[key] = setting.strip()
        variants.append((f"{PROJECT}[{value}]", overrides))
    return variants


def git_state() -> str:
    """Short commit hash, and whether the work tree has changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = git("status", "--short", "--untracked-files=no")
    return f"{git('rev-parse', '--short', 'HEAD') or '?'}{' with uncommitted changes' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [s.name for s in SETS]
    parser.add_argument("--sets", nargs="+", default=names, choices=names, metavar="NAME", help=", ".join(names))
    parser.add_argument("--k", type=int, default=5, help="passages counted for recall (default 5)")
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_ROWS} answerable rows per set")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every row's result for every pipeline")
    parser.add_argument("--one-index", action="store_true", help="also score every set on one index of everything")
    parser.add_argument(
        "--set-override",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="a variant of the project's settings, scored beside the defaults (repeatable)",
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        metavar="DIR",
        help="keep the indexes (and the baseline's vectors) here between runs, one per corpus and chunking; "
        "for comparing retrieval settings quickly (file contents are re-checked by hash)",
    )
    args = parser.parse_args(argv)
    variants = parse_variants(args.set_override)

    C.header("retrieval_eval")
    print(f"commit {git_state()}; k={args.k}; {'quick: ' + str(QUICK_ROWS) + ' rows per set' if args.quick else ''}")
    sets = []
    for gold_set in [s for s in SETS if s.name in args.sets]:
        missing = missing_files(gold_set)
        if missing:
            print(f"{gold_set.name}: skipped, absent: {', '.join(str(p) for p in missing)}")
            continue
        rows = load_rows(gold_set, args.quick)
        if not rows:
            print(f"{gold_set.name}: skipped, no answerable rows")
            continue
        sets.append((gold_set, rows))
    if not sets:
        print("no gold set found")
        return 1

    report: dict = {"commit": git_state(), "k": args.k, "quick": args.quick, "variants": dict(variants), "runs": {}}
    with ExitStack() as stack:
        timings: list[IndexTiming] = []
        projects = [ProjectPipeline(PROJECT, {}, stack, timings, args.index_dir)]
        projects += [ProjectPipeline(label, o, stack, timings, args.index_dir) for label, o in variants]
        for project in projects:
            print(f"{project.label}: {project.settings_line}")
        baseline = BaselinePipeline(timings, args.index_dir)
        pipelines: list[Pipeline] = [*projects, baseline]

        per_corpus = evaluate_all("per corpus", sets, pipelines, lambda c: (c, CORPORA[c]), args.k)
        print_timings("indexing wall time, per corpus", timings)
        report["runs"]["per-corpus"] = per_corpus
        baseline.save()

        if args.one_index:
            present = [p for p in ALL_DOCUMENTS if p.exists()]
            for absent in sorted(set(ALL_DOCUMENTS) - set(present)):
                print(f"one index: {absent} absent, left out")
            timings.clear()
            one = evaluate_all("one index", sets, pipelines, lambda c: (ONE_INDEX, present), args.k)
            print_timings(
                "indexing wall time, one index of everything (baseline: vectors of earlier runs reused)", timings
            )
            report["runs"][ONE_INDEX] = one

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nrows written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
