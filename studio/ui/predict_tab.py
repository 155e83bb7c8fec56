"""Predict tab: roll the world model forward from a frame of the clip, under chosen actions, and compare."""

from __future__ import annotations

import html

import gradio as gr
import numpy as np

from studio.analysis import MAX_FRAME_CAP
from studio.familiarity import departure_sentence, departure_steps
from studio.plots import rollout_psnr_figure
from studio.reference import reference_of
from studio.rollout import (
    MAX_BRANCHES,
    MAX_STEPS,
    ActionSequenceError,
    ActionSource,
    BetweenCodes,
    Branches,
    ClipCodes,
    HeldCode,
    RandomCodes,
    TypedSequence,
    branch_video_frames,
    delta_t_psnr,
    plan_branches,
    predict_branches,
)
from studio.ui.clip_tab import PREVIEW_HEIGHT
from studio.ui.refusal import refusal
from studio.ui.state import ClipState
from studio.ui.tab import Moment, PageEvents, Tab, Updates, unless_discarded
from studio.video import write_gif, write_mp4

# Roll out sits at the foot of a long column of controls: the page shows the rollout it made, not the button
SHOW_VIDEO = "() => document.getElementById('predict-panels')?.scrollIntoView({ block: 'start', behavior: 'smooth' })"

PREDICT_CSS = (
    "#predict-panels .panel-names { display: grid; gap: 4px; text-align: center; font-weight: 600; "
    "font-size: 0.95rem; line-height: 1.3; }\n"
    # the player's controls under the panels, not over their bottom rows (Breakout's paddle) while the pointer,
    # left where Roll out was, rests on the video
    "#predict-video .controls { position: static !important; margin-top: 4px; }"
)
SOURCE_LABELS = (  # the choices of the Actions radio, in the order /rollout's README documents them
    "codes inferred from the clip",
    "one code held",
    "typed sequence",
    "random codes",
    "between two codes",
)
BRANCHES_HELP = (
    f"Up to {MAX_BRANCHES - 1} more branches, one per line: a code sequence such as `2 2 5 1`, "
    "or `clip` or `random`. Each is rolled out from the same frame and shown beside the first."
)


def chosen_source(label: str, held, seed, typed, first, second, mix) -> ActionSource:
    """The action source the form describes: the chosen kind, read from its own fields."""
    match label:
        case "codes inferred from the clip":
            return ClipCodes()
        case "one code held":
            return HeldCode(int(held or 0))
        case "typed sequence":
            return TypedSequence(typed or "")
        case "random codes":
            return RandomCodes(int(seed or 0))
        case "between two codes":
            return BetweenCodes(int(first or 0), int(second or 0), float(mix))
    raise ActionSequenceError(f"choose the actions from: {', '.join(SOURCE_LABELS)}")


class PredictTab(Tab):
    title, id, css = "Predict", "predict", PREDICT_CSS

    def build(self, events: PageEvents) -> None:
        gr.Markdown(
            "Roll the predictor forward from a frame of the analyzed clip and decode what it imagines. "
            "The clip's own next frames are shown on the left for comparison."
        )
        # the controls above, the rollout under them as wide as the page: at 1280 pixels three panels of about
        # 400 pixels each, five of about 240
        with gr.Row(equal_height=True):
            self.start = gr.Slider(
                0,
                MAX_FRAME_CAP - 1,
                value=0,
                step=1,
                label="Start frame",
                visible=False,
                elem_id="predict-start",
                scale=2,
            )  # hidden until a clip gives it its range; API calls meet this one
            steps = gr.Slider(1, MAX_STEPS, value=16, step=1, label="Steps", elem_id="predict-steps", scale=2)
            run = gr.Button("Roll out", variant="primary", elem_id="predict-run", scale=1, min_width=160)
        source = gr.Radio(list(SOURCE_LABELS), value=SOURCE_LABELS[0], label="Actions", elem_id="predict-source")
        with gr.Row():
            code = gr.Number(0, precision=0, label="Held code", minimum=0, min_width=100)
            seed = gr.Number(0, precision=0, label="Random seed", minimum=0, min_width=100)
            sequence = gr.Textbox(
                "", label="Typed sequence", placeholder="e.g. 1 1 2 0", elem_id="predict-sequence", scale=2
            )
            first = gr.Number(0, precision=0, label="From code", minimum=0, min_width=100)
            second = gr.Number(1, precision=0, label="To code", minimum=0, min_width=100)
            mix = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Share of the way between the two codes", scale=2)
        branches = gr.Textbox("", label="Branches", lines=2, info=BRANCHES_HELP, elem_id="predict-branches")
        # the panels' names as page text, over the panels they name (the video's own captions are for downloads)
        self.panel_names = gr.HTML(elem_id="predict-panels")
        self.video = gr.Video(
            label="Clip | predicted branches", show_label=False, autoplay=True, loop=True, elem_id="predict-video"
        )
        with gr.Row():
            self.summary = gr.Markdown(elem_id="predict-summary")
            self.psnr_plot = gr.Plot(label="PSNR per step", elem_id="predict-psnr")
        self.downloads = gr.File(
            label="Downloads: rollout (.mp4, .gif), predicted latents (.npz)", file_count="multiple"
        )
        form = [self.page.clip, self.start, steps, source, code, seed, sequence, first, second, mix, branches]
        run.click(
            self.roll_out_branches,
            inputs=form,
            outputs=self.outputs,
            api_name="rollout",
            concurrency_id="model",
            show_progress_on=[self.video],
        ).success(self.name_panels, inputs=form, outputs=self.panel_names, api_name=False).then(
            None, js=SHOW_VIDEO, api_name=False
        )
        self.follow_clip(events)

    @property
    def outputs(self) -> list:
        """What a rollout updates, in the order of /rollout's return values."""
        return [self.video, self.summary, self.psnr_plot, self.downloads, self.page.clip]

    def follow_clip(self, events: PageEvents) -> None:
        shown = [self.start, self.panel_names, self.video, self.summary, self.psnr_plot, self.downloads]
        clip = self.page.clip
        events.follow(Moment.ANALYZED, lambda e: e.success(self.show, inputs=clip, outputs=shown, api_name=False))
        events.follow_gone(lambda e: e.then(self.show, inputs=clip, outputs=shown, api_name=False))

    def show(self, state: ClipState | None) -> Updates:
        """A new analysis (or bundle): the start slider spans the new clip, old results go."""
        last = len(state.analysis.frames) - 1 if state is not None else MAX_FRAME_CAP - 1
        return {
            self.start: gr.Slider(0, last, value=0, step=1, label="Start frame", visible=state is not None),
            self.panel_names: "",
            self.video: None,
            self.summary: "",
            self.psnr_plot: None,
            self.downloads: None,
        }

    def name_panels(self, state: ClipState | None, t, n, source_label, held, seed_value, typed, a, b, share, extra):
        """After a rollout, the names of its panels (the form's branches, planned again: planning costs nothing)."""
        if state is None or state.discarded:
            return ""
        analysis = state.analysis
        t = int(np.clip(t or 0, 0, len(analysis.frames) - 1))
        n = int(np.clip(n or 1, 1, MAX_STEPS))
        source = chosen_source(source_label, held, seed_value, typed, a, b, share)
        return panel_names(plan_branches(state.model, source, extra or "", analysis.actions.codes, t, n).labels)

    # the parameters' names are the endpoint's (gradio_client takes them as keywords)
    def roll_out_branches(
        self,
        state: ClipState | None,
        t,
        n,
        source_label,
        held,
        seed_value,
        typed,
        a,
        b,
        share,
        extra,
        progress=gr.Progress(),
    ) -> Updates:
        if state is None:
            raise refusal("Analyze a clip on the Clip tab first.")
        model, analysis = state.model, state.analysis
        t = int(np.clip(t or 0, 0, len(analysis.frames) - 1))
        n = int(np.clip(n or 1, 1, MAX_STEPS))
        try:
            source = chosen_source(source_label, held, seed_value, typed, a, b, share)
            plan = plan_branches(model, source, extra or "", analysis.actions.codes, t, n)
        except ActionSequenceError as err:
            raise refusal(str(err), title="The rollout was not run") from None
        progress(0.2, desc=f"rolling {len(plan.labels)} branch(es) {n} steps forward")
        result = predict_branches(model, analysis.latents, analysis.frames, t, plan.vectors, plan.labels)
        if state.delta_t_psnr is None:  # it depends on the clip alone: measured once (a short clip has none)
            progress(0.6, desc="measuring the clip's ΔtPSNR")
            state.delta_t_psnr = delta_t_psnr(model, analysis.latents, analysis.frames, analysis.actions.codes)
        progress(0.8, desc="writing the video")
        frames = branch_video_frames(result, PREVIEW_HEIGHT)  # [S, caption + s*H, (B+1)*s*W + gaps, 3]
        fps = min(analysis.clip.fps / analysis.clip.stride, 30.0) or 15.0
        stem = f"rollout_from_{t}"
        try:
            mp4 = write_mp4(frames, state.out_dir / f"{stem}.mp4", fps=fps)
            gif = write_gif(frames, state.out_dir / f"{stem}.gif", fps=fps)
            npz = state.out_dir / f"{stem}_latents.npz"
            np.savez_compressed(
                npz, latents=result.latents, actions=plan.vectors, start=t, labels=np.asarray(plan.labels)
            )
        except FileNotFoundError:
            if not state.discarded:
                raise
            # a new analysis replaced the clip meanwhile, and its folder with it: this rollout is not shown
            return unless_discarded(state, dict.fromkeys(self.outputs))
        names = [f"{b + 1}: {label}" for b, label in enumerate(plan.labels)]  # as the video's captions name them
        figure = rollout_psnr_figure(result.psnr, result.copy_psnr, names) if len(result.truth) else None
        reference = reference_of(model)
        departures = (
            None if reference is None else departure_steps(result.latents, reference.latents, reference.calibration)
        )
        shown = {
            self.video: str(mp4),
            self.summary: rollout_summary(result, state.delta_t_psnr, departures),
            self.psnr_plot: figure,
            self.downloads: [str(mp4), str(gif), str(npz)],
            self.page.clip: state,
        }
        return unless_discarded(state, shown)


def panel_names(labels: list[str]) -> str:
    """The rollout video's panels named in a row of page text, one cell per panel: the clip, then each branch."""
    cells = ["the clip's own next frames", *(f"{b + 1}: {label}" for b, label in enumerate(labels))]
    spans = "".join(f"<span>{html.escape(cell)}</span>" for cell in cells)
    return f'<div class="panel-names" style="grid-template-columns: repeat({len(cells)}, 1fr)">{spans}</div>'


def rollout_summary(result: Branches, delta: float | None, departures: list[int | None] | None = None) -> str:
    paragraphs = [
        f"**{result.steps} steps** from frame **{result.start}**, {len(result.labels)} branch(es): "
        + " | ".join(f"**{b + 1}: {label}**" for b, label in enumerate(result.labels))
    ]
    if len(result.truth):
        branches = [
            f"- {b + 1}: {label}: **{result.psnr[b].mean():.1f} dB**, {_against_copy(result.psnr[b], result.copy_psnr)}"
            for b, label in enumerate(result.labels)
        ]
        paragraphs.append(
            "\n".join(
                [
                    f"Mean PSNR against the clip's next {len(result.truth)} frames, beside copying "
                    f"the start frame (**{result.copy_psnr.mean():.1f} dB**):",
                    *branches,
                ]
            )
        )
    else:
        paragraphs.append("The clip ends at the start frame: nothing to compare the prediction with.")
    if departures is not None and len(departures) > 1 and all(step is None for step in departures):
        paragraphs.append(f"Familiarity: {departure_sentence('every branch', None, result.steps)}.")
    elif departures is not None:
        paragraphs.append(
            "Familiarity: "
            + "; ".join(
                departure_sentence(f"{b + 1}: {label}", step, result.steps)
                for b, (label, step) in enumerate(zip(result.labels, departures))
            )
            + "."
        )
    if delta is not None:
        paragraphs.append(
            f"The clip's **ΔtPSNR(t=4) = {delta:+.2f} dB**: how much better the clip's own inferred "
            "codes predict 4 steps ahead than random codes (controllability, as in Genie)."
        )
    return "\n\n".join(paragraphs)


def _against_copy(branch_psnr: np.ndarray, copy_psnr: np.ndarray) -> str:
    """When a branch [S'] dB does worse than copying the start frame [S'] dB, in words."""
    behind = branch_psnr < copy_psnr  # [S']
    if not behind.any():
        return "better than the copy at every step"
    first = int(np.argmax(behind)) + 1
    if behind[first - 1 :].all():
        return (
            f"⚠ **worse than the copy from step {first} on**"
            if first > 1
            else "⚠ **worse than the copy at every step**: the model loses to doing nothing"
        )
    return f"⚠ **worse than the copy at steps {_ranges(np.flatnonzero(behind) + 1)}**"


def _ranges(steps: np.ndarray) -> str:
    """[2, 3, 4, 7] -> '2–4, 7'."""
    runs, start = [], steps[0]
    for previous, step in zip(steps, [*steps[1:], None]):
        if step != previous + 1:
            runs.append(f"{start}–{previous}" if previous > start else f"{start}")
            start = step
    return ", ".join(runs)
