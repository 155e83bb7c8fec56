"""Actions tab: the codebook map, code usage, exemplars, the action-effect atlas and the ground truth."""

from __future__ import annotations

import gradio as gr
import numpy as np

from studio.action_codes import action_effect_atlas, agreement, exemplars
from studio.analysis import MAX_FRAME_CAP, frame_times
from studio.labels import LabelsError, ordered_columns, read_labels
from studio.metrics import code_perplexity
from studio.plots import code_timeline_figure, code_usage_figure, codebook_figure, confusion_figure
from studio.projection import Projection, ProjectionConfig
from studio.ui.clip_tab import upscale
from studio.ui.labels_upload import offer_columns
from studio.ui.state import BundleShelf, ClipState

ACTION_COLUMNS = ("action_name", "action")  # the label columns offered first for the ground truth


def transition_picture(frames: np.ndarray, t: int, gap: int = 2) -> np.ndarray:
    """Frames t and t+1 side by side, enlarged: [s*H, s*(2W+gap), 3] uint8."""
    separator = np.full((frames.shape[1], gap, 3), 255, np.uint8)
    return upscale(np.concatenate([frames[t], separator, frames[t + 1]], axis=1))


def build_actions_tab(shelf: BundleShelf, clip: gr.State):
    gr.Markdown("Analyze a clip on the **Clip** tab; this tab shows which action codes the model reads off it.")
    with gr.Row():
        codebook_plot = gr.Plot(label="Codebook and the clip's action vectors (PCA)", elem_id="codebook-map")
        with gr.Column():
            usage_plot = gr.Plot(label="Code usage", elem_id="code-usage")
            timeline_plot = gr.Plot(label="Code timeline", elem_id="code-timeline")
    exemplar_gallery = gr.Gallery(
        label="Exemplars: transitions t → t+1 of each code, most confident first",
        columns=4, height="auto", object_fit="contain", elem_id="exemplars",
    )
    gr.Markdown("### Action-effect atlas\nFrom the chosen frame, the decoded next frame under each code; "
                "what the code changed is drawn in magenta.")
    with gr.Row():
        atlas_slider = gr.Slider(0, MAX_FRAME_CAP - 1, value=0, step=1, label="From frame", elem_id="atlas-slider", scale=3)
        atlas_current = gr.Image(label="Frame t (decoded)", height=192, scale=1, elem_id="atlas-current")
    atlas_gallery = gr.Gallery(label="Next frame under each code (the share of pixels it changed)", columns=8, rows=1,
                               height=260, object_fit="contain", allow_preview=False, elem_id="atlas")
    gr.Markdown("### Ground truth\nA CSV with a `frame` column (source frame index) and the true action of "
                "each frame, e.g. `frame,action,action_name`. The shipped examples bring their own.")
    with gr.Row():
        labels_file = gr.File(label="Labels CSV", file_types=[".csv"], type="filepath", scale=2)
        column = gr.Dropdown([], label="True-action column", scale=1, allow_custom_value=True)
        compare = gr.Button("Compare codes with true actions", scale=1)
    agreement_text = gr.Markdown(elem_id="agreement")
    confusion_plot = gr.Plot(label="Code × true action", elem_id="confusion")

    def overview(state: ClipState | None, progress=gr.Progress()):
        if state is None:
            raise gr.Error("Analyze a clip on the Clip tab first.")
        model, analysis = state.model, state.analysis
        actions = analysis.actions
        progress(0.2, desc="projecting the codebook")
        projection = Projection.fit(np.concatenate([model.codebook, actions.vectors]), ProjectionConfig("pca", 2))
        perplexity = code_perplexity(actions.codes, model.codebook_size)
        pictures = [
            (transition_picture(analysis.frames, t), f"code {code} · {t} → {t + 1}")
            for code, transitions in exemplars(actions).items()
            for t in transitions
        ]
        columns = ordered_columns(state.labels.columns, ACTION_COLUMNS) if state.labels else []
        return (
            codebook_figure(projection.transform(model.codebook), projection.transform(actions.vectors), actions.codes),
            code_usage_figure(actions.codes, model.codebook_size, perplexity),
            code_timeline_figure(actions.codes, frame_times(analysis), model.codebook_size),
            pictures,
            gr.Slider(0, len(analysis.frames) - 1, value=0, step=1, label="From frame"),
            gr.Dropdown(columns, value=columns[0] if columns else None, label="True-action column"),
        )

    def atlas(state: ClipState | None, t):
        if state is None:
            return None, []
        t = int(np.clip(t, 0, len(state.analysis.frames) - 1))
        effects = action_effect_atlas(state.model, state.analysis.latents, t)
        pictures = [
            (upscale(image), f"{k} · {100 * effects.change[k]:.1f}%")
            for k, image in enumerate(effects.highlighted)
        ]
        return upscale(effects.current), pictures

    def compare_codes(state: ClipState | None, path: str | None, name: str | None):
        if state is None:
            raise gr.Error("Analyze a clip on the Clip tab first.")
        try:
            if path:
                state.labels = read_labels(path)
            if state.labels is None:
                raise LabelsError("upload a labels CSV first (the shipped examples bring their own)")
            name = name or ordered_columns(state.labels.columns, ACTION_COLUMNS)[0]
            if name not in state.labels.columns:
                raise LabelsError(f"the labels have no column '{name}'; they have {', '.join(list(state.labels.columns)[:10])}")
            transitions = np.asarray(state.analysis.clip.indices)[:-1]  # the frame each transition leaves
            truth = state.labels.at(name, transitions)
        except LabelsError as err:
            raise gr.Error(str(err)) from None
        result = agreement(state.analysis.actions.codes, truth, state.model.codebook_size)
        text = (
            f"On **{result.transitions} transitions**: NMI between codes and `{name}` **{result.nmi:.3f}**, "
            f"best one-to-one accuracy **{100 * result.accuracy:.1f}%** (over {len(result.actions)} true actions)."
        )
        return text, confusion_figure(result.matrix, result.actions, f"Codes × {name}"), state

    labels_file.upload(lambda path: offer_columns(path, "True-action column", ACTION_COLUMNS), inputs=labels_file,
                       outputs=column, api_name=False)

    overview_outputs = [codebook_plot, usage_plot, timeline_plot, exemplar_gallery, atlas_slider, column]
    atlas_slider.change(
        atlas, inputs=[clip, atlas_slider], outputs=[atlas_current, atlas_gallery],
        api_name="atlas", trigger_mode="always_last", show_progress="hidden",
    )
    compare.click(
        compare_codes, inputs=[clip, labels_file, column], outputs=[agreement_text, confusion_plot, clip],
        api_name="ground_truth",
    )

    def refresh(state: ClipState | None):
        """After a new analysis: the overview, the atlas from frame 0, and the ground truth when labels came along."""
        if state is None:
            return [None] * (len(overview_outputs) + 4)
        figures = overview(state)
        current, pictures = atlas(state, 0)
        text, confusion = ("", None)
        if state.labels is not None:
            text, confusion, _ = compare_codes(state, None, None)
        return (*figures, current, pictures, text, confusion)

    return refresh, [*overview_outputs, atlas_current, atlas_gallery, agreement_text, confusion_plot]
