"""The speed targets the studio is held to, read off one benchmark run's rows and figures.

Every target is judged on the figures of the same run (median, warm, 2 cores, default bundle). A target
whose figures the run did not measure (a quick run, a run without the training checkpoint) says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Payload = dict  # what `Report.write` puts in results.json: rows, facts, machine


@dataclass(frozen=True)
class Target:
    what: str
    limit: float
    unit: str
    measured: Callable[[Payload], float | None]  # the run's figure, None when it was not measured
    at_least: bool = False  # the figure must reach the limit rather than stay under it

    def judge(self, payload: Payload) -> tuple[str, str]:
        """(the measured figure, 'met' / 'missed' / 'not measured')."""
        value = self.measured(payload)
        if value is None:
            return "", "not measured"
        met = value >= self.limit if self.at_least else value <= self.limit
        shown = f"{value:.0f}" if value >= 100 else f"{value:.2f}"
        return f"{shown} {self.unit}", "met" if met else "missed"

    @property
    def bound(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.limit:g} {self.unit}"


def _row(name: str, field: str = "median_ms") -> Callable[[Payload], float | None]:
    def figure(payload: Payload) -> float | None:
        return next((r[field] for r in payload["rows"] if r["name"] == name), None)

    return figure


def _fact(name: str) -> Callable[[Payload], float | None]:
    """A figure written as text ("3.63 s", "1243 MB"): its leading number."""

    def figure(payload: Payload) -> float | None:
        text = payload["facts"].get(name)
        return None if text is None else float(str(text).split()[0])

    return figure


def _scaled(numerator: Callable, denominator: Callable, scale: float = 1.0) -> Callable[[Payload], float | None]:
    def figure(payload: Payload) -> float | None:
        a, b = numerator(payload), denominator(payload)
        return None if a is None or b is None else scale * a / b

    return figure


API_STEP = "play step through the API (/step, over HTTP + SSE as the page's presses)"


def probe_row(what: str, frames: int) -> str:
    """The name of a probe suite's row: `what` is probed on a clip of `frames` frames."""
    return f"probe {what}, {frames} frames, 5 folds"


TARGETS = (
    Target("play step through the API, p50", 40, "ms", _row(API_STEP)),
    Target("play step through the API, p95", 80, "ms", _row(API_STEP, "p95_ms")),
    Target("play step in process", 5, "ms", _row("play step in process (predictor + decoder, batch 1)")),
    Target(
        "analyze a 1-minute clip (1,800 frames) end to end",
        4,
        "s",
        _scaled(_row("analyze 1800 frames end to end (API, warm)"), lambda _: 1000.0),
    ),
    Target(
        "analyze a 10-minute clip / a 1-minute one",
        10,
        "x",
        _scaled(
            _row("analyze 18000 frames end to end (API, warm)"), _row("analyze 1800 frames end to end (API, warm)")
        ),
    ),
    Target("peak RSS while analyzing the 10-minute clip", 1536, "MB", _fact("app peak RSS after the longest analyze")),
    *(
        Target(
            f"onnxruntime over torch eager, {role} batch 1",
            2,
            "x",
            _row(f"{role} batch 1 (onnxruntime)", "ratio"),
            at_least=True,
        )
        for role in ("encoder", "actions", "predictor", "decoder")
    ),
    Target("cold start: launch → page served", 5, "s", _fact("cold start: launch → page served")),
    Target(
        "probe all label columns of a 900-frame clip (the examples' 130)",
        5,
        "s",
        _scaled(_row(probe_row("all label columns", 900)), lambda _: 1000.0),
    ),
    Target(
        "probe one column of a 900-frame clip",
        1,
        "s",
        _scaled(_row(probe_row("one category column", 900)), lambda _: 1000.0),
    ),
    Target("first analyze / warm analyze", 1.5, "x", _fact("first analyze / warm analyze (same clip)")),
    Target(
        "screen finding + familiarity, share of a 1-minute clip's analysis",
        10,
        "%",
        _fact("screen finding + familiarity: share of a 1-minute clip's analysis"),
    ),
)


def markdown_table(payload: Payload) -> list[str]:
    lines = ["## Targets", "", "| target | bound | this run | verdict |", "| --- | --- | ---: | --- |"]
    verdicts = []
    for target in TARGETS:
        value, verdict = target.judge(payload)
        verdicts.append(verdict)
        lines.append(f"| {target.what} | {target.bound} | {value} | {verdict} |")
    if "missed" in verdicts:
        lines += [
            "",
            "Where a target is missed, the figures below measure why: for the graphs, what their "
            "convolutions alone take in each runtime, and what that leaves for everything else.",
        ]
    return [*lines, ""]
