"""Probe tab: linear probes from the clip's frame latents to per-frame labels."""

from __future__ import annotations

import gradio as gr
import numpy as np

from studio.labels import Labels, LabelsError, ordered_columns
from studio.plots import probe_figure
from studio.probe import KINDS, ProbeConfig, ProbeError, ProbeResult, Progress, probe, probe_all
from studio.ui.labels_upload import offer_columns, read_uploaded_labels
from studio.ui.refusal import refusal
from studio.ui.state import ClipState, Refusals
from studio.ui.tab import Moment, PageEvents, Tab, Updates

RANKING_HEADERS = ["column", "kind", "metric", "held-out score", "baseline's score", "baseline's errors removed"]
LABELS_HELP = (
    "A CSV with a `frame` column (the source frame index) and any number of numeric or categorical "
    "columns, e.g. `frame,score,lives,action_name`. The shipped example clips bring their own labels: the true "
    "action, and for Breakout the paddle's and ball's positions, the score and the 128 RAM bytes `ram_0` … "
    "`ram_127`; for CoinRun the movement asked for and the player's measured move."
)


class ProbeTab(Tab):
    title, id = "Probe", "probe"

    def build(self, events: PageEvents) -> None:
        clip = self.page.clip
        gr.Markdown(
            "What do the latents encode? A linear probe (ridge regression for numbers, a ridge classifier "
            "for categories) is fitted from each frame's latents to a label, cross-validated over folds that "
            "are contiguous in time (its regularization, too, is chosen on stretches of the training frames left "
            "out in turn, so a frame's near-identical neighbours never answer for it), and scored against a "
            "trivial baseline (the mean, or the majority class). "
            "Every column shares one decomposition of the latents per fold, so all of them take seconds."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                self.labels_file = gr.File(
                    label="Labels CSV", file_types=[".csv"], type="filepath", elem_id="probe-labels"
                )
                gr.Markdown(LABELS_HELP)
                self.column = gr.Dropdown([], label="Column", allow_custom_value=True, elem_id="probe-column")
                with gr.Row():
                    kind = gr.Radio(list(KINDS), value="auto", label="Probe it as")
                    folds = gr.Slider(2, 10, value=5, step=1, label="Folds")
                with gr.Row():
                    run = gr.Button("Probe", variant="primary", elem_id="probe-run")
                    run_all = gr.Button("Probe all columns", elem_id="probe-all")
            with gr.Column(scale=2):
                self.result_text = gr.Markdown(elem_id="probe-result")
                self.figure = gr.Plot(label="Predicted (held-out) against true", elem_id="probe-plot")
                self.ranking = gr.Dataframe(
                    headers=RANKING_HEADERS,
                    label="Every column, best encoded first",
                    wrap=True,
                    interactive=False,
                    elem_id="probe-ranking",
                )

        labels_file, refusals = self.labels_file, gr.State(None)  # this user's Refusals: why a probe was refused
        labels_file.upload(
            lambda path: offer_columns(path, "Column"), inputs=labels_file, outputs=self.column, api_name=False
        )
        for button, probing, inputs, shown, api_name in (
            (run, self.probe_column, [clip, labels_file, self.column, kind, folds], self.figure, "probe"),
            (run_all, self.probe_every_column, [clip, labels_file, folds], self.ranking, "probe_all"),
        ):
            probed = button.click(Refusals, outputs=refusals, api_name=False, show_progress="hidden").then(
                probing,
                inputs=[*inputs, refusals],
                outputs=[self.result_text, shown, clip],
                api_name=api_name,
                concurrency_id="model",
                show_progress_on=[shown],
            )
            # the reason in words, where the results would be: no bare error badges on them
            probed.failure(
                lambda refusals, shown=shown: {
                    self.result_text: f"⚠ **Not probed:** {Refusals.read(refusals, 'the labels could not be used')}",
                    shown: None,
                },
                inputs=refusals,
                outputs=[self.result_text, shown],
                api_name=False,
            )
        self.follow_clip(events)

    def follow_clip(self, events: PageEvents) -> None:
        shown, clip = [self.column, self.result_text, self.figure, self.ranking], self.page.clip
        events.follow(Moment.ANALYZED, lambda e: e.success(self.show, inputs=clip, outputs=shown, api_name=False))
        # the clip's results go, and the labels file dropped for it
        forget = lambda: {**self.show(None), self.labels_file: None}  # noqa: E731
        events.follow_gone(lambda e: e.then(forget, outputs=[*shown, self.labels_file], api_name=False))

    def show(self, state: ClipState | None) -> Updates:
        """A new analysis: offer the columns of the labels it came with, clear old results."""
        choices = ordered_columns(state.labels.columns) if state is not None and state.labels is not None else []
        return {
            self.column: gr.Dropdown(choices, value=choices[0] if choices else None, label="Column"),
            self.result_text: "",
            self.figure: None,
            self.ranking: None,
        }

    # the parameters' names are the endpoints' (gradio_client takes them as keywords)
    def probe_column(
        self,
        state: ClipState | None,
        path: str | None,
        name: str | None,
        kind_value: str,
        k,
        refusals: Refusals | None = None,
        progress=gr.Progress(),
    ) -> Updates:
        with Refusals.noting(refusals):
            return self._probe_column(state, path, name, kind_value, k, progress)

    def _probe_column(self, state, path, name, kind_value, k, progress) -> Updates:
        labels = _labels(state, path)
        name = name or ordered_columns(labels.columns)[0]
        values = _values(state, labels, name)
        try:
            result = probe(
                state.analysis.latents,
                values,
                name,
                ProbeConfig(folds=int(k), kind=kind_value),
                _reporting_to(progress),
            )
        except ProbeError as err:
            raise refusal(str(err), title="The probe was not run") from None
        text = (
            f"**{name}** probed as a {result.kind} over {len(values)} frames, {int(k)} contiguous folds: "
            f"held-out {result.metric} **{result.score:.3f}** against **{result.baseline:.3f}** for the "
            f"{result.baseline_name}: {_errors_removed(result)}."
        )
        figure = probe_figure(
            result, f"{name}: {result.metric} {result.score:.3f} (the {result.baseline_name}: {result.baseline:.3f})"
        )
        return {self.result_text: text, self.figure: figure, self.page.clip: state}

    def probe_every_column(
        self, state: ClipState | None, path: str | None, k, refusals: Refusals | None = None, progress=gr.Progress()
    ) -> Updates:
        with Refusals.noting(refusals):
            return self._probe_every_column(state, path, k, progress)

    def _probe_every_column(self, state, path, k, progress) -> Updates:
        labels = _labels(state, path)
        columns = {name: _values(state, labels, name) for name in labels.columns}
        try:
            result = probe_all(state.analysis.latents, columns, ProbeConfig(folds=int(k)), _reporting_to(progress))
        except ProbeError as err:
            raise refusal(str(err), title="The probes were not run") from None
        rows = [
            [r.column, r.kind, r.metric, round(r.score, 3), round(r.baseline, 3), round(r.errors_removed, 3)]
            for r in result.results
        ]
        skipped = _ellipsis(ordered_columns(result.skipped), 12)
        text = (
            f"Ranked **{len(rows)} columns** by the share of the trivial baseline's errors the probe removes on "
            "held-out frames: squared error against the mean for numbers (scored by R²), wrong answers against "
            "the majority class for categories (scored by accuracy). 1 is perfect, 0 no better than the baseline."
        )
        if skipped:
            text += f" Not probed (constant on this clip, or too few frames): {len(result.skipped)} columns, {skipped}."
        return {self.result_text: text, self.ranking: rows, self.page.clip: state}


def _labels(state: ClipState | None, path: str | None) -> Labels:
    if state is None:
        raise refusal("Analyze a clip on the Clip tab first.")
    if path:
        state.labels = read_uploaded_labels(path)
    if state.labels is None:
        raise refusal("Upload a labels CSV first (the shipped example clips bring their own).")
    return state.labels


def _values(state: ClipState, labels: Labels, name: str) -> np.ndarray:
    if name not in labels.columns:
        raise refusal(f"the labels have no column '{name[:40]}'")
    try:
        clip = state.analysis.clip
        return labels.at(name, np.asarray(clip.indices), clip.source_frames)  # [T], one per analyzed frame
    except LabelsError as err:
        raise refusal(str(err)) from None


def _reporting_to(progress: gr.Progress) -> Progress:
    return lambda fraction, stage: progress(fraction, desc=stage)


def _errors_removed(result: ProbeResult) -> str:
    share = result.errors_removed
    if share <= 0:
        return f"no better than the {result.baseline_name}"
    errors = "squared error" if result.kind == "number" else "wrong answers"
    return f"it removes {share:.0%} of the {result.baseline_name}'s {errors}"


def _ellipsis(names: list[str], shown: int) -> str:
    return ", ".join(names[:shown]) + (f", … {len(names) - shown} more" if len(names) > shown else "")
