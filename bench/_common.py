"""Shared helpers for the benchmarks: timing, percentiles, memory, tables, optional package overlays.

The benchmarks never assert: they print figures and ratios against a baseline measured in the
same process, so that a reader can judge them (CPU-only, 2 cores: concurrent load skews figures).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

OVERLAY_ROOT = Path(os.environ.get("RAG_BENCH_OVERLAYS", "/tmp"))
"""Where optional packages for a comparison are installed with ``pip --target`` (never into the venv)."""


@contextmanager
def timer(into: dict, key: str):
    """Add the elapsed wall time of the block to ``into[key]`` (seconds)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - t0


def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    """(result, seconds) of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; NaN for no values."""
    return statistics.fmean(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    """a / b, NaN when b is zero."""
    return a / b if b else float("nan")


def proc_status_kb(field: str) -> int:
    """A ``VmRSS``/``VmHWM``-style field of /proc/self/status, in kB (0 when unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    return proc_status_kb("VmRSS") / 1024.0


def fmt(value: object) -> str:
    """Compact number formatting for tables."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.4f}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Print (and return) a Markdown table, so output can be pasted into RESULTS.md."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [f"\n### {title}\n"]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def machine_line() -> str:
    """CPU model, core count, Python and a few library versions."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}; {os.cpu_count()} logical CPUs; Python {platform.python_version()}"


def load_line() -> str:
    """The 1/5/15-minute load average: others' work on the same 2 cores skews every figure."""
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average n/a"


def header(name: str) -> None:
    """First lines of every benchmark's output."""
    print(f"# {name} — {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"machine: {machine_line()}; {load_line()} at start")
    print("note: CPU-only, 2 cores; concurrent load on the machine skews all figures.", flush=True)


def overlay(name: str, requirements: Sequence[str]) -> Path | None:
    """Install ``requirements`` (exact pins, ``--no-deps``) into a folder appended to ``sys.path``.

    Keeps the project's virtualenv untouched (torch, transformers stay as they are). Returns the
    folder, or None (after printing why) when pip fails.
    """
    folder = OVERLAY_ROOT / f"rag-bench-{name}"
    marker = folder / ".complete"
    if not marker.is_file():
        print(f"installing {len(requirements)} packages into {folder} (pip --target --no-deps) ...", flush=True)
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(folder), *requirements]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"pip failed ({done.returncode}): {done.stderr.strip()[-800:]}")
            return None
        marker.write_text("\n".join(requirements))
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return folder
