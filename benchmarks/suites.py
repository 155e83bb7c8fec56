"""What `studio bench` measures, suite by suite (issue list of the benchmark harness, in order)."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime

from benchmarks.floors import kernel_floor, normalized_and_activated
from benchmarks.flops import matmul_gflops, multiply_adds
from benchmarks.gpu import gpu
from benchmarks.harness import Report, Row, measure, measure_alternating, row, versus
from benchmarks.targets import API_STEP, probe_row
from studio.examples import example_clips
from studio.play import RUN_FRAMES_PER_S, ImaginedGame
from studio.projection import Projection, ProjectionConfig
from studio.runtime import CPU, WorldModel, session_options
from studio.video import read_clip, write_mp4

# Batch-1 calls take a millisecond; on these VMs such calls ran 1.6x slower for seconds at a time, so their
# medians come from ~10 s of alternating blocks, long enough for a slow spell to stay a minority.
BATCH_ONE_REPEATS = 30
SUITES = ("graphs", "play", "projection", "decoding", "analysis", "app", "probes")  # in the order a full run takes them
GPU_SUITE = "gpu"  # run only when asked for (`--suite gpu`): every shipped bundle on CUDA beside the CPU


@dataclass(frozen=True)
class BenchConfig:
    bundle: Path
    checkpoint: Path | None = None  # the training checkpoint behind the bundle, for the torch eager rows
    quick: bool = False  # seconds, not minutes: checks that every suite runs, not the figures
    suites: tuple[str, ...] = SUITES  # which of SUITES to run

    @property
    def repeats(self) -> int:
        return 3 if self.quick else 30

    @property
    def warm_up_s(self) -> float:  # untimed running before two runtimes are timed side by side
        return 0.1 if self.quick else 2.0

    @property
    def clip_lengths(self) -> tuple[int, ...]:  # frames: 10 s, 1 min, 10 min at 30 fps
        return (60, 120) if self.quick else (300, 1800, 18_000)

    @property
    def play_steps(self) -> int:
        return 20 if self.quick else 500

    @property
    def probe_frames(self) -> int:  # a 1-minute clip at 15 fps, the Atari examples' rate
        return 120 if self.quick else 900

    @property
    def projection_sizes(self) -> tuple[int, ...]:
        return (300,) if self.quick else (300, 1800, 18_000)


def graphs(report: Report, model: WorldModel, trained, config: BenchConfig, work: Path) -> None:
    """Each graph at batch 1 and 64 through onnxruntime, beside the same weights in torch eager; and the
    arithmetic rate each ran at, beside the machine's float32 matrix-product ceiling.

    `trained` is the torch model behind the bundle (None: onnxruntime rows only). With it, the batch-1 loop
    of the encoder, predictor and decoder also times what bounds their ratio (`_ConvolutionFloor`)."""
    eager, floors = None, {}
    if trained is not None:
        from studio.train.eager_reference import convolutions_only, eager_graphs  # torch lives in the training extras

        eager = eager_graphs(trained)
        floors = {
            role: _ConvolutionFloor(role, runner, path, model)
            for role, (runner, path) in convolutions_only(trained, work / "convolutions").items()
        }
    ceiling = matmul_gflops()
    report.facts["float32 matrix product, 2048² (numpy, all cores): the arithmetic ceiling"] = f"{ceiling:.0f} GFLOP/s"
    work_per_sample = {role: multiply_adds(path) for role, path in model.bundle.graph_paths.items()}
    rates: dict[str, list[str]] = {role: [] for role in work_per_sample}
    for batch in (1, 64):
        for role, feeds in graph_feeds(model, batch).items():
            session = model.sessions[role]
            label = f"{role} batch {batch}"
            if eager is None:
                ort = row("graphs", f"{label} (onnxruntime)", measure(lambda: session.run(None, feeds), config.repeats))
                report.add(ort)
                measured = {"onnxruntime": ort}
            else:
                floor = floors.get(role) if batch == 1 else None
                repeats = config.repeats * (BATCH_ONE_REPEATS if batch == 1 else 1)
                seconds = measure_alternating(
                    [
                        lambda: session.run(None, feeds),
                        lambda: eager[role](feeds),
                        *(floor.alternatives(feeds) if floor else []),
                    ],
                    repeats,
                    rounds=10,
                    warm_up_s=config.warm_up_s,
                )
                ort = row("graphs", f"{label} (onnxruntime)", seconds[0])
                torch_row = row("graphs", f"{label} (torch eager)", seconds[1])
                report.add(versus(ort, torch_row), torch_row)
                if floor:
                    floor.report(report, ort, torch_row, seconds[2:])
                measured = {"onnxruntime": ort, "torch": torch_row}
            gflops = {
                runtime: 2 * work_per_sample[role] * batch / (r.median_ms / 1000) / 1e9
                for runtime, r in measured.items()
            }
            rates[role].append(
                f"batch {batch}: " + ", ".join(f"{runtime} {rate:.0f}" for runtime, rate in gflops.items())
            )
    for role, figures in rates.items():
        report.facts[f"{role}: multiply-adds per sample; GFLOP/s reached"] = (
            f"{work_per_sample[role] / 1e6:.1f} M; " + "; ".join(figures)
        )


class _ConvolutionFloor:
    """What bounds a graph's batch-1 ratio over torch eager: its convolutions alone (every GroupNorm and SiLU
    made identity, the same weights otherwise) in both runtimes, and the least onnxruntime's own kernels need
    for the normalizations and activations (`benchmarks/floors.py`). No runtime runs a graph faster than its
    convolutions, so together they bound what ratio onnxruntime could reach at all. They run in the whole
    graphs' own alternating loop: a bound is only as good as figures taken together."""

    def __init__(self, role: str, convs_eager, convs_path: Path, model: WorldModel):
        self.role = role
        self.convs_eager = convs_eager
        self.convs_session = onnxruntime.InferenceSession(
            str(convs_path), sess_options=session_options(), providers=[CPU]
        )
        self.kernels = kernel_floor(*normalized_and_activated(model.bundle.graph_paths[role]))

    def alternatives(self, feeds: dict[str, np.ndarray]) -> list:
        return [lambda: self.convs_session.run(None, feeds), lambda: self.convs_eager(feeds), *self.kernels.graphs]

    def report(self, report: Report, whole_ort: Row, whole_torch: Row, seconds: list[np.ndarray]) -> None:
        k = self.kernels
        names = [
            "convolutions alone (onnxruntime)",
            "convolutions alone (torch eager)",
            f"its GroupNorms' statistics as one InstanceNormalization of {k.norm.elements:,} elements (onnxruntime)",
            f"their per-channel scale and shift as one BatchNormalization of {k.norm.elements:,} elements "
            "(onnxruntime)",
            f"its SiLUs as one op of {k.silu.elements:,} elements (onnxruntime)",
            "an empty call: Identity of one float (onnxruntime)",
        ]
        convs_ort, convs_torch, *kernel_rows = (
            row("floor", f"{self.role} batch 1, {name}", s) for name, s in zip(names, seconds)
        )
        report.add(versus(convs_ort, convs_torch), convs_torch, *kernel_rows)
        *kernel_ms, empty_ms = (r.median_ms for r in kernel_rows)
        floor = sum(max(0.0, ms - empty_ms) for ms in kernel_ms)
        w_o, w_t, c_o, c_t = (r.median_ms for r in (whole_ort, whole_torch, convs_ort, convs_torch))
        # the whole graph cannot beat its own convolutions, nor them plus the floor: when it reads as if it did, the
        # machine slowed down during some blocks of the loop and not others, and that bound does not hold
        report.facts[
            f"{self.role} batch 1: what a 2x over torch eager leaves for the normalizations and activations"
        ] = (
            f"timed together: torch {w_t:.2f} ms, so 2x needs onnxruntime ≤ {w_t / 2:.2f}; its convolutions alone "
            f"take {c_o:.2f} (torch's {c_t:.2f}: {c_t / c_o:.2f}x), so onnxruntime cannot beat torch by more than "
            f"{w_t / c_o:.2f}x{_not_a_bound(w_o < c_o)}; they leave {w_t / 2 - c_o:.2f} ms for the rest, which takes "
            f"{w_o - c_o:.2f} (torch: {w_t - c_t:.2f}) and cannot take less than {floor:.3f} "
            "with onnxruntime's kernels "
            f"(each one-op call less the empty call's {empty_ms:.3f}); "
            "best ratio possible with them: "
            f"{w_t / (c_o + floor):.2f}x{_not_a_bound(w_o < c_o + floor)} (this loop: {w_t / w_o:.2f}x)"
        )


def _not_a_bound(disturbed: bool) -> str:
    return (
        " [NOT A BOUND in this loop: the whole graph ran faster than that, so the machine's speed changed "
        "during the loop]"
        if disturbed
        else ""
    )


def _trained_model(config: BenchConfig):
    """The torch model behind the bundle, when its checkpoint and the training extras are here."""
    if config.checkpoint is None or not config.checkpoint.is_file():
        return None
    try:
        from studio.train.eager_reference import load_eager
    except ImportError:  # the studio without its training extras
        return None
    return load_eager(config.checkpoint, threads=2)


def graph_feeds(model: WorldModel, batch: int) -> dict[str, dict[str, np.ndarray]]:
    """Inputs of `batch` samples for each graph, by role: random frames, and the latents the encoder makes of them."""
    rng = np.random.default_rng(0)
    h, w = model.frame_size
    m = model.manifest
    frames = rng.random((batch, 3, h, w), dtype=np.float32)
    latents = model.encode(frames)  # [B, N, D]
    return {
        "encoder": {"frames": frames},
        "actions": {"latents": np.stack([np.roll(latents, shift, axis=0) for shift in range(m.action.window)], axis=1)},
        "predictor": {
            "context": np.repeat(latents[:, None], m.predictor.context, axis=1),
            "action": model.action_vectors(np.arange(batch) % model.codebook_size),
        },
        "decoder": {"latents": latents},
    }


def clip_decoding(report: Report, model: WorldModel, clips: dict[int, Path], config: BenchConfig) -> None:
    """decord against PyAV on the same files, at native size and resized to the model's frames."""
    for frames, path in clips.items():
        sizes = [("resized", model.frame_size)]
        if frames <= 2000:  # 10 minutes at native size would not fit in memory, and the studio never asks for it
            sizes.insert(0, ("native", None))
        for label, size in sizes:
            source = read_clip(path, max_frames=2).source_size if size is None else size
            kwargs = dict(max_frames=frames, size=source, spread=False)
            repeats = max(1, config.repeats // 10) if frames > 1000 else max(2, config.repeats // 3)
            decord_row = row(
                "decoding", f"{frames} frames {label} (decord)", measure(lambda: read_clip(path, **kwargs), repeats, 0)
            )
            pyav_row = row(
                "decoding",
                f"{frames} frames {label} (PyAV)",
                measure(lambda: read_clip(path, backend="pyav", **kwargs), repeats, 0),
            )
            report.add(versus(decord_row, pyav_row), pyav_row)


def projection(report: Report, model: WorldModel, config: BenchConfig) -> None:
    """Placing points in a fitted UMAP map the studio's way (neighbour-weighted, numpy) against umap-learn's
    own transform (which refines that placement with numba-compiled layout steps), UMAP fit, and PCA."""
    import umap

    rng = np.random.default_rng(0)
    n, d = model.manifest.latent.tokens, model.manifest.latent.dim
    for size in config.projection_sizes:
        points = rng.normal(size=(size, n * d)).astype(np.float32)
        new_points = rng.normal(size=(size, n * d)).astype(np.float32)  # UMAP returns its fit's own points at once
        repeats = 1 if size > 10_000 else max(2, config.repeats // 10)
        umap_config = ProjectionConfig("umap", 2)
        fit = row(
            "projection", f"UMAP fit, {size} points", measure(lambda: Projection.fit(points, umap_config), repeats, 0)
        )
        fitted = Projection.fit(points, umap_config)
        reduced = (new_points - fitted.mean) @ fitted.components.T  # [size, keep]
        theirs = umap.UMAP(n_neighbors=umap_config.neighbors, min_dist=umap_config.min_dist, random_state=0, n_jobs=1)
        theirs.fit(fitted.reference)
        placed = row(
            "projection",
            f"place {size} points in the map (studio)",
            measure(lambda: fitted.transform(new_points), repeats, 1),
        )
        transform = row(
            "projection", f"umap-learn transform, {size} points", measure(lambda: theirs.transform(reduced), repeats, 1)
        )
        pca = row(
            "projection",
            f"PCA fit + transform, {size} points",
            measure(lambda: Projection.fit(points, ProjectionConfig("pca", 2)).transform(new_points), repeats, 1),
        )
        report.add(fit, versus(placed, transform), transform, versus(pca, fit))


VOUCHING = "screen finding + familiarity: share of a 1-minute clip's analysis"


def analysis_stages(report: Report, model: WorldModel, clips: dict[int, Path]) -> None:
    """Where an analysis spends its time, in process: finding the game screen, read, encode, actions, judging
    familiarity; then the reconstruction the preview shows (decode), a step of its own. Every frame is read
    (stride 1), so the figures compare across runs whatever the clip's rate."""
    from studio.analysis import analyze_clip, reconstruct

    for frames, path in clips.items():
        if frames > 10_000:
            continue  # the 10-minute clip is timed through the app; its stages scale with the 1-minute one
        analyze_clip(model, path, max_frames=frames, stride=1)  # warm: the first call pays for file caches
        began = time.perf_counter()
        analysis = analyze_clip(model, path, max_frames=frames, stride=1)
        wall = time.perf_counter() - began
        decode = reconstruct(model, analysis).seconds
        stages = " · ".join(f"{stage} {seconds:.2f}" for stage, seconds in analysis.timings.items())
        report.facts[f"analyze {frames} frames in process (s): stages, wall; then reconstruct"] = (
            f"{stages} · wall {wall:.2f}; reconstruct {decode:.2f}"
        )
        if frames == 1800:
            added = analysis.timings.get("screen", 0.0) + analysis.timings.get("familiarity", 0.0)
            report.facts[VOUCHING] = (
                f"{100 * added / wall:.1f} % ({added:.2f} s of {wall:.2f} s; "
                f"{100 * added / (wall + decode):.1f} % with the preview's reconstruction)"
            )


def play_and_rollout(report: Report, model: WorldModel, config: BenchConfig) -> None:
    """One play step (predictor + decoder, batch 1) in process; rollouts of 64 steps, 1 and 4 branches."""
    rng = np.random.default_rng(0)
    h, w = model.frame_size
    latents = model.encode(rng.integers(0, 255, (model.context, h, w, 3), dtype=np.uint8))
    game = ImaginedGame.start(model, latents, model.context - 1)
    codes = rng.integers(0, model.codebook_size, config.play_steps)
    steps = iter(np.tile(codes, 2))
    report.add(
        row(
            "play",
            "play step in process (predictor + decoder, batch 1)",
            measure(lambda: game.step(model, int(next(steps))), config.play_steps, 10),
        )
    )
    context = model.start_context(latents)[None]  # [1, C, N, D]
    for branches in (1, 4):
        actions = model.action_vectors(rng.integers(0, model.codebook_size, (branches, 64)))  # [B, 64, Da]
        start = np.repeat(context, branches, axis=0)
        report.add(
            row(
                "rollout",
                f"rollout 64 steps, {branches} branch(es), decoded",
                measure(
                    lambda: model.decode(model.rollout(start, actions).reshape(-1, *latents.shape[1:])),
                    max(2, config.repeats // 3),
                ),
            )
        )


def probes(report: Report, model: WorldModel, config: BenchConfig) -> None:
    """Linear probes of a clip's latents: every label column at once, and one column of each kind, as the studio
    runs them (BLAS on one thread); and the decomposition each fold needs, on one thread and on every core. Each
    row notes the CPU time its calls took beside their wall time: on a machine shared with other work, the wall
    time is the larger."""
    import os

    from threadpoolctl import threadpool_limits

    from studio.probe import ProbeConfig, label_kind, probe, probe_all

    load_before = os.getloadavg()[0]
    latents, columns, source = _probe_data(model, config.probe_frames)
    frames = len(latents)
    number = next(
        name for name, values in columns.items() if values.dtype.kind == "f" and label_kind(values) == "number"
    )
    category = next(name for name, values in columns.items() if label_kind(values) == "category")
    five = ProbeConfig(folds=5)
    repeats = 1 if config.quick else 5
    report.add(
        _timed_with_cpu(probe_row("all label columns", frames), lambda: probe_all(latents, columns, five), repeats, ""),
        _timed_with_cpu(
            probe_row("one category column", frames),
            lambda: probe(latents, columns[category], category, five),
            2 * repeats,
            f"{category}; ",
        ),
        _timed_with_cpu(
            probe_row("one number column", frames),
            lambda: probe(latents, columns[number], number, five),
            2 * repeats,
            f"{number}; ",
        ),
    )
    training = latents[: frames * 4 // 5].reshape(frames * 4 // 5, -1).astype(np.float64)  # [n, F]: one fold's
    standardized = (training - training.mean(axis=0)) / (training.std(axis=0) + 1e-12)
    decompositions = {}
    for threads, label in ((1, "1 thread"), (None, "every core")):
        with threadpool_limits(threads):
            decompositions[label] = _timed_with_cpu(
                f"decompose one fold's latents ({standardized.shape[0]}×{standardized.shape[1]}: Gram matrix and its "
                f"eigenvectors), BLAS on {label}",
                lambda: np.linalg.eigh(standardized @ standardized.T),
                2 * repeats,
                "",
            )
    report.add(versus(decompositions["1 thread"], decompositions["every core"]), decompositions["every core"])
    kinds = [r.kind for r in probe_all(latents, columns, five).results]
    report.facts["probe: the labels probed"] = (
        f"{source}: {len(columns)} columns, {kinds.count('number')} numbers, {kinds.count('category')} categories, "
        f"{len(columns) - len(kinds)} constant (not probed)"
    )
    report.facts["probe: the machine's load average (1 min) before and after the suite"] = (
        f"{load_before:.1f}, {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)"
    )


def _timed_with_cpu(name: str, fn, repeats: int, note: str) -> Row:
    """The row of `fn`'s wall time, its note ending with the median CPU time of the same calls."""
    cpu = []

    def timed() -> None:
        began = time.process_time()
        fn()
        cpu.append(time.process_time() - began)

    seconds = measure(timed, repeats)
    return row("probe", name, seconds, note=f"{note}CPU {1000 * np.median(cpu[1:]):.0f} ms")


def _probe_data(model: WorldModel, frames: int) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """Latents [frames, N, D] and label columns [frames] for the probe suite: the bundle's example clips and their
    labels end to end, looped to `frames` (only the times count: the loop repeats frames across folds, so the
    scores are not held-out figures); without labelled examples, random ones shaped like Atari's (an action of
    4 values, 128 RAM bytes)."""
    from studio.analysis import analyze_clip
    from studio.labels import read_labels

    latents, columns = [], {}
    for path in (p for p in example_clips(model) if p.with_suffix(".csv").is_file()):
        analysis = analyze_clip(model, path, stride=1)
        labels = read_labels(path.with_suffix(".csv"))
        latents.append(analysis.latents)  # [T, N, D]
        for name in labels.columns:
            clip = analysis.clip
            columns.setdefault(name, []).append(labels.at(name, np.asarray(clip.indices), clip.source_frames))
    if latents:
        looped = np.resize(np.concatenate(latents), (frames, *latents[0].shape[1:]))
        return (
            looped,
            {name: np.resize(np.concatenate(parts), frames) for name, parts in columns.items()},
            f"the bundle's {len(latents)} example clips' labels, looped to {frames} frames",
        )
    rng = np.random.default_rng(0)
    m = model.manifest.latent
    random = {"action": rng.integers(0, 4, frames).astype(np.float64)}
    random |= {f"ram_{i}": rng.integers(0, 256, frames).astype(np.float64) for i in range(128)}
    return rng.normal(size=(frames, m.tokens, m.dim)).astype(np.float32), random, "random labels shaped like Atari's"


def synthetic_clips(model: WorldModel, lengths: tuple[int, ...], folder: Path) -> dict[int, Path]:
    """Clips of the given lengths at 30 fps, made of the bundle's example clip looped (or noise without one),
    at 160×208: Atari's own size, rounded to even for H.264."""
    examples = example_clips(model)
    if examples:
        source = read_clip(examples[0], size=(208, 160), max_frames=300).frames  # [T, 208, 160, 3]
    else:
        source = np.random.default_rng(0).integers(0, 255, (60, 208, 160, 3), dtype=np.uint8)
    clips = {}
    for length in lengths:
        frames = np.resize(source, (length, *source.shape[1:]))
        clips[length] = write_mp4(frames, folder / f"clip_{length}.mp4", fps=30)
    return clips


def through_the_app(report: Report, clips: dict[int, Path], config: BenchConfig, work: Path) -> None:
    """The studio as a user meets it: cold start, analyze end to end, play steps over the API, peak RSS."""
    from gradio_client import Client, handle_file

    from benchmarks.server import RawClient, process_memory_mb, start_studio, stop
    from studio.analysis import preview_indices

    exported = work / "exported"
    shutil.copytree(config.bundle, exported / config.bundle.name)
    began = time.perf_counter()
    process, url = start_studio(exported, work / "studio.log", env={"STUDIO_CACHE_DIR": str(work / "cache")})
    served = time.perf_counter() - began
    try:
        client = Client(url, verbose=False)
        first_clip = clips[min(clips)]
        began = time.perf_counter()
        client.predict(handle_file(str(first_clip)), 1, 20_000, "UMAP", "2D", "time", api_name="/analyze")
        first_analyze = time.perf_counter() - began
        report.facts["cold start: launch → page served"] = f"{served:.2f} s"
        report.facts[f"cold start: launch → first analyze ({min(clips)} frames) answered"] = (
            f"{served + first_analyze:.2f} s"
        )
        per_frame = {}
        for frames, path in clips.items():
            # at least three, so that the median is never decided by one run in a slow spell of the machine
            repeats = 3 if frames > 10_000 else max(3, config.repeats // 10)

            def analyze(path=path):
                return client.predict(handle_file(str(path)), 1, 20_000, "UMAP", "2D", "time", api_name="/analyze")

            seconds = measure(analyze, repeats, 0)
            report.add(row("analyze", f"analyze {frames} frames end to end (API, warm)", seconds))
            with_preview = measure(
                lambda: (analyze(), client.predict("UMAP", "2D", "time", 0, api_name="/reconstruct")), repeats, 0
            )
            report.add(
                row(
                    "analyze",
                    f"… then its reconstruction preview (/analyze + /reconstruct, "
                    f"{len(preview_indices(frames))} frames decoded)",
                    with_preview,
                )
            )
            per_frame[frames] = float(np.median(seconds)) / frames
            if frames == min(clips):
                report.facts["first analyze / warm analyze (same clip)"] = f"{first_analyze / np.median(seconds):.2f}"
        report.facts["analyze cost per frame, ms (by clip length)"] = ", ".join(
            f"{k}: {1000 * v:.2f}" for k, v in per_frame.items()
        )
        report.facts["app peak RSS after the longest analyze"] = f"{process_memory_mb(process.pid, 'VmHWM'):.0f} MB"
        client.predict(0, api_name="/play_start")
        codes = iter(np.arange(config.play_steps * 4) % 4)
        raw = RawClient(url, client.session_hash)
        page_like = row(
            "play through the API", API_STEP, measure(lambda: raw.call("step", int(next(codes))), config.play_steps, 5)
        )
        python_client = row(
            "play through the API",
            "play step through gradio_client (/step)",
            measure(lambda: client.predict(int(next(codes)), api_name="/step"), config.play_steps, 5),
            note="gradio_client polls its result queue every 50 ms",
        )
        report.add(versus(page_like, python_client), python_client)
        (streamed,), cores = _running(process.pid, [raw], 1.0 if config.quick else 10.0)
        report.facts[
            f"Run mode: frames per second one player asks for and gets (/run_step, HTTP + SSE, one at a time, "
            f"at most {RUN_FRAMES_PER_S} on the page); "
            "the app's CPU"
        ] = f"{streamed:.1f}; {cores:.2f} cores"
        raw.close()
        under_load(report, url, clips[min(clips)], config)
        players_running(report, url, clips[min(clips)], process.pid, config)
        report.facts["app peak RSS after the load suite"] = f"{process_memory_mb(process.pid, 'VmHWM'):.0f} MB"
    finally:
        stop(process)


def under_load(report: Report, url: str, clip: Path, config: BenchConfig) -> None:
    """20 users analyzing at once, then 5 users playing at once: latency of each request, and refusals."""
    import concurrent.futures

    from gradio_client import Client, handle_file

    from benchmarks.server import RawClient

    users, players = (4, 2) if config.quick else (20, 5)
    steps = 20 if config.quick else 200

    def analyze(_) -> float | None:
        began = time.perf_counter()
        try:
            Client(url, verbose=False).predict(
                handle_file(str(clip)), 1, 20_000, "UMAP", "2D", "time", api_name="/analyze"
            )
        except Exception:  # the queue is full: the user is told so, and it is counted
            return None
        return time.perf_counter() - began

    with concurrent.futures.ThreadPoolExecutor(users) as pool:
        answers = list(pool.map(analyze, range(users)))
    done = np.array([a for a in answers if a is not None])
    report.add(
        row(
            "load",
            f"analyze {clip.stem}, {users} users at once (each user's wait)",
            done,
            note=f"{users - len(done)} refused",
        )
    )

    def play(_) -> np.ndarray:
        client = Client(url, verbose=False)
        client.predict(handle_file(str(clip)), 1, 20_000, "PCA", "2D", "time", api_name="/analyze")
        client.predict(0, api_name="/play_start")
        raw = RawClient(url, client.session_hash)
        seconds = measure(lambda: raw.call("step", 1), steps, 0)
        raw.close()
        return seconds

    with concurrent.futures.ThreadPoolExecutor(players) as pool:
        seconds = np.concatenate(list(pool.map(play, range(players))))
    report.add(row("load", f"play step, {players} players at once ({steps} steps each)", seconds))


def players_running(report: Report, url: str, clip: Path, pid: int, config: BenchConfig) -> None:
    """Several players in Run mode at once: the frames each gets, and the app's CPU while they run."""
    from gradio_client import Client, handle_file

    from benchmarks.server import RawClient

    players, seconds = (2, 1.0) if config.quick else (4, 10.0)
    raws = []
    for _ in range(players):
        client = Client(url, verbose=False)
        client.predict(handle_file(str(clip)), 1, 20_000, "PCA", "2D", "time", api_name="/analyze")
        client.predict(0, api_name="/play_start")
        raws.append(RawClient(url, client.session_hash))
    rates, cores = _running(pid, raws, seconds)
    for raw in raws:
        raw.close()
    report.facts[f"Run mode, {players} players at once: frames per second each gets; the app's CPU"] = (
        f"{', '.join(f'{r:.1f}' for r in rates)}; {cores:.2f} cores"
    )


def _running(pid: int, raws: list, seconds: float) -> tuple[list[float], float]:
    """Every player of `raws` in Run mode at once for `seconds`, asking for each frame as soon as it has the last
    (as a page does, without its cap on frames a second) -> the frames per second each got, and the cores the app
    used meanwhile."""
    import concurrent.futures

    from benchmarks.server import process_cpu_s

    def frames_per_second(raw) -> float:
        frames, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            raw.call("run_step", True)
            frames += 1
        return frames / (time.perf_counter() - began)

    cpu, began = process_cpu_s(pid), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(raws)) as pool:
        rates = list(pool.map(frames_per_second, raws))
    cores = (process_cpu_s(pid) - cpu) / (time.perf_counter() - began)
    return rates, cores


def run_all(config: BenchConfig, report: Report) -> None:
    model = WorldModel.load(config.bundle, device="auto")
    report.facts["bundle"] = f"{model.manifest.name} ({config.bundle})"
    report.facts["onnxruntime providers in use"] = ", ".join(sorted(set(model.providers.values())))
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    chosen = config.suites
    try:
        if "graphs" in chosen:
            graphs(report, model, _trained_model(config), config, work)
        if "play" in chosen:
            play_and_rollout(report, model, config)
        if "projection" in chosen:
            projection(report, model, config)
        needs_clips = {"decoding", "analysis", "app"} & set(chosen)
        clips = synthetic_clips(model, config.clip_lengths, work) if needs_clips else {}
        if "decoding" in chosen:
            clip_decoding(report, model, clips, config)
        if "analysis" in chosen:
            analysis_stages(report, model, clips)
        if "app" in chosen:
            through_the_app(report, clips, config, work)
        if "probes" in chosen:
            probes(report, model, config)
        if GPU_SUITE in chosen:
            length = 120 if config.quick else 1800  # frames: a 1-minute clip at 30 fps
            clip = synthetic_clips(model, (length,), work / GPU_SUITE)[length]
            gpu(report, config.bundle.parent, config.bundle, clip, length, config.quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
