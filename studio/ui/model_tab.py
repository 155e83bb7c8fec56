"""Model tab: the bundle card, the provider actually in use, and the bundle picker."""

from __future__ import annotations

import gradio as gr
import numpy as np

from studio import figures as F
from studio.action_codes import agreement
from studio.figures import MEASURED_SETS, FigureSet, flatten, in_registry_order, measured_sets
from studio.games import ACTION_COLUMN
from studio.labels import LabelsError
from studio.metrics import code_perplexity
from studio.rollout import DELTA_T_HORIZON
from studio.runtime import WorldModel
from studio.ui.state import BundleShelf, ClipState, discard_clip
from studio.ui.tab import Moment, PageEvents, Tab, Updates

REANCHORED = ", each prediction re-anchored through decoder and encoder"
QUANTISED = ", each channel one of {} levels"
FAMILY_MEANING = {  # how each recipe of studio.bundle.MODEL_FAMILIES learnt its latents, in a line
    "reconstruction": "latents learnt by reconstructing pixels (an autoencoder, as Genie)",
    "jepa": "latents learnt by predicting a moving-average target encoder's latents of hidden and future frames, "
    "never pixels (as V-JEPA); the decoder was trained afterwards on the frozen latents, only to look",
}


CLIP_COLUMN = "this clip"


def bundle_card(model: WorldModel, clip_figures: FigureSet | None = None) -> str:
    """The model card of a loaded bundle, as Markdown; `clip_figures` are the analyzed clip's own, shown beside
    the bundle's."""
    m = model.manifest
    providers = sorted(set(model.providers.values()))
    lines = [
        f"## {m.name}",
        m.description,
        "",
        f"**Runs on:** `{', '.join(providers)}` (the provider onnxruntime actually uses) · **License:** {m.license}",
        "",
        f"**Family:** `{m.family}`: {FAMILY_MEANING[m.family]}.",
        "",
        "| frame | latent | actions | predictor context |",
        "| --- | --- | --- | --- |",
        f"| {m.frame.height}×{m.frame.width} RGB, {m.frame.resize} | {m.latent.tokens} tokens × {m.latent.dim} "
        f"(grid {'×'.join(map(str, m.latent.grid))}){QUANTISED.format(m.latent.levels) if m.latent.levels else ''} | "
        f"{m.action.codebook_size} codes × {m.action.dim}, read off "
        f"{m.action.window} latent frames | "
        f"{m.predictor.context} frames{REANCHORED if m.predictor.reanchor else ''} |",
    ]
    if m.training.get("action_labels", "").startswith("weak supervision"):
        lines += ["", f"**Action labels:** {m.training['action_labels']}. These codes are not label-free."]
    if m.trained_on:
        lines += ["", "### Trained on", "", *[f"- **{k}:** {v}" for k, v in m.trained_on.items()]]
    if m.metrics or clip_figures:
        lines += ["", "### Measured figures", "", *_metrics_table(m.metrics, clip_figures)]
    if m.training:
        lines += ["", "### Training", "", *[f"- **{k}:** {_format(v)}" for k, v in flatten(m.training).items()]]
    lines += ["", "### Graphs", "", "| graph | inputs | outputs | sha256 |", "| --- | --- | --- | --- |"]
    for role, spec in m.graphs.items():
        inputs = ", ".join(f"`{t.name}` {t.shape}" for t in spec.inputs)
        outputs = ", ".join(f"`{t.name}` {t.shape}" for t in spec.outputs)
        lines.append(f"| {role} (`{spec.file}`) | {inputs} | {outputs} | `{spec.sha256[:16]}…` |")
    return "\n".join(lines)


def clip_figures(state: ClipState) -> FigureSet:
    """The registry's figures an analyzed clip gives of itself, as far as the tabs have measured them."""
    codes = state.analysis.actions.codes
    figures = FigureSet()
    figures.set(F.CODEBOOK_PERPLEXITY, code_perplexity(codes, state.model.codebook_size))
    figures.set(F.CODES_USED, len(np.unique(codes)))
    if state.reconstruction is not None:
        figures.set(F.RECONSTRUCTION_PSNR, float(state.reconstruction.psnr.mean()))
    if state.delta_t_psnr is not None:
        figures.set(F.DELTA_T_PSNR.at(DELTA_T_HORIZON), state.delta_t_psnr)
    if state.labels is not None and ACTION_COLUMN in state.labels.columns:
        try:
            clip = state.analysis.clip
            truth = state.labels.at(ACTION_COLUMN, np.asarray(clip.indices)[:-1], clip.source_frames)
        except LabelsError:
            return figures
        result = agreement(codes, truth, state.model.codebook_size)
        figures.set(F.CODE_ACTION_NMI, result.nmi)
        figures.set(F.CODE_ACTION_ACCURACY, result.accuracy)
    return figures


def _metrics_table(metrics: dict, clip: FigureSet | None) -> list[str]:
    """One row per figure any set measured: its name, unit, a column per set (and the clip's), its meaning; a
    figure a set lacks is shown absent (–)."""
    sets = {MEASURED_SETS.get(name, name): figures for name, figures in measured_sets(metrics).items()}
    if clip is not None:
        sets[CLIP_COLUMN] = clip
    lines = [
        "| figure | unit | " + " | ".join(sets) + " | what it says |",
        "| --- | --- |" + " ---: |" * len(sets) + " --- |",
    ]
    for figure in in_registry_order(figure for figures in sets.values() for figure, _ in figures.figures()):
        values = [figure.format(figures.get(figure)) for figures in sets.values()]
        lines.append(f"| **{figure.name}** | {figure.unit} | " + " | ".join(values) + f" | {figure.meaning} |")
    for key in dict.fromkeys(key for figures in sets.values() for key in figures.undeclared()):
        values = [_format(figures.values.get(key, "–")) for figures in sets.values()]
        lines.append(f"| `{key}` | | " + " | ".join(values) + " | |")
    measured = [f"{name}: {figures.size()}" for name, figures in sets.items() if figures.size()]
    if measured:
        lines += ["", "Measured on the " + "; the ".join(measured) + ". –: not measured, or no code supports it."]
    return lines


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 8:
        return f"[{len(value)} values]"
    return str(value)


def load_errors_markdown(shelf: BundleShelf) -> str:
    if not shelf.errors:
        return ""
    rows = [f"- **{name}**: {error}" for name, error in sorted(shelf.errors.items())]
    return "### Bundles that could not be loaded\n\n" + "\n".join(rows)


class ModelTab(Tab):
    title, id = "Model", "model"
    css = "#model-card td:nth-child(2) { overflow-wrap: normal; word-break: keep-all; }"  # a unit is never cut

    def build(self, events: PageEvents) -> None:
        """The picker sets the user's bundle, which every other tab reads; picking drops the clip state, and every
        tab its results, which belonged to the previous model (the page's CLEARED moment)."""
        shelf = self.page.shelf
        picker = gr.Dropdown(
            choices=shelf.names,
            value=shelf.default_name,
            label="Bundle",
            info=f"bundles in {shelf.folder_names}",
            elem_id="model-picker",
        )
        self.card = gr.Markdown(bundle_card(shelf.get(shelf.default_name)), elem_id="model-card")
        gr.Markdown(load_errors_markdown(shelf))
        picked = picker.change(
            self.pick, inputs=picker, outputs=[self.page.bundle, self.card], api_name="select_bundle"
        )
        clip = self.page.clip
        events.publish(Moment.CLEARED, picked.then(_drop_clip, inputs=clip, outputs=clip, api_name=False))
        # the picker shows the bundle another tab asked for, and its change picks it
        events.follow(
            Moment.BUNDLE_ASKED,
            lambda asked: asked.then(lambda name: name, inputs=self.page.bundle, outputs=picker, api_name=False),
        )

    def opened(self, select) -> None:
        # the analyzed clip's own figures join the card whenever the tab is opened
        select(
            self.show_card,
            inputs=[self.page.clip, self.page.bundle],
            outputs=self.card,
            api_name=False,
            show_progress="hidden",
        )

    def pick(self, name: str) -> Updates:
        return {self.page.bundle: name, self.card: bundle_card(self.page.shelf.get(name))}

    def show_card(self, state: ClipState | None, name: str) -> str:
        model = self.page.shelf.get(name)
        return bundle_card(model, clip_figures(state) if state is not None and state.bundle == name else None)


def _drop_clip(state: ClipState | None) -> None:
    discard_clip(state)
