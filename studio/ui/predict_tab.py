"""Predict tab: roll the world model forward from a frame of the clip, under chosen actions, and compare."""

from __future__ import annotations

import gradio as gr
import numpy as np

from studio.analysis import MAX_FRAME_CAP
from studio.plots import rollout_psnr_figure
from studio.rollout import (
    MAX_BRANCHES,
    MAX_STEPS,
    ActionSequenceError,
    ActionSource,
    branch_video_frames,
    delta_t_psnr,
    interpolated_action,
    plan_codes,
    roll_out,
)
from studio.ui.clip_tab import PREVIEW_HEIGHT
from studio.ui.state import BundleShelf, ClipState
from studio.video import write_gif, write_mp4

SOURCE_LABELS = {
    "codes inferred from the clip": "clip",
    "one code held": "hold",
    "typed sequence": "sequence",
    "random codes": "random",
    "between two codes": "interpolate",
}
BRANCHES_HELP = (
    f"Up to {MAX_BRANCHES - 1} more branches, one per line: a code sequence such as `2 2 5 1`, "
    "or `clip` or `random`. Each is rolled out from the same frame and shown beside the first."
)


def build_predict_tab(shelf: BundleShelf, clip: gr.State):
    gr.Markdown("Roll the predictor forward from a frame of the analyzed clip and decode what it imagines. "
                "The clip's own next frames are shown on the left for comparison.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            start = gr.Slider(0, MAX_FRAME_CAP - 1, value=0, step=1, label="Start frame", elem_id="predict-start")
            steps = gr.Slider(1, MAX_STEPS, value=16, step=1, label="Steps", elem_id="predict-steps")
            source = gr.Radio(list(SOURCE_LABELS), value="codes inferred from the clip", label="Actions",
                              elem_id="predict-source")
            with gr.Row():
                code = gr.Number(0, precision=0, label="Held code", minimum=0)
                seed = gr.Number(0, precision=0, label="Random seed", minimum=0)
            sequence = gr.Textbox("", label="Typed sequence", placeholder="e.g. 1 1 2 0", elem_id="predict-sequence")
            with gr.Row():
                first = gr.Number(0, precision=0, label="From code", minimum=0)
                second = gr.Number(1, precision=0, label="To code", minimum=0)
            mix = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Share of the way between the two codes")
            branches = gr.Textbox("", label="Branches", lines=3, info=BRANCHES_HELP, elem_id="predict-branches")
            run = gr.Button("Roll out", variant="primary", elem_id="predict-run")
        with gr.Column(scale=2):
            video = gr.Video(label="Clip | predicted branches", autoplay=True, loop=True, elem_id="predict-video")
            summary = gr.Markdown(elem_id="predict-summary")
            psnr_plot = gr.Plot(label="PSNR per step", elem_id="predict-psnr")
            downloads = gr.File(label="Downloads: rollout (.mp4, .gif), predicted latents (.npz)", file_count="multiple")

    def rollout(state: ClipState | None, t, n, source_label, held, seed_value, typed, a, b, share, extra,
                progress=gr.Progress()):
        if state is None:
            raise gr.Error("Analyze a clip on the Clip tab first.")
        model, analysis = state.model, state.analysis
        t = int(np.clip(t or 0, 0, len(analysis.frames) - 1))
        n = int(np.clip(n or 1, 1, MAX_STEPS))
        try:
            vectors, labels = _plan(model, analysis.actions.codes, t, n, source_label, held, seed_value, typed, a, b, share, extra)
        except ActionSequenceError as err:
            raise gr.Error(str(err), title="The rollout was not run") from None
        progress(0.2, desc=f"rolling {len(labels)} branch(es) {n} steps forward")
        result = roll_out(model, analysis.latents, analysis.frames, t, vectors, labels)
        if state.delta_t_psnr is None:  # it depends on the clip alone: measured once (a short clip has none)
            progress(0.6, desc="measuring the clip's ΔtPSNR")
            state.delta_t_psnr = delta_t_psnr(model, analysis.latents, analysis.frames, analysis.actions.codes)
        progress(0.8, desc="writing the video")
        frames = branch_video_frames(result)
        scale = max(1, PREVIEW_HEIGHT // frames.shape[1])
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
        fps = min(analysis.clip.fps / analysis.clip.stride, 30.0) or 15.0
        stem = f"rollout_from_{t}"
        mp4 = write_mp4(frames, state.out_dir / f"{stem}.mp4", fps=fps)
        gif = write_gif(frames, state.out_dir / f"{stem}.gif", fps=fps)
        npz = state.out_dir / f"{stem}_latents.npz"
        np.savez_compressed(npz, latents=result.latents, actions=vectors, start=t, labels=np.asarray(labels))
        figure = rollout_psnr_figure(result.psnr, result.copy_psnr, labels) if len(result.truth) else None
        return str(mp4), _summary(result, state.delta_t_psnr), figure, [str(mp4), str(gif), str(npz)], state

    run.click(
        rollout,
        inputs=[clip, start, steps, source, code, seed, sequence, first, second, mix, branches],
        outputs=[video, summary, psnr_plot, downloads, clip],
        api_name="rollout",
        concurrency_id="model",
        show_progress_on=[video],
    )

    def reset(state: ClipState | None):
        """A new analysis (or bundle): the start slider spans the new clip, old results go."""
        last = len(state.analysis.frames) - 1 if state is not None else 1
        return gr.Slider(0, last, value=0, step=1, label="Start frame"), None, "", None, None

    return reset, [start, video, summary, psnr_plot, downloads]


def _plan(model, inferred, t, n, source_label, held, seed_value, typed, a, b, share, extra):
    """-> action vectors [B, S, Da] and a label per branch."""
    k = model.codebook_size
    kind = SOURCE_LABELS.get(source_label)
    if kind is None:
        raise ActionSequenceError(f"choose the actions from: {', '.join(SOURCE_LABELS)}")
    if kind == "interpolate":
        a, b = int(a or 0), int(b or 0)
        for c in (a, b):
            if not 0 <= c < k:
                raise ActionSequenceError(f"code {c} is out of range: this model has codes 0 to {k - 1}")
        plans = [np.repeat(interpolated_action(model, a, b, float(share))[None], n, axis=0)]
        labels = [f"{1 - float(share):.2f}·code {a} + {float(share):.2f}·code {b}"]
    else:
        source = ActionSource(kind, code=int(held or 0), sequence=typed or "", seed=int(seed_value or 0))
        plans = [model.action_vectors(plan_codes(source, inferred, t, n, k))]
        labels = [_label(source)]
    lines = [line.strip() for line in (extra or "").splitlines() if line.strip()]
    if len(lines) > MAX_BRANCHES - 1:
        raise ActionSequenceError(f"at most {MAX_BRANCHES - 1} extra branches (one per line); got {len(lines)}")
    for i, line in enumerate(lines, start=1):
        word = line.lower()
        source = ActionSource(word, seed=i) if word in ("clip", "random") else ActionSource("sequence", sequence=line)
        try:
            plans.append(model.action_vectors(plan_codes(source, inferred, t, n, k)))
        except ActionSequenceError as err:
            raise ActionSequenceError(f"branch line {i}: {err}") from None
        labels.append(_label(source))
    return np.stack(plans).astype(np.float32), labels  # [B, S, Da]


def _label(source: ActionSource) -> str:
    return {
        "clip": "the clip's codes",
        "hold": f"code {source.code} held",
        "sequence": f"sequence {' '.join(source.sequence.replace(',', ' ').split())}",
        "random": f"random codes (seed {source.seed})",
    }[source.kind]


def _summary(result, delta: float | None) -> str:
    lines = [f"**{result.steps} steps** from frame **{result.start}**, {len(result.labels)} branch(es): "
             + " | ".join(f"**{label}**" for label in result.labels)]
    if len(result.truth):
        compared = len(result.truth)
        mean = ", ".join(f"{label} {result.psnr[b].mean():.1f} dB" for b, label in enumerate(result.labels))
        lines.append(f"Mean PSNR against the clip's next {compared} frames: {mean}; copy of the start frame "
                     f"{result.copy_psnr.mean():.1f} dB.")
    else:
        lines.append("The clip ends at the start frame: nothing to compare the prediction with.")
    if delta is not None:
        lines.append(f"The clip's **ΔtPSNR(t=4) = {delta:+.2f} dB**: how much better the clip's own inferred codes "
                     "predict 4 steps ahead than random codes (controllability, as in Genie).")
    return "\n\n".join(lines)
