"""Actions tab: the codebook map, code usage, exemplars, the action-effect atlas and the ground truth."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio.action_codes import action_effect_atlas, agreement, exemplars, marked_change
from studio.analysis import MAX_FRAME_CAP, frame_times
from studio.labels import LabelsError, ordered_columns, read_labels
from studio.metrics import code_perplexity
from studio.model_kind import KindWords, kind_words
from studio.montage import enlarged, side_by_side
from studio.plots import (
    code_timeline_figure,
    code_usage_figure,
    codebook_figure,
    confusion_figure,
)
from studio.projection import Projection, ProjectionConfig
from studio.ui.clip_tab import PREVIEW_HEIGHT
from studio.ui.code_meanings import code_words, meanings_on_clip
from studio.ui.labels_upload import offer_columns
from studio.ui.picture_html import PICTURE_CSS, Picture, label_above_picture, picture_grid, picture_rows
from studio.ui.refusal import refusal
from studio.ui.state import ClipState, Refusals
from studio.ui.tab import Moment, PageEvents, Tab, Updates, unless_discarded

ACTION_COLUMNS = ("action_name", "action")  # the label columns offered first for the ground truth
ATLAS_HEIGHT = 192  # pixels: each outcome large enough to see the paddle move a pixel
ZOOM_SIZE = 100  # pixels: the window where the codes differ, enlarged to about this size (a pair per code)
EXEMPLAR_HEIGHT = 128  # pixels: four before/after pairs of every code in one row at 1280 pixels wide


class ActionsTab(Tab):
    title, id, css = "Actions", "actions", PICTURE_CSS + "\n" + label_above_picture("atlas-current")

    def build(self, events: PageEvents) -> None:
        clip = self.page.clip
        gr.Markdown("Analyze a clip on the **Clip** tab; this tab shows which action codes the model reads off it.")
        # named for the default bundle's kind; a bundle picked later names them for its own (`relabel`)
        labels = view_labels(kind_words(self.page.shelf.get(self.page.shelf.default_name)))
        with gr.Row():
            self.codebook_plot = gr.Plot(label=labels.map, elem_id="codebook-map")
            self.usage_plot = gr.Plot(label=labels.usage, elem_id="code-usage")
        self.timeline_plot = gr.Plot(label=labels.timeline, elem_id="code-timeline")
        gr.Markdown(
            "### Exemplars\nFor each code, the clip's transitions t → t+1 it was read off most confidently: "
            "frame t, then frame t+1 with what changed marked in magenta."
        )
        self.exemplar_pictures = gr.HTML(elem_id="exemplars")
        gr.Markdown(
            "### Action-effect atlas\nFrom the chosen frame, the predicted next frame under each code. Under it, "
            "the window where the codes' outcomes differ most (yellow box), enlarged and "
            "brightened: frame t on the left, the code's outcome on the right, each patch that changed from frame t "
            "boxed in magenta."
        )
        with gr.Row():
            self.atlas_slider = gr.Slider(
                0,
                MAX_FRAME_CAP - 1,
                value=0,
                step=1,
                label="From frame",
                visible=False,
                elem_id="atlas-slider",
                scale=3,
            )  # hidden until a clip gives it a range
            self.atlas_current = gr.Image(label=labels.frame, height=192, scale=1, elem_id="atlas-current")
        self.atlas_pictures = gr.HTML(elem_id="atlas")
        gr.Markdown(
            "### Ground truth\nA CSV with a `frame` column (source frame index) and the true action of "
            "each frame, e.g. `frame,action,action_name`. The shipped examples bring their own."
        )
        with gr.Row():
            self.labels_file = gr.File(
                label="Labels CSV", file_types=[".csv"], type="filepath", scale=2, elem_id="actions-labels"
            )
            self.column = gr.Dropdown([], label="True-action column", scale=1, allow_custom_value=True)
            compare = gr.Button("Compare codes with true actions", scale=1)
        self.agreement_text = gr.Markdown(elem_id="agreement")
        self.confusion_plot = gr.Plot(label="Code × true action", elem_id="confusion")

        labels_file = self.labels_file
        self.refusals = gr.State(None)  # this user's Refusals: why their last comparison of codes was refused
        labels_file.upload(
            lambda path: offer_columns(path, "True-action column", ACTION_COLUMNS),
            inputs=labels_file,
            outputs=self.column,
            api_name=False,
        )
        self.atlas_slider.change(
            self.atlas,
            inputs=[clip, self.atlas_slider],
            outputs=[self.atlas_current, self.atlas_pictures],
            api_name="atlas",
            trigger_mode="always_last",
            show_progress="hidden",
        )
        compared = compare.click(Refusals, outputs=self.refusals, api_name=False, show_progress="hidden").then(
            self.compare_codes,
            inputs=[clip, labels_file, self.column, self.refusals],
            outputs=[self.agreement_text, self.confusion_plot, clip],
            api_name="ground_truth",
        )
        # the reason in words, where the results would be: no bare error badges on them
        compared.failure(
            lambda refusals: {
                self.agreement_text: f"⚠ **Not compared:** {Refusals.read(refusals, 'the labels could not be used')}",
                self.confusion_plot: None,
            },
            inputs=self.refusals,
            outputs=[self.agreement_text, self.confusion_plot],
            api_name=False,
        )
        self.follow_clip(events)

    @property
    def shown(self) -> list:
        """What the tab shows of a clip, in the order of /actions' return values."""
        return [
            self.codebook_plot,
            self.usage_plot,
            self.timeline_plot,
            self.exemplar_pictures,
            self.atlas_slider,
            self.column,
            self.atlas_current,
            self.atlas_pictures,
            self.agreement_text,
            self.confusion_plot,
        ]

    def follow_clip(self, events: PageEvents) -> None:
        # the overview costs work: it follows the preview
        clip = self.page.clip
        events.follow(
            Moment.PREVIEWED, lambda e: e.then(self.show, inputs=clip, outputs=self.shown, api_name="actions")
        )
        gone = [*self.shown, self.labels_file]
        events.follow_gone(lambda e: e.then(self.forget, outputs=gone, api_name=False))
        named = [self.codebook_plot, self.usage_plot, self.timeline_plot, self.atlas_current]
        events.follow(
            Moment.CLEARED, lambda e: e.then(self.relabel, inputs=self.page.bundle, outputs=named, api_name=False)
        )

    def relabel(self, name: str) -> Updates:
        """Another bundle was picked: the views are named for its kind."""
        labels = view_labels(kind_words(self.page.shelf.get(name)))
        return {
            self.codebook_plot: gr.update(label=labels.map),
            self.usage_plot: gr.update(label=labels.usage),
            self.timeline_plot: gr.update(label=labels.timeline),
            self.atlas_current: gr.update(label=labels.frame),
        }

    def forget(self) -> Updates:
        """The clip's results go, and the labels file dropped for it."""
        return {**self.show(None), self.column: gr.Dropdown([], value=None), self.labels_file: None}

    def show(self, state: ClipState | None) -> Updates:
        """After a new analysis: the overview, the atlas from frame 0, and the ground truth when labels came along."""
        if state is None:
            hidden = gr.Slider(0, MAX_FRAME_CAP - 1, value=0, visible=False)
            return {**dict.fromkeys(self.shown), self.atlas_slider: hidden}
        ground_truth = {self.agreement_text: "", self.confusion_plot: None}
        if state.labels is not None:
            ground_truth = self.compare_codes(state, None, None)
            del ground_truth[self.page.clip]  # the state is not among this update's outputs
        return unless_discarded(state, {**self.overview(state), **self.atlas(state, 0), **ground_truth})

    def overview(self, state: ClipState, progress=gr.Progress()) -> Updates:
        model, analysis = state.model, state.analysis
        actions = analysis.actions
        progress(0.2, desc="projecting the codebook")
        projection = Projection.fit(np.concatenate([model.codebook, actions.vectors]), ProjectionConfig("pca", 2))
        perplexity = code_perplexity(actions.codes, model.codebook_size)
        names, words = model.code_names(), kind_words(model)
        rows = [
            (names[code], [transition_picture(analysis.frames, t) for t in transitions])
            for code, transitions in exemplars(actions).items()
        ]
        columns = ordered_columns(state.labels.columns, ACTION_COLUMNS) if state.labels else []
        return {
            self.codebook_plot: codebook_figure(
                projection.transform(model.codebook),
                projection.transform(actions.vectors),
                actions.codes,
                names,
                words.centres,
            ),
            self.usage_plot: code_usage_figure(actions.codes, names, perplexity, words.code),
            self.timeline_plot: code_timeline_figure(actions.codes, frame_times(analysis), names, words.code),
            self.exemplar_pictures: picture_rows(rows, EXEMPLAR_HEIGHT),
            self.atlas_slider: gr.Slider(
                0, len(analysis.frames) - 1, value=0, step=1, label="From frame", visible=True
            ),
            self.column: gr.Dropdown(columns, value=columns[0] if columns else None, label="True-action column"),
        }

    def atlas(self, state: ClipState | None, t) -> Updates:
        if state is None:
            return {self.atlas_current: None, self.atlas_pictures: ""}
        t = int(np.clip(t, 0, len(state.analysis.frames) - 1))
        effects = action_effect_atlas(state.model, state.analysis.latents, t)
        meanings, names = meanings_on_clip(state.model, state.analysis, state.labels), state.model.code_names()
        window = effects.window
        zoomed = effects.zoomed(ZOOM_SIZE) if window is not None else [None] * len(effects.next_frames)
        pictures = [
            Picture(
                window.framed(image) if window is not None else image,
                f"{code_words(k, names[k], meanings)} · {100 * effects.change[k]:.1f}% change from frame t",
                detail=zoomed[k],
            )
            for k, image in enumerate(effects.next_frames)
        ]
        words = kind_words(state.model)
        if meanings is not None:
            said = f"Under each outcome, what its code most often did, and how often, on {meanings.measured_on}."
        elif state.model.action_kind == "buttons":
            said = ""  # a button's name says what it is
        else:
            said = "What each code does is not known for this bundle: drop labels with an action_name column below."
        lines = [part for part in (words.pictures_note, words.outcomes_note, said) if part]
        if window is None:
            lines.append(
                "From this frame the codes' outcomes are alike to the decoder's noise: no code does anything "
                "visible here that another does not."
            )
        current = window.framed(effects.current) if window is not None else effects.current
        return {
            self.atlas_current: enlarged(current, PREVIEW_HEIGHT),
            self.atlas_pictures: "".join(f"<p>{html.escape(line)}</p>" for line in lines)
            + picture_grid(pictures, ATLAS_HEIGHT),
        }

    def compare_codes(
        self, state: ClipState | None, path: str | None, name: str | None, refusals: Refusals | None = None
    ) -> Updates:
        with Refusals.noting(refusals):
            return self._compare_codes(state, path, name)

    def _compare_codes(self, state: ClipState | None, path: str | None, name: str | None) -> Updates:
        if state is None:
            raise refusal("Analyze a clip on the Clip tab first.")
        try:
            if path:
                state.labels = read_labels(path)
            if state.labels is None:
                raise LabelsError("upload a labels CSV first (the shipped examples bring their own)")
            name = name or ordered_columns(state.labels.columns, ACTION_COLUMNS)[0]
            if name not in state.labels.columns:
                raise LabelsError(
                    f"the labels have no column '{name}'; they have {', '.join(list(state.labels.columns)[:10])}"
                )
            transitions = np.asarray(state.analysis.clip.indices)[:-1]  # the frame each transition leaves
            truth = state.labels.at(name, transitions, state.analysis.clip.source_frames)
        except LabelsError as err:
            raise refusal(str(err)) from None
        result = agreement(state.analysis.actions.codes, truth, state.model.codebook_size)
        text = (
            f"On **{result.transitions} transitions**: NMI between codes and `{name}` **{result.nmi:.3f}**, "
            f"best one-to-one accuracy **{100 * result.accuracy:.1f}%** (over {len(result.actions)} true actions)."
        )
        return {
            self.agreement_text: text,
            self.confusion_plot: confusion_figure(
                result.matrix, result.actions, f"Codes × {name}", state.model.code_names()
            ),
            self.page.clip: state,
        }


@dataclass(frozen=True)
class ViewLabels:
    """What the tab's views are called, for a bundle of one kind."""

    map: str
    usage: str
    timeline: str
    frame: str  # the atlas's start frame


def view_labels(words: KindWords) -> ViewLabels:
    centres = words.centres[0].upper() + words.centres[1:]
    return ViewLabels(
        map=f"{centres} and the clip's transitions, each on the button read off it (PCA)"
        if words.code == "button"
        else f"{centres} and the clip's action vectors (PCA)",
        usage=f"{words.code.capitalize()} usage",
        timeline=f"{words.code.capitalize()} timeline",
        frame=f"Frame t ({words.picture})",
    )


def transition_picture(frames: np.ndarray, t: int) -> Picture:
    """Frames t and t+1 of [T, H, W, 3] side by side, t+1 with its change from t marked."""
    pair = side_by_side([frames[t], marked_change(frames[t], frames[t + 1])])  # [H, 2W + gap, 3]
    return Picture(pair, f"{t} → {t + 1}")
