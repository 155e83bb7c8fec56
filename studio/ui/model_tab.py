"""Model tab: the bundle card, the provider actually in use, and the bundle picker."""

from __future__ import annotations

import gradio as gr

from studio.runtime import WorldModel
from studio.ui.state import BundleShelf
from studio.ui.tab import Tab, Updates

REANCHORED = ", each prediction re-anchored through decoder and encoder"


def bundle_card(model: WorldModel) -> str:
    """The model card of a loaded bundle, as Markdown."""
    m = model.manifest
    providers = sorted(set(model.providers.values()))
    lines = [
        f"## {m.name}",
        m.description,
        "",
        f"**Runs on:** `{', '.join(providers)}` (the provider onnxruntime actually uses) · **License:** {m.license}",
        "",
        "| frame | latent | actions | predictor context |",
        "| --- | --- | --- | --- |",
        f"| {m.frame.height}×{m.frame.width} RGB, {m.frame.resize} | {m.latent.tokens} tokens × {m.latent.dim} "
        f"(grid {'×'.join(map(str, m.latent.grid))}) | {m.action.codebook_size} codes × {m.action.dim}, read off "
        f"{m.action.window} latent frames | "
        f"{m.predictor.context} frames{REANCHORED if m.predictor.reanchor else ''} |",
    ]
    if m.training.get("action_labels", "").startswith("weak supervision"):
        lines += ["", f"**Action labels:** {m.training['action_labels']}. These codes are not label-free."]
    if m.trained_on:
        lines += ["", "### Trained on", "", *[f"- **{k}:** {v}" for k, v in m.trained_on.items()]]
    if m.metrics:
        lines += ["", "### Measured figures", "", *_metrics_table(m.metrics)]
    if m.training:
        lines += ["", "### Training", "", *[f"- **{k}:** {_format(v)}" for k, v in _flatten(m.training).items()]]
    lines += ["", "### Graphs", "", "| graph | inputs | outputs | sha256 |", "| --- | --- | --- | --- |"]
    for role, spec in m.graphs.items():
        inputs = ", ".join(f"`{t.name}` {t.shape}" for t in spec.inputs)
        outputs = ", ".join(f"`{t.name}` {t.shape}" for t in spec.outputs)
        lines.append(f"| {role} (`{spec.file}`) | {inputs} | {outputs} | `{spec.sha256[:16]}…` |")
    return "\n".join(lines)


def _metrics_table(metrics: dict) -> list[str]:
    """One column per set the figures were measured on (e.g. held-out episodes, the example clips)."""
    sets = {name: _flatten(values) for name, values in metrics.items() if isinstance(values, dict)}
    if not sets:
        return [
            "| figure | value |",
            "| --- | --- |",
            *[f"| {k} | {_format(v)} |" for k, v in _flatten(metrics).items()],
        ]
    figures = list(dict.fromkeys(key for values in sets.values() for key in values))
    lines = ["| figure | " + " | ".join(sets) + " |", "| --- |" + " ---: |" * len(sets)]
    for figure in figures:
        lines.append(f"| {figure} | " + " | ".join(_format(values.get(figure, "")) for values in sets.values()) + " |")
    return lines


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


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

    def build(self) -> None:
        """The picker sets the user's bundle, which every other tab reads; the page's `picked` is its event."""
        shelf = self.page.shelf
        picker = gr.Dropdown(
            choices=shelf.names, value=shelf.default_name, label="Bundle", info=f"bundles in {shelf.exported_dir.name}/"
        )
        self.card = gr.Markdown(bundle_card(shelf.get(shelf.default_name)))
        gr.Markdown(load_errors_markdown(shelf))
        self.page.picked = picker.change(
            self.pick, inputs=picker, outputs=[self.page.bundle, self.card], api_name="select_bundle"
        )

    def pick(self, name: str) -> Updates:
        return {self.page.bundle: name, self.card: bundle_card(self.page.shelf.get(name))}
