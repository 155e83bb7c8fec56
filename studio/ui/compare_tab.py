"""Compare tab: two bundles on one clip, or one bundle on two clips, side by side (`studio.compare`)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from studio import figures as F
from studio.analysis import ClipAnalysis, analyze_clip
from studio.bundle import BundleError
from studio.compare import (
    DEFAULT_STEPS,
    MAX_STEPS,
    CompareError,
    Comparison,
    Side,
    SideFigures,
    check_distinct,
    compare,
    rollout_picture,
    save_probe_csv,
    save_summary_json,
)
from studio.examples import example_clips, example_labels
from studio.labels import Labels, LabelsError, read_labels
from studio.plots import clip_trajectory, code_usage_comparison_figure, trajectory_figure
from studio.ui.clip_tab import DISMISS_TOASTS
from studio.ui.picture_html import label_above_picture
from studio.ui.refusal import refusal
from studio.ui.state import BundleShelf, ClipState, Refusals
from studio.ui.tab import PageEvents, Tab, Updates
from studio.video import CLIP_SUFFIXES, ClipError

CLIP_TAB, UPLOAD, SAME = "clip tab", "upload", "same as A"  # the clip choices besides the shipped examples
DEFAULT_START = 40  # frames: far enough into a clip for its game to be under way (kept inside shorter clips)
MAP_HEIGHT = 380  # pixels: two maps side by side
PROBE_HEADERS = ["column", "kind", "metric", "A held-out", "A baseline", "B held-out", "B baseline"]
PROBE_HEADERS += ["A: baseline's errors removed", "B: baseline's errors removed", "B − A"]
FIRST_STEP = (
    "Pick a bundle and a clip for **A** and for **B**: two bundles on one clip (B's clip: *the same clip as A*), "
    "or one bundle on two clips, then press **Compare**. The shipped examples bring their labels; for another "
    "clip, upload a labels CSV under *Uploads* to probe its columns."
)
COMPARE_CSS = (
    "#compare-rollouts img { image-rendering: pixelated; }\n"
    + label_above_picture("compare-rollouts")  # no label, but its buttons over the first row's names
    + "\n"
    "#compare-summary th, #compare-summary td { padding: 4px 8px; }\n"
    "#compare-summary td:first-child { width: 26%; }\n"
    "#compare-banner:has(p) { background: #fff4e5; border-left: 4px solid #e8590c; padding: 4px 10px; }\n"
    "#compare-banner p { font-size: 0.9em; line-height: 1.35; margin: 0 0 4px 0; }"
)


@dataclass(frozen=True)
class ComparisonMade:
    """The comparison on a user's page: the folder of its files, and whether it read the Clip tab's clip."""

    folder: str
    read_clip_tab: bool


@dataclass(frozen=True)
class ChosenClip:
    """A clip picked for one side: its file, its labels, and the Clip tab's analysis of it when there is one."""

    path: Path
    labels: Labels | None
    clip_tab: ClipState | None = None

    def analysis_with(self, bundle: str) -> ClipAnalysis | None:
        """The Clip tab's analysis when it was made with `bundle`: the clip is not read again."""
        state = self.clip_tab
        return state.analysis if state is not None and state.bundle == bundle else None


def clip_choices(shelf: BundleShelf, side: str) -> list[tuple[str, str]]:
    """(label, value) of every clip a side can pick: the Clip tab's, an upload, each bundle's examples."""
    choices = [("the same clip as A", SAME)] if side == "B" else []
    choices += [("the Clip tab's clip", CLIP_TAB), ("a clip uploaded under Uploads", UPLOAD)]
    for name in shelf.names:
        examples = example_clips(shelf.get(name))
        choices += [(f"{path.name} ({name}'s example)", f"{name}/{path.name}") for path in examples]
    return choices


def default_sides(shelf: BundleShelf) -> tuple[str, str, str, str]:
    """(bundle A, clip A, bundle B, clip B): two bundles on A's example when there are two, else two examples."""
    first = shelf.default_name
    others = [name for name in shelf.names if name != first]
    examples = [f"{first}/{path.name}" for path in example_clips(shelf.get(first))]
    clip_a = examples[0] if examples else CLIP_TAB
    if others:
        return first, clip_a, others[0], SAME
    return first, clip_a, first, examples[1] if len(examples) > 1 else UPLOAD


class CompareTab(Tab):
    title, id, css = "Compare", "compare", COMPARE_CSS

    def build(self, events: PageEvents) -> None:
        shelf = self.page.shelf
        self.refusals = gr.State(None)  # this user's Refusals: why their last comparison was refused, until shown
        bundle_a, clip_a, bundle_b, clip_b = default_sides(shelf)
        with gr.Row():
            with gr.Column(scale=2, min_width=260):
                self.bundle_a = gr.Dropdown(shelf.names, value=bundle_a, label="A: bundle", elem_id="compare-bundle-a")
                self.clip_a = gr.Dropdown(
                    clip_choices(shelf, "A"), value=clip_a, label="A: clip", elem_id="compare-clip-a"
                )
            with gr.Column(scale=2, min_width=260):
                self.bundle_b = gr.Dropdown(shelf.names, value=bundle_b, label="B: bundle", elem_id="compare-bundle-b")
                self.clip_b = gr.Dropdown(
                    clip_choices(shelf, "B"), value=clip_b, label="B: clip", elem_id="compare-clip-b"
                )
            with gr.Column(scale=1, min_width=200):
                self.start = gr.Number(
                    DEFAULT_START, label="Rollout from frame", precision=0, minimum=0, elem_id="compare-start"
                )
                self.steps = gr.Slider(1, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="Rollout steps")
                run = gr.Button("Compare", variant="primary", elem_id="compare-run")
        with gr.Accordion("Uploads: a clip or a labels CSV for A or B", open=False), gr.Row():
            self.file_a = gr.File(label="A: clip", file_types=list(CLIP_SUFFIXES), type="filepath", height=110)
            self.labels_a = gr.File(label="A: labels CSV", file_types=[".csv"], type="filepath", height=110)
            self.file_b = gr.File(
                label="B: clip", file_types=list(CLIP_SUFFIXES), type="filepath", height=110, elem_id="compare-file-b"
            )
            self.labels_b = gr.File(label="B: labels CSV", file_types=[".csv"], type="filepath", height=110)
        self.status = gr.Markdown(FIRST_STEP, elem_id="compare-status")
        self.banner = gr.Markdown(elem_id="compare-banner")  # styled only when it says something (CSS)
        with gr.Row():
            with gr.Column(scale=3):
                self.summary = gr.Markdown(elem_id="compare-summary")
            with gr.Column(scale=2, min_width=320):
                self.usage = gr.Plot(label="Code usage", elem_id="compare-usage")
        with gr.Row():
            self.map_a = gr.Plot(label="A's map", elem_id="compare-map-a")
            self.map_b = gr.Plot(label="B's map", elem_id="compare-map-b")
        # the picture names its rows: the label would cover the first one's name
        self.rollouts = gr.Image(
            label="Rollouts from the same frame", show_label=False, interactive=False, elem_id="compare-rollouts"
        )
        self.probe_text = gr.Markdown(elem_id="compare-probe-text")
        self.probes = gr.Dataframe(
            headers=PROBE_HEADERS,
            label="Linear probes of every label column on both sides, the best encoded first",
            wrap=True,
            interactive=False,
            elem_id="compare-probes",
        )
        self.downloads = gr.File(
            label="Downloads: probes (.csv), summary (.json), maps and code usage (.html), rollouts (.png)",
            file_count="multiple",
            elem_id="compare-downloads",
        )
        self.made = gr.State(None, delete_callback=_delete_files)  # this user's ComparisonMade

        chosen = [self.bundle_a, self.clip_a, self.bundle_b, self.clip_b, self.start, self.steps]
        chosen += [self.file_a, self.labels_a, self.file_b, self.labels_b]
        run.click(None, js=DISMISS_TOASTS, api_name=False)  # a previous refusal's toast goes with it
        started = run.click(
            self.clear, inputs=self.made, outputs=[*self.shown, self.made, self.refusals], api_name=False
        )
        compared = started.then(
            self.compare,
            inputs=[self.page.clip, *chosen, self.refusals],
            outputs=[*self.shown, self.made],
            api_name="compare",
            concurrency_id="model",
            show_progress_on=[self.summary],
        )
        compared.failure(self.refused, inputs=self.refusals, outputs=[self.status, self.summary], api_name=False)
        self.follow_clip(events)

    @property
    def shown(self) -> list:
        """What the tab shows of a comparison, in the order of /compare's return values."""
        return [
            self.status,
            self.banner,
            self.summary,
            self.map_a,
            self.map_b,
            self.usage,
            self.rollouts,
            self.probe_text,
            self.probes,
            self.downloads,
        ]

    def follow_clip(self, events: PageEvents) -> None:
        # a comparison that read the Clip tab's clip goes when that clip does
        outputs = [*self.shown, self.made]
        events.follow_gone(lambda e: e.then(self.forget_clip_tab, inputs=self.made, outputs=outputs, api_name=False))

    def forget_clip_tab(self, made: ComparisonMade | None) -> Updates:
        if made is None or not made.read_clip_tab:
            return dict.fromkeys([*self.shown, self.made], gr.skip())
        _delete_files(made)
        return {
            **dict.fromkeys(self.shown),
            self.status: "The Clip tab's clip this comparison read has gone: press **Compare** to compare again.",
            self.made: None,
        }

    def clear(self, made: ComparisonMade | None) -> Updates:
        """A new comparison begins: nothing of the previous one stays on the page, its files go."""
        _delete_files(made)
        texts = {self.status: "Comparing…", self.banner: "", self.summary: "", self.probe_text: ""}
        return {**dict.fromkeys(self.shown), **texts, self.made: None, self.refusals: Refusals()}

    def refused(self, refusals: Refusals | None) -> Updates:
        reason = Refusals.read(refusals, "the comparison could not be made")
        # the summary's error badge goes too: the reason is told in words
        return {self.status: f"⚠ **Not compared:** {reason}\n\n{FIRST_STEP}", self.summary: ""}

    # the parameters' names are the endpoint's (gradio_client takes them as keywords)
    def compare(
        self,
        state: ClipState | None,
        bundle_a: str,
        clip_a: str,
        bundle_b: str,
        clip_b: str,
        start,
        steps,
        clip_file_a: str | None,
        labels_file_a: str | None,
        clip_file_b: str | None,
        labels_file_b: str | None,
        refusals: Refusals | None,
        progress=gr.Progress(),
    ) -> Updates:
        shelf = self.page.shelf
        try:
            chosen_a = _chosen_clip(shelf, "A", clip_a, clip_file_a, labels_file_a, state)
            chosen_b = (
                _with_labels(chosen_a, labels_file_b, "B")
                if clip_b == SAME
                else _chosen_clip(shelf, "B", clip_b, clip_file_b, labels_file_b, state)
            )
            check_distinct((bundle_a, bundle_b), (chosen_a.path, chosen_b.path))  # before any work
            progress(0.0, desc=f"analyzing A's clip with {bundle_a}")
            side_a = _side(shelf, bundle_a, chosen_a, "A")
            progress(0.3, desc=f"analyzing B's clip with {bundle_b}")
            side_b = _side(shelf, bundle_b, chosen_b, "B")
            progress(0.5, desc="rolling out, decoding and probing both sides")
            comparison = compare(side_a, side_b, shelf.maps, int(start or 0), int(steps or DEFAULT_STEPS))
        except CompareError as err:
            if refusals is not None:  # the page's (an API call has nothing to show it on)
                refusals.leave(str(err))
            raise refusal(f"Not compared: {err}", duration=30) from None
        progress(0.9, desc="drawing and writing the downloads")
        folder = Path(tempfile.mkdtemp(prefix="studio-compare-"))
        maps = [_map_figure(figures, name) for figures, name in zip(comparison.sides, "AB")]
        usage = code_usage_comparison_figure(
            [figures.usage for figures in comparison.sides],
            [f"{name}: {figures.side.title}" for figures, name in zip(comparison.sides, "AB")],
        )
        picture = rollout_picture(comparison)
        return {
            self.status: status_markdown(comparison),
            self.banner: banner_markdown(comparison),
            self.summary: summary_markdown(comparison),
            self.map_a: maps[0],
            self.map_b: maps[1],
            self.usage: usage,
            self.rollouts: picture,
            self.probe_text: probe_markdown(comparison),
            self.probes: probe_rows(comparison),
            self.downloads: _downloads(comparison, folder, maps, usage, picture),
            self.made: ComparisonMade(str(folder), any(side.clip_tab is not None for side in (chosen_a, chosen_b))),
        }


def _chosen_clip(
    shelf: BundleShelf, name: str, choice: str, upload: str | None, labels_file: str | None, state: ClipState | None
) -> ChosenClip:
    """The clip a side picked (no path is ever taken from a user but an upload), with its labels: the side's
    uploaded labels CSV, else the ones the clip came with."""
    if choice == CLIP_TAB:
        if state is None:
            raise CompareError(f"{name}'s clip is the Clip tab's, and no clip is analyzed there: analyze one first")
        chosen = ChosenClip(state.path, state.labels, state)
    elif choice == UPLOAD:
        if not upload:
            raise CompareError(f"{name}'s clip is an upload: drop a clip in '{name}: clip' under Uploads first")
        chosen = ChosenClip(Path(upload), None)
    else:
        bundle, _, file_name = str(choice).partition("/")
        model = shelf.models.get(bundle)
        paths = [path for path in example_clips(model) if path.name == file_name] if model is not None else []
        if not paths:
            raise CompareError(f"{name}'s clip '{str(choice)[:60]}' is not one of the shipped examples")
        chosen = ChosenClip(paths[0], example_labels(model, file_name))
    return _with_labels(chosen, labels_file, name)


def _with_labels(chosen: ChosenClip, labels_file: str | None, name: str) -> ChosenClip:
    if not labels_file:
        return chosen
    try:
        return ChosenClip(chosen.path, read_labels(labels_file), chosen.clip_tab)
    except LabelsError as err:
        raise CompareError(f"{name}'s labels CSV was refused: {err}") from None


def _side(shelf: BundleShelf, bundle: str, chosen: ChosenClip, name: str) -> Side:
    try:
        model = shelf.get(bundle)
        analysis = chosen.analysis_with(bundle) or analyze_clip(model, chosen.path)
    except (ClipError, BundleError) as err:
        raise CompareError(f"{name}'s clip was not analyzed with {bundle}: {err}") from None
    return Side(bundle, model, chosen.path, analysis, chosen.labels)


def _map_figure(figures: SideFigures, name: str):
    side = figures.side
    trajectory = clip_trajectory(side.clip.name, side.analysis, figures.coords)
    title = f"{name}: {side.bundle}'s map · {side.clip.name}, coloured by code"
    figure = trajectory_figure([trajectory], color_by="code", title=title, cloud=figures.cloud)
    figure.update_layout(height=MAP_HEIGHT)
    return figure


def status_markdown(comparison: Comparison) -> str:
    a, b = (figures.side for figures in comparison.sides)
    what = "two bundles on one clip" if a.clip == b.clip else "two clips"
    start = comparison.sides[0].rollout.start
    return (
        f"Compared {what}: **A** = {a.bundle} on {a.clip.name} ({len(a.analysis.latents)} frames), **B** = "
        f"{b.bundle} on {b.clip.name} ({len(b.analysis.latents)} frames); rollouts from frame {start}."
    )


def banner_markdown(comparison: Comparison) -> str:
    """A line for each side the studio cannot vouch for ('' when it vouches for both)."""
    lines = [
        f"⚠ **{name} ({figures.side.bundle})**: {figures.familiarity.sentence}"
        for name, figures in zip("AB", comparison.sides)
        if not figures.familiarity.vouched
    ]
    return "\n\n".join(lines)


def summary_markdown(comparison: Comparison) -> str:
    a, b = comparison.sides
    rows = [
        ("Familiarity of the clip", lambda f: _familiar(f)),
        ("Reconstruction PSNR on the clip", lambda f: f"{f.reconstruction_psnr_db:.1f} dB"),
        ("Rollout PSNR, last step (copy baseline)", _rollout),
        ("ΔtPSNR(t=4) on the clip", lambda f: "–" if f.delta_t_psnr_db is None else f"{f.delta_t_psnr_db:.2f} dB"),
        ("Effective rank of the latents", lambda f: f"{f.effective_rank:.1f} of {f.latent_size} dims"),
        ("Codes used · perplexity", lambda f: f"{int((f.usage > 0).sum())} · {f.perplexity:.2f} of {len(f.usage)}"),
        ("Code consistency (bundle's manifest)", _consistency),
        (f"{F.LATENT_ERROR_VS_COPY.name}, steps 1–4 (bundle's manifest)", _dynamics),
        ("Label columns carried better", lambda f: _wins(comparison, f is b)),
        ("Effective rank of the latents (bundle's manifest)", _shipped_rank),
        *[
            (f"{F.LINEAR_PROBE.of(label).name} (bundle's manifest)", _shipped_probe(label))
            for label in dict.fromkeys(
                label for f in (a, b) if f.shipped_latents for label in f.shipped_latents.probes_r2
            )
        ],
    ]
    lines = [f"| | **A**: {a.side.title} | **B**: {b.side.title} |", "| --- | --- | --- |"]
    lines += [f"| {name} | {show(a)} | {show(b)} |" for name, show in rows]
    return "\n".join(lines)


def _familiar(figures: SideFigures) -> str:
    f = figures.familiarity
    if f.median is None:
        return "not judged (no reference)"
    return f"{'familiar' if f.vouched else '⚠ **unfamiliar**'} (median {f.median:.2f}; held-out 1, unfamiliar < 0)"


def _rollout(figures: SideFigures) -> str:
    rollout = figures.rollout
    if not rollout.psnr.shape[1]:
        return "–"
    return f"{rollout.psnr[0, -1]:.1f} dB ({rollout.copy_psnr[-1]:.1f}) at step {rollout.psnr.shape[1]}"


def _consistency(figures: SideFigures) -> str:
    c = figures.consistency
    if c is None:
        return "not measured"
    if c.mean is None:
        return f"none: no code of the {c.codes_in_use} in use moves the player; {c.measured_on}"
    return f"{c.mean:.0%} over {c.codes_in_use} codes, {c.moving_codes} of them moving the player; {c.measured_on}"


def _dynamics(figures: SideFigures) -> str:
    if figures.dynamics is None:
        return "not measured"
    per_step, measured_on = figures.dynamics
    steps = " / ".join(f"{per_step[t]:.2f}" for t in sorted(per_step))
    return f"{steps} (below 1: beats copying); {measured_on}"


def _shipped_rank(figures: SideFigures) -> str:
    shipped = figures.shipped_latents
    if shipped is None or shipped.effective_rank is None:
        return "not measured"
    return f"{shipped.effective_rank:.1f} of {figures.latent_size} dims, {shipped.measured_on}"


def _shipped_probe(label: str):
    def show(figures: SideFigures) -> str:
        shipped = figures.shipped_latents
        return "–" if shipped is None or label not in shipped.probes_r2 else f"{shipped.probes_r2[label]:.2f}"

    return show


def _wins(comparison: Comparison, b: bool) -> str:
    if not comparison.probes:
        return "–"
    better = sum((row.difference > 0) if b else (row.difference < 0) for row in comparison.probes)
    return f"{better} of {len(comparison.probes)}"


def probe_markdown(comparison: Comparison) -> str:
    a, b = comparison.sides
    missing = [name for name, figures in zip("AB", comparison.sides) if figures.probes is None]
    if missing:
        return (
            f"**Probes:** {' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} no labels: upload a labels "
            "CSV for it under *Uploads* (the shipped examples bring their own) to probe every column on both sides."
        )
    if not comparison.probes:
        return "**Probes:** the two sides' labels share no column that could be probed on both."
    largest = [
        row for row in sorted(comparison.probes, key=lambda row: -abs(row.difference)) if abs(row.difference) >= 0.005
    ]
    told = (
        ", ".join(
            f"{row.column} ({'B' if row.difference > 0 else 'A'} by {abs(row.difference):.2f})" for row in largest[:3]
        )
        or "none: both sides probe every column alike"
    )
    return (
        f"**Probes:** {len(comparison.probes)} columns, each a linear probe from the frame latents, held-out over 5 "
        "contiguous folds, beside its trivial baseline; *baseline's errors removed* is 1 for a perfect probe, 0 for "
        f"none better than the baseline. **B − A** above 0: B's latents carry the column better. Largest differences: "
        f"{told}."
    )


def probe_rows(comparison: Comparison) -> list[list]:
    """One row per column (PROBE_HEADERS)."""
    rows = []
    for row in comparison.probes:
        figures = [row.scores[0], row.baselines[0], row.scores[1], row.baselines[1], *row.errors_removed]
        figures.append(row.difference)
        rows.append([row.column, row.kind, row.metric, *(round(float(v), 3) for v in figures)])
    return rows


def _downloads(comparison: Comparison, folder: Path, maps, usage, picture: np.ndarray) -> list[str]:
    files = [save_summary_json(comparison, folder / "comparison_summary.json")]
    if comparison.probes:
        files.append(save_probe_csv(comparison, folder / "comparison_probes.csv"))
    for figure, name in zip(maps, "AB"):
        files.append(folder / f"comparison_map_{name}.html")
        figure.write_html(files[-1], include_plotlyjs=True, full_html=True)
    files.append(folder / "comparison_code_usage.html")
    usage.write_html(files[-1], include_plotlyjs=True, full_html=True)
    files.append(folder / "comparison_rollouts.png")
    Image.fromarray(picture).save(files[-1])
    return [str(path) for path in files]


def _delete_files(made: ComparisonMade | None) -> None:
    if made is not None:
        shutil.rmtree(made.folder, ignore_errors=True)
