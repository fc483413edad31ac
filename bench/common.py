"""Shared benchmark plumbing: timing, percentiles, ratios, reports, plots, memory, progress.

Every benchmark in this package follows one rule: a figure is never shown alone. The machine is
shared and noisy, so each figure is printed as a ratio against a baseline measured in the same
run, right beside it (for example the simulator round trip against a bare QuickFIX echo and a
plain loopback socket echo). A `Report` collects those figures, prints them as a text table and
merges them into `var/bench/results.json`; `write_plots` turns the latency distributions kept in
that file into a PNG and an HTML page.

Times are integer nanoseconds from `time.perf_counter_ns`; they are shown in microseconds.
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FIX44_DICTIONARY = REPO_ROOT / "fix_specs" / "FIX44.xml"
DEFAULT_RESULTS_DIR = REPO_ROOT / "var" / "bench"
RESULTS_FILE_NAME = "results.json"

# Percentile points stored per latency distribution, enough to draw its CDF without keeping
# every sample (a full run holds tens of thousands of them).
_CDF_POINTS: tuple[float, ...] = tuple(
    [i / 2 for i in range(0, 180)]
    + [90 + i / 10 for i in range(0, 90)]
    + [99 + i / 100 for i in range(0, 101)]
)

now_ns = time.perf_counter_ns


class BenchError(Exception):
    """A benchmark could not produce its figure (a peer did not log on, a run timed out...)."""


def percentile(sorted_values: Sequence[int] | Sequence[float], pct: float) -> float:
    """The `pct` percentile (0-100) of already sorted values, linearly interpolated.

    Interpolation keeps p99.9 meaningful on a few thousand samples instead of snapping to the
    maximum.
    """
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    rank = (len(sorted_values) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(sorted_values[low])
    weight = rank - low
    return float(sorted_values[low]) * (1.0 - weight) + float(sorted_values[high]) * weight


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyStats:
    """A latency distribution, summarised in microseconds, with its CDF points for plotting."""

    name: str
    count: int
    min_us: float
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float
    mean_us: float
    cdf_us: tuple[float, ...] = field(repr=False, default=())

    @classmethod
    def from_samples_ns(cls, name: str, samples_ns: Iterable[int]) -> LatencyStats:
        ordered = sorted(samples_ns)
        if not ordered:
            raise BenchError(f"{name}: no samples were recorded")
        to_us = 1e-3
        return cls(
            name=name,
            count=len(ordered),
            min_us=ordered[0] * to_us,
            p50_us=percentile(ordered, 50) * to_us,
            p99_us=percentile(ordered, 99) * to_us,
            p999_us=percentile(ordered, 99.9) * to_us,
            max_us=ordered[-1] * to_us,
            mean_us=sum(ordered) / len(ordered) * to_us,
            cdf_us=tuple(round(percentile(ordered, p) * to_us, 3) for p in _CDF_POINTS),
        )

    def summary(self) -> dict[str, Any]:
        """The figures without the CDF, for tables and JSON."""
        data = asdict(self)
        data.pop("cdf_us")
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class Throughput:
    """Operations per second over one timed run."""

    name: str
    operations: int
    elapsed_ns: int

    @property
    def per_second(self) -> float:
        return self.operations / (self.elapsed_ns / 1e9) if self.elapsed_ns > 0 else float("inf")


def time_calls(fn: Callable[[], object], count: int, *, warmup: int = 0) -> list[int]:
    """Call `fn` `count` times and return each call's duration in ns (after `warmup` calls)."""
    for _ in range(warmup):
        fn()
    samples: list[int] = []
    append = samples.append
    for _ in range(count):
        start = now_ns()
        fn()
        append(now_ns() - start)
    return samples


def time_loop(fn: Callable[[int], object], operations: int, name: str) -> Throughput:
    """Run `fn(operations)` once (it loops itself, so per-call timing overhead stays out)."""
    start = now_ns()
    fn(operations)
    return Throughput(name=name, operations=operations, elapsed_ns=now_ns() - start)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return peak / divisor


def current_rss_mib() -> float | None:
    """Current resident set size in MiB from /proc, or None where that is not available."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class Progress:
    """Progress lines on stderr for long runs, at most one every `interval_s` seconds."""

    def __init__(self, label: str, total: int, *, interval_s: float = 2.0, stream: Any = None) -> None:
        self._label = label
        self._total = max(total, 1)
        self._interval_ns = int(interval_s * 1e9)
        self._stream = stream if stream is not None else sys.stderr
        self._started_ns = now_ns()
        self._last_ns = self._started_ns

    def update(self, done: int) -> None:
        current = now_ns()
        if current - self._last_ns < self._interval_ns and done < self._total:
            return
        self._last_ns = current
        elapsed_s = (current - self._started_ns) / 1e9
        pct = 100.0 * done / self._total
        print(f"  .. {self._label}: {done}/{self._total} ({pct:.0f}%) {elapsed_s:.1f}s", file=self._stream)
        self._stream.flush()


@dataclass(slots=True, kw_only=True)
class Row:
    """One line of a result table: a figure and its ratio to the baseline it is compared with."""

    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    # "higher" when a larger value is better (throughput), "lower" for latencies.
    better: str = "lower"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value is None or self.baseline_value == 0:
            return None
        return self.value / self.baseline_value


class Report:
    """Collects the figures of one benchmark, prints them and merges them into results.json."""

    def __init__(self, bench: str, *, results_dir: Path | None = None) -> None:
        self.bench = bench
        self.results_dir = results_dir if results_dir is not None else results_dir_from_env()
        self.rows: list[Row] = []
        self.latencies: dict[str, LatencyStats] = {}
        self.extra: dict[str, Any] = {}

    def add_latency(
        self,
        stats: LatencyStats,
        *,
        baselines: Sequence[LatencyStats] = (),
        note: str = "",
    ) -> None:
        """Add p50/p99/p99.9 of `stats`, each as a ratio to the same percentile of each baseline."""
        self.latencies[stats.name] = stats
        for label, attr in (("p50", "p50_us"), ("p99", "p99_us"), ("p99.9", "p999_us")):
            value = getattr(stats, attr)
            if not baselines:
                self.rows.append(Row(name=f"{stats.name} {label}", value=value, unit="us", note=note))
            for baseline in baselines:
                self.rows.append(
                    Row(
                        name=f"{stats.name} {label}",
                        value=value,
                        unit="us",
                        baseline=f"{baseline.name} {label}",
                        baseline_value=getattr(baseline, attr),
                        note=note,
                    )
                )

    def add_throughput(
        self, measured: Throughput, *, baseline: Throughput | None = None, note: str = ""
    ) -> None:
        self.rows.append(
            Row(
                name=measured.name,
                value=measured.per_second,
                unit="ops/s",
                baseline=baseline.name if baseline is not None else None,
                baseline_value=baseline.per_second if baseline is not None else None,
                better="higher",
                note=note,
            )
        )

    def add_value(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: str | None = None,
        baseline_value: float | None = None,
        better: str = "lower",
        note: str = "",
    ) -> None:
        self.rows.append(
            Row(
                name=name,
                value=value,
                unit=unit,
                baseline=baseline,
                baseline_value=baseline_value,
                better=better,
                note=note,
            )
        )

    def add_memory(self, *, baseline_mib: float | None = None, baseline: str | None = None) -> None:
        """Peak RSS of this process, against a figure taken before the benchmark loaded its parts."""
        self.add_value(
            "peak RSS",
            peak_rss_mib(),
            "MiB",
            baseline=baseline,
            baseline_value=baseline_mib,
            note="resource.getrusage ru_maxrss",
        )

    def format_table(self) -> str:
        header = ("figure", "value", "unit", "ratio", "against (same run)")
        lines = [tuple(header)]
        for row in self.rows:
            ratio = row.ratio
            ratio_text = "-" if ratio is None else f"{ratio:,.2f}x"
            against = row.baseline or "(no baseline)"
            if row.baseline_value is not None:
                against = f"{against} = {_format_number(row.baseline_value)} {row.unit}"
            lines.append((row.name, _format_number(row.value), row.unit, ratio_text, against))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        rendered = []
        for index, line in enumerate(lines):
            cells = [
                line[0].ljust(widths[0]),
                line[1].rjust(widths[1]),
                line[2].ljust(widths[2]),
                line[3].rjust(widths[3]),
                line[4],
            ]
            rendered.append("  ".join(cells).rstrip())
            if index == 0:
                rendered.append("  ".join("-" * w for w in widths))
        return f"== {self.bench} ==\n" + "\n".join(rendered)

    def print_table(self) -> None:
        print(self.format_table(), flush=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "measured_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
            },
            "rows": [{**asdict(row), "ratio": row.ratio} for row in self.rows],
            "latencies": {
                name: {**stats.summary(), "cdf_pct": list(_CDF_POINTS), "cdf_us": list(stats.cdf_us)}
                for name, stats in self.latencies.items()
            },
            "extra": self.extra,
            "peak_rss_mib": round(peak_rss_mib(), 1),
        }

    def save(self) -> Path:
        """Merge this benchmark's section into results.json (one section per benchmark)."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / RESULTS_FILE_NAME
        merged = load_results(path)
        merged.setdefault("benchmarks", {})[self.bench] = self.as_dict()
        tmp_path = path.with_suffix(".json.tmp")
        tmp_path.write_text(json.dumps(merged, indent=2, sort_keys=True), encoding="utf-8")
        tmp_path.replace(path)
        return path


def _format_number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def results_dir_from_env() -> Path:
    """`FIXGW_BENCH_DIR` lets a caller (a test, `python -m bench --out`) redirect the output."""
    override = os.environ.get("FIXGW_BENCH_DIR")
    return Path(override) if override else DEFAULT_RESULTS_DIR


def load_results(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        # A torn or hand-edited file must not stop a new run; keep it aside, start over.
        broken = path.with_suffix(".json.broken")
        path.replace(broken)
        print(f"bench: {path.name} was unreadable ({error}); moved to {broken.name}", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def write_plots(results_dir: Path | None = None) -> list[Path]:
    """Draw every latency distribution in results.json as a CDF: latency.png and latency.html.

    Returns the files written; an empty list when there is nothing to draw.
    """
    directory = results_dir if results_dir is not None else results_dir_from_env()
    results = load_results(directory / RESULTS_FILE_NAME)
    panels: list[tuple[str, list[tuple[str, list[float], list[float]]]]] = []
    for bench_name, section in sorted(results.get("benchmarks", {}).items()):
        curves = [
            (name, latency["cdf_pct"], latency["cdf_us"])
            for name, latency in section.get("latencies", {}).items()
        ]
        if curves:
            panels.append((bench_name, curves))
    if not panels:
        return []

    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    # One panel per benchmark, sharing the latency axis, legends outside: a benchmark's curves
    # are read against each other (and its baselines), and the panels against one another.
    figure, axes = plt.subplots(len(panels), 1, figsize=(13, 3.4 * len(panels)), sharex=True, squeeze=False)
    # tab10 first (strong colours), then tab20's lighter shades for panels with many curves.
    colours = [plt.get_cmap("tab10")(index) for index in range(10)]
    colours += [plt.get_cmap("tab20")(2 * index + 1) for index in range(10)]
    for axis, (bench_name, curves) in zip(axes[:, 0], panels, strict=True):
        for index, (label, pcts, values) in enumerate(curves):
            # y: "share of samples slower than x" on a log scale, so the tail shows.
            tail = [max(100.0 - p, 0.01) for p in pcts]
            axis.plot(values, tail, label=label, color=colours[index % len(colours)], linewidth=1.4)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_ylabel("% slower (log)")
        axis.set_title(bench_name, loc="left", fontsize="medium")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1, 0].set_xlabel("latency (us, log)")
    figure.suptitle("fixgw benchmarks: latency distributions (CDF tails), each panel measured in one run")
    png_path = directory / "latency.png"
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)

    html_path = directory / "latency.html"
    html_path.write_text(_render_html(results, png_path), encoding="utf-8")
    return [png_path, html_path]


def _render_html(results: dict[str, Any], png_path: Path) -> str:
    encoded = base64.b64encode(png_path.read_bytes()).decode("ascii")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>fixgw benchmarks</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child{text-align:left}</style>",
        "</head><body><h1>fixgw benchmarks</h1>",
        f"<img alt='latency CDF' src='data:image/png;base64,{encoded}'>",
    ]
    for bench_name, section in sorted(results.get("benchmarks", {}).items()):
        parts.append(
            f"<h2>{_escape(bench_name)} <small>({_escape(section.get('measured_at_utc', ''))})</small></h2>"
        )
        parts.append(
            "<table><tr><th>figure</th><th>value</th><th>unit</th><th>ratio</th><th>against</th></tr>"
        )
        for row in section.get("rows", []):
            ratio = row.get("ratio")
            ratio_text = "-" if ratio is None else f"{ratio:,.2f}x"
            parts.append(
                f"<tr><td>{_escape(row['name'])}</td><td>{_format_number(row['value'])}</td>"
                f"<td>{_escape(row['unit'])}</td><td>{ratio_text}</td>"
                f"<td>{_escape(row.get('baseline') or '')}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
