"""How far the shipped bundles' figures move with the machine's arithmetic: every figure of `metrics.examples`
measured again through the graphs on the example clips, once per setting of thread counts and BLAS kernels,
and once with the graphs' outputs moved as another CPU's kernels would move them; each setting in a process of
its own (OpenBLAS reads its settings at import).

    python -m benchmarks.figure_spread > spread.md   # 5 to 15 minutes a setting on 2 busy cores

The tests of the recorded figures take their tolerances from the table it prints (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from studio.figures import FigureSet

EXPORTED = Path(__file__).resolve().parent.parent / "exported"
BUNDLES = ("breakout", "breakout-jepa", "coinrun")
README_EXAMPLE = "the README's opening example"
# Another CPU's float32 kernels (other SIMD widths, another order of summing) cannot be chosen here: the last
# setting stands for them by moving every graph output by up to PERTURBATION of itself, about 8 float32 ulps,
# at random, as a different order of summing moves a deep graph's outputs.
PERTURBATION = 1e-6
# name -> (environment, onnxruntime intra-op threads, graph outputs moved by)
SETTINGS: dict[str, tuple[dict[str, str], int, float]] = {
    "2 threads each (this machine's default)": ({}, 2, 0.0),
    "1 thread each": ({"OPENBLAS_NUM_THREADS": "1"}, 1, 0.0),
    "BLAS kernels for SSE3 (OPENBLAS_CORETYPE=Prescott)": ({"OPENBLAS_CORETYPE": "Prescott"}, 2, 0.0),
    f"graph outputs moved by up to {PERTURBATION:g} of themselves": ({}, 2, PERTURBATION),
}


def flat(figures: FigureSet) -> dict[str, float]:
    """The numbers of a set of figures, by key ({"a.b.c": number})."""
    return {
        key: float(value)
        for key, value in figures.values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


class MovedOutputs:
    """An onnxruntime session whose float outputs come back moved by up to `share` of themselves, at random."""

    def __init__(self, session, share: float, seed: int):
        self.session, self.share, self.rng = session, share, np.random.default_rng(seed)

    def run(self, names, feeds):
        outputs = self.session.run(names, feeds)
        return [self._moved(o) if o.dtype.kind == "f" else o for o in outputs]

    def _moved(self, values: np.ndarray) -> np.ndarray:
        factor = 1 + self.share * self.rng.uniform(-1, 1, values.shape)
        return (values * factor).astype(values.dtype)

    def __getattr__(self, name):
        return getattr(self.session, name)


def open_model(name: str, threads: int, moved: float = 0.0):
    """A shipped bundle's graphs on the CPU, with `threads` intra-op threads, their float outputs moved by up to
    `moved` of themselves."""
    from studio.bundle import GRAPH_ROLES, load_bundle, open_graph
    from studio.runtime import CPU, WorldModel, session_options

    bundle = load_bundle(EXPORTED / name)
    sessions = {r: open_graph(bundle, r, options=session_options(threads), providers=[CPU]) for r in GRAPH_ROLES}
    if moved:
        sessions = {r: MovedOutputs(s, moved, seed) for seed, (r, s) in enumerate(sessions.items())}
    return WorldModel(bundle, sessions, 16)


def measure_here(threads: int, moved: float) -> dict[str, dict]:
    """Every bundle's example figures, and what the README's opening example prints, in this process's settings."""
    from studio.evaluation import episodes_from_examples, evaluate
    from studio.games import find_game

    measured = {}
    for name in BUNDLES:
        model = open_model(name, threads, moved)
        game = find_game(model.manifest.trained_on.get("source"))
        measured[name] = flat(evaluate(model, episodes_from_examples(model, game), game=game))
    measured[README_EXAMPLE] = readme_example_here(threads, moved)
    return measured


def readme_example_here(threads: int, moved: float) -> dict[str, object]:
    """What the README's opening example prints, unrounded, in this process's settings."""
    from studio.analysis import analyze_clip, reconstruct

    model = open_model("breakout", threads, moved)
    analysis = analyze_clip(model, EXPORTED / "breakout" / "examples" / "breakout_1.mp4")
    return {
        "shape": list(analysis.latents.shape),
        "codes": analysis.actions.codes.tolist(),
        "psnr": float(reconstruct(model, analysis).psnr.mean()),
    }


def markdown(runs: dict[str, dict[str, dict[str, float]]]) -> str:
    """Per bundle, each figure that moved: recorded value, the range measured, and the spread (max - min)."""
    from studio.bundle import load_bundle

    lines = [f"Settings: {'; '.join(runs)}.", ""]
    for name in BUNDLES:
        recorded = flat(FigureSet.from_manifest(load_bundle(EXPORTED / name).manifest.metrics["examples"]))
        values = {key: [run[name][key] for run in runs.values()] for key in next(iter(runs.values()))[name]}
        moved = {key: v for key, v in values.items() if max(v) != min(v)}
        still = len(values) - len(moved)
        lines += [f"**{name}**: {still} of {len(values)} figures came out identical in every setting; these moved:", ""]
        lines += ["| figure | recorded | measured min | measured max | spread |", "| --- | ---: | ---: | ---: | ---: |"]
        for key, v in moved.items():
            kept = recorded.get(key, float("nan"))
            lines.append(f"| {key} | {kept:.6g} | {min(v):.6g} | {max(v):.6g} | {max(v) - min(v):.2g} |")
        lines.append("")
    printed = [run[README_EXAMPLE] for run in runs.values()]
    psnr = [p["psnr"] for p in printed]
    same = all(p["shape"] == printed[0]["shape"] and p["codes"] == printed[0]["codes"] for p in printed)
    lines += [
        f"**{README_EXAMPLE}** (breakout_1.mp4): latents {printed[0]['shape']} and all "
        f"{len(printed[0]['codes'])} codes {'the same in every setting' if same else 'NOT the same in every setting'}; "
        f"reconstruction PSNR {min(psnr):.6f} to {max(psnr):.6f} dB (spread {max(psnr) - min(psnr):.1g} dB).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--setting":
        _, threads, moved = SETTINGS[sys.argv[2]]
        print(json.dumps(measure_here(threads, moved)))
        return
    saved = Path(__file__).parent / "figure_spread.json"  # settings measured already are kept: `rm` it to redo
    runs = json.loads(saved.read_text()) if saved.is_file() else {}
    for setting, (environment, *_) in SETTINGS.items():
        if setting in runs:
            continue
        print(f"measuring: {setting}", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.figure_spread", "--setting", setting],
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=True,
        )
        runs[setting] = json.loads(done.stdout.strip().splitlines()[-1])
        saved.write_text(json.dumps(runs, indent=1))
    print(markdown(runs))


if __name__ == "__main__":
    main()
