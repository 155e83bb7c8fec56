"""Timing, and the two files a benchmark run writes: `results.json` and the table in `RESULTS.md`."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmarks.targets import markdown_table

PACKAGES = ("onnxruntime-gpu", "gradio", "decord", "av", "umap-learn", "scikit-learn", "numpy", "torch")


@dataclass(frozen=True)
class Row:
    """One measured figure, and where there is one, the alternative it is set beside (same run)."""

    suite: str
    name: str
    runs: int
    median_ms: float
    min_ms: float
    max_ms: float
    p95_ms: float
    versus: str = ""  # the alternative's row name
    ratio: float | None = None  # alternative median / this median: above 1 means this is faster
    note: str = ""


def measure(fn: Callable[[], object], repeats: int, warm_up: int = 1) -> np.ndarray:
    """Wall-clock seconds of `repeats` calls after `warm_up` untimed ones -> [repeats]."""
    for _ in range(warm_up):
        fn()
    seconds = np.empty(repeats)
    for i in range(repeats):
        began = time.perf_counter()
        fn()
        seconds[i] = time.perf_counter() - began
    return seconds


def measure_alternating(
    alternatives: list[Callable[[], object]], repeats: int, rounds: int = 5, warm_up: int = 3, warm_up_s: float = 2.0
) -> list[np.ndarray]:
    """Alternatives timed in alternating blocks (their order rotated every round), so a machine that drifts
    during the measurement weighs on all alike -> [repeats] seconds for each.

    All first run, untimed, for `warm_up_s`: on these VMs millisecond calls sometimes ran 1.6x slower, in
    both runtimes at once, for the first 1-3 s of such a loop (3 of 7 processes of a test script, no thread
    of the process busy meanwhile). Sleeping between blocks, to let OpenMP's spinning threads go idle, made
    onnxruntime's next block slower, not faster, so the blocks follow each other directly."""
    began = time.perf_counter()
    while time.perf_counter() - began < warm_up_s:
        for fn in alternatives:
            fn()
    blocks: list[list[np.ndarray]] = [[] for _ in alternatives]
    per_block = max(1, repeats // rounds)
    for r in range(rounds):
        for i in range(len(alternatives)):
            which = (i + r) % len(alternatives)
            blocks[which].append(measure(alternatives[which], per_block, warm_up))
    return [np.concatenate(b) for b in blocks]


def row(suite: str, name: str, seconds: np.ndarray, note: str = "") -> Row:
    ms = np.asarray(seconds) * 1000.0
    return Row(
        suite,
        name,
        len(ms),
        float(np.median(ms)),
        float(ms.min()),
        float(ms.max()),
        float(np.percentile(ms, 95)),
        note=note,
    )


def versus(this: Row, other: Row) -> Row:
    """`this` with the ratio to `other` measured in the same run."""
    return Row(**{**asdict(this), "versus": other.name, "ratio": other.median_ms / max(this.median_ms, 1e-9)})


@dataclass
class Report:
    command: str
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)  # figures that are not timings (RSS, slopes)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)
        for r in rows:
            ratio = f" ({r.ratio:.2f}x vs {r.versus})" if r.ratio is not None else ""
            print(
                f"  {r.suite:<10} {r.name:<48} median {r.median_ms:9.2f} ms  p95 {r.p95_ms:9.2f} ms{ratio}", flush=True
            )

    def write(self, out_dir: Path, keep_others: bool = False) -> tuple[Path, Path]:
        """`keep_others`: this run measured some suites only; the last run's rows of every other suite, and its
        figures this run did not measure, stay, and the page names the command behind each."""
        out_dir.mkdir(parents=True, exist_ok=True)
        environment = machine()
        payload = {
            "command": self.command,
            "machine": environment,
            "facts": self.facts,
            "rows": [asdict(r) for r in self.rows],
        }
        json_path = out_dir / "results.json"
        if keep_others and json_path.is_file():
            payload = _merged(json.loads(json_path.read_text()), payload)
        json_path.write_text(json.dumps(payload, indent=2))
        md_path = out_dir / "RESULTS.md"
        md_path.write_text(markdown(payload) + _written_by_hand(md_path))
        return json_path, md_path


# RESULTS.md's sections below this line are figures measured apart from a `studio bench` run; every run keeps them
HAND_WRITTEN = (
    "<!-- Written by hand below this line: figures measured apart from `studio bench`; every run keeps them. -->"
)


def _written_by_hand(md_path: Path) -> str:
    """The hand-written tail of the last RESULTS.md, from the HAND_WRITTEN line on ("" if it has none)."""
    previous = md_path.read_text() if md_path.is_file() else ""
    _, marker, tail = previous.partition(HAND_WRITTEN)
    return "\n" + marker + tail if marker else ""


def _merged(previous: dict, partial: dict) -> dict:
    """A run of some suites laid over the last results: its rows replace those of the suites it measured."""
    suites = sorted({r["suite"] for r in partial["rows"]})
    later = [run for run in previous.get("later_runs", []) if run["suites"] != suites]
    later.append({"command": partial["command"], "date": partial["machine"]["date"], "suites": suites})
    return {
        **previous,
        "later_runs": later,
        "facts": {**previous["facts"], **partial["facts"]},
        "rows": [r for r in previous["rows"] if r["suite"] not in suites] + partial["rows"],
    }


def machine() -> dict[str, object]:
    import os

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        # how idle OpenMP threads wait changes torch eager's small-batch times several-fold on these machines
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset (OpenMP's default)"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown(payload: dict) -> str:
    m = payload["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by the command below; every ratio compares two figures measured in the same run "
        "(alternative median / studio median: above 1 means the studio's way is faster).",
        "",
        f"```\n{payload['command']}\n```",
        "",
        *(
            f"The {', '.join(run['suites'])} rows (and their figures) were measured later, alone, "
            f"by `{run['command']}` ({run['date']}).\n"
            for run in payload.get("later_runs", [])
        ),
        f"- **Machine:** {m['cpu']}, {m['cores']} cores, no GPU unless the provider rows say otherwise; "
        f"{m['platform']}",
        f"- **Date:** {m['date']} · **Python** {m['python']} · "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- **OMP_WAIT_POLICY:** {m.get('omp_wait_policy', 'not recorded')} (torch eager's small batches depend on it)",
        "",
    ]
    lines += markdown_table(payload)
    if payload["facts"]:
        lines += ["## Figures", "", "| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in payload["facts"].items()]
        lines.append("")
    suites = dict.fromkeys(r["suite"] for r in payload["rows"])
    for suite in suites:
        lines += [
            f"## {suite}",
            "",
            "| measurement | runs | median ms | min | max | p95 | vs | ratio | note |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
        ]
        for r in payload["rows"]:
            if r["suite"] != suite:
                continue
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else ""
            lines.append(
                f"| {r['name']} | {r['runs']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | {r['max_ms']:.2f} "
                f"| {r['p95_ms']:.2f} | {r['versus']} | {ratio} | {r['note']} |"
            )
        lines.append("")
    return "\n".join(lines)
