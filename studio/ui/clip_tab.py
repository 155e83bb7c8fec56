"""Clip tab: upload or pick a clip, analyze it, see it beside its reconstruction and as a path in latent space."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from studio.analysis import (
    AUTO,
    DEFAULT_MAX_FRAMES,
    MAX_FRAME_CAP,
    ClipAnalysis,
    Reconstruction,
    analyze_clip,
    frame_times,
    preview_indices,
    reconstruct,
    save_analysis,
    save_analysis_csv,
)
from studio.bundle import BundleError
from studio.examples import example_clips
from studio.montage import enlarged, side_by_side
from studio.runtime import WorldModel
from studio.screen import ScreenError, draw_box, parse_box
from studio.ui.state import ClipState, discard_clip
from studio.ui.tab import ClipEvents, Tab, Updates
from studio.video import CLIP_SUFFIXES, ClipError, write_mp4

CLIP_TYPES = list(CLIP_SUFFIXES)
PREVIEW_HEIGHT = 256  # pixels: model frames are tiny, so the tabs' pictures are enlarged to about this height
VIDEO_HEIGHT = 128  # the clip | reconstruction video is written this high and scaled up by the page (CSS)
VIDEO_CSS = (
    "#clip-preview video { image-rendering: pixelated; }\n"
    "#clip-banner:has(p) { background: #fff4e5; border-left: 4px solid #e8590c; padding: 6px 12px; }"
)
METHODS = {"UMAP": "umap", "PCA": "pca"}


def stats_markdown(analysis: ClipAnalysis, bundle: str, reconstruction: Reconstruction | None = None) -> str:
    s = analysis.summary()
    timings = dict(analysis.timings)
    if reconstruction is None:
        quality = "reconstructing the preview…"
    else:
        shown = len(reconstruction.indices)
        quality = f"reconstruction PSNR **{reconstruction.summary()['psnr_mean_db']} dB**" + (
            f" (the {shown} frames the preview shows)" if shown < s["frames"] else ""
        )
        timings["decode"] = reconstruction.seconds
    per_stage = " · ".join(f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in timings.items())
    vouching = analysis.vouching
    judged = ""
    if vouching is not None:
        familiar = (
            "not judged (this bundle has no reference)"
            if vouching.familiarity is None
            else f"median **{np.median(vouching.familiarity):.2f}** (held-out frames score 1, unfamiliar below 0), "
            f"{'familiar' if vouching.familiar else '**unfamiliar**'}"
        )
        judged = (
            f"\n\nScreen: {vouching.crop_note} · box **{vouching.crop}** (top, left, height, width)"
            f"\n\nRate: {vouching.stride_note}\n\nFamiliarity: {familiar}"
        )
    return (
        f"**{s['frames']} frames** analyzed (of {s['source_frames']} in the clip at {s['fps']} fps, "
        f"stride {analysis.clip.stride}) with **{bundle}** · {quality} · "
        f"{s['codes_used']} action codes used{judged}\n\nTime per stage: {per_stage}"
    )


def frame_caption(state: ClipState, t: int, frame_psnr: float) -> str:
    analysis = state.analysis
    code = int(analysis.actions.codes[t]) if t < len(analysis.actions.codes) else None
    leaving = f"code **{code}** to the next frame" if code is not None else "last frame"
    return f"Frame **{t}** · {frame_times(analysis)[t]:.2f} s · {leaving} · PSNR {frame_psnr:.1f} dB"


class ClipTab(Tab):
    title, id, css = "Clip", "clip", VIDEO_CSS

    def build(self) -> None:
        shelf, clip = self.page.shelf, self.page.clip
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                self.upload = gr.File(label="Game clip", file_types=CLIP_TYPES, type="filepath", elem_id="clip-upload")
                examples = [[str(p)] for p in example_clips(shelf.get(shelf.default_name))]
                if examples:
                    gr.Examples(examples, inputs=[self.upload], label="Examples shipped with the bundle")
                with gr.Row():
                    self.stride = gr.Number(
                        0,
                        label="Frame stride (0: the model's rate)",
                        precision=0,
                        minimum=0,
                        maximum=100,
                        elem_id="clip-stride",
                    )
                    self.max_frames = gr.Number(
                        DEFAULT_MAX_FRAMES, label="Frame cap", precision=0, minimum=2, maximum=MAX_FRAME_CAP
                    )
                self.crop = gr.Textbox(
                    "auto",
                    label="Game screen: auto, none, or TOP,LEFT,HEIGHT,WIDTH in source pixels",
                    max_lines=1,
                    elem_id="clip-crop",
                )
                analyze = gr.Button("Analyze", variant="primary")
                self.stats = gr.Markdown(elem_id="clip-stats")
                self.screen = gr.Image(
                    label="Screen read (magenta box)", height=220, interactive=False, elem_id="clip-screen"
                )
            with gr.Column(scale=2):
                self.banner = gr.Markdown(elem_id="clip-banner")  # styled only when it says something (CSS)
                self.preview = gr.Video(label="Clip | reconstruction", autoplay=True, loop=True, elem_id="clip-preview")

        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    self.method = gr.Radio(list(METHODS), value="UMAP", label="Projection", elem_id="map-method")
                    self.dims = gr.Radio(["2D", "3D"], value="2D", label="Dimensions", elem_id="map-dims")
                    self.color_by = gr.Radio(["time", "code"], value="time", label="Colour by", elem_id="map-color")
                self.trajectory = gr.Plot(label="Latent trajectory", elem_id="trajectory")
            with gr.Column(scale=2):
                self.frame_slider = gr.Slider(
                    0, MAX_FRAME_CAP - 1, value=0, step=1, label="Frame", elem_id="frame-slider"
                )
                self.caption = gr.Markdown(elem_id="frame-caption")
                with gr.Row():
                    self.frame_image = gr.Image(label="Frame t", height=256, elem_id="frame-image")
                    self.reconstruction_image = gr.Image(
                        label="Reconstruction", height=256, elem_id="frame-reconstruction"
                    )
                with gr.Accordion("Overlay a second clip on the same map", open=False):
                    self.overlay_upload = gr.File(label="Second clip", file_types=CLIP_TYPES, type="filepath")
                    overlay_button = gr.Button("Overlay")
                self.downloads = gr.File(
                    label="Downloads: latents (.npz), per-frame table (.csv), map (.html)", file_count="multiple"
                )

        map_controls = [self.method, self.dims, self.color_by]
        self.page.analyzed = analyze.click(
            self.analyze,
            inputs=[clip, self.upload, self.stride, self.max_frames, self.page.bundle, *map_controls, self.crop],
            outputs=[*self.shown, clip],
            api_name="analyze",
            concurrency_id="model",
            show_progress_on=[self.preview, self.trajectory],  # a refusal marks these two, not every output
        )
        self.page.previewed = self.page.analyzed.success(
            self.reconstruct_preview,
            inputs=[clip, *map_controls, self.frame_slider],
            outputs=[self.preview, self.stats, self.downloads, clip],
            api_name="reconstruct",
            concurrency_id="model",
            show_progress_on=self.preview,
        )
        for control in map_controls:
            control.change(
                self.redraw, inputs=[clip, *map_controls, self.frame_slider], outputs=self.trajectory, api_name=False
            )
        self.frame_slider.change(
            self.show_frame,
            inputs=[clip, self.frame_slider, *map_controls],
            outputs=[self.trajectory, self.caption, self.frame_image, self.reconstruction_image],
            api_name=False,
            trigger_mode="always_last",
            show_progress="hidden",
        )
        overlay_button.click(
            self.overlay,
            inputs=[clip, self.overlay_upload, self.stride, self.max_frames, *map_controls, self.frame_slider],
            outputs=[self.trajectory, self.downloads, clip],
            api_name="overlay",
            concurrency_id="model",
            show_progress_on=self.trajectory,
        )

    @property
    def shown(self) -> list:
        """What the tab shows of a clip, in the order of /analyze's return values."""
        return [
            self.preview,
            self.stats,
            self.banner,
            self.screen,
            self.trajectory,
            self.frame_slider,
            self.caption,
            self.frame_image,
            self.reconstruction_image,
            self.downloads,
        ]

    def follow(self, events: ClipEvents) -> None:
        events.cleared.then(self.clear, outputs=self.shown, api_name=False)

    def analyze(
        self,
        previous: ClipState | None,
        path,
        stride_value,
        cap_value,
        bundle: str,
        method_label,
        dims_label,
        color,
        crop_text="auto",
        progress=gr.Progress(),
    ) -> Updates:
        if not path:
            raise gr.Error("Upload a clip or pick an example first.")
        try:
            crop = parse_box(crop_text)
        except ScreenError as err:
            raise gr.Error(str(err), title="The clip was not analyzed", duration=30) from None
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        analysis = _analyze(self.page.shelf.get(bundle), path, stride_value, cap_value, report, crop)
        discard_clip(previous)  # the new analysis replaces the old one and its files
        progress(0.8, desc=f"projecting ({method_label})")
        state = ClipState.open(self.page.shelf, bundle, path, analysis)
        return {
            self.preview: None,
            self.stats: stats_markdown(analysis, bundle),
            **_vouching_views(self, analysis),
            self.trajectory: _figure(state, method_label, dims_label, color, 0),
            self.frame_slider: gr.Slider(0, len(analysis.frames) - 1, value=0, step=1, label="Frame"),
            **self._frame_views(state, 0),
            self.downloads: None,
            self.page.clip: state,
        }

    def reconstruct_preview(
        self, state: ClipState | None, method_label, dims_label, color, t, progress=gr.Progress()
    ) -> Updates:
        """After an analysis: decode the frames the preview shows, write it and the downloads."""
        if state is None:
            raise gr.Error("Analyze a clip first.")
        analysis = state.analysis
        shown = preview_indices(len(analysis.frames))
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        state.reconstruction = reconstruct(state.model, analysis, shown, progress=report)
        progress(0.8, desc="writing the preview and downloads")
        fps = (analysis.clip.fps / analysis.clip.stride) * len(shown) / len(analysis.frames)
        video = write_mp4(
            (
                enlarged(side_by_side([analysis.frames[t], state.reconstruction.frames[i]]), VIDEO_HEIGHT)
                for i, t in enumerate(shown)
            ),
            state.out_dir / "clip_vs_reconstruction.mp4",
            fps=min(fps, 60.0) or 15.0,
            preset="ultrafast",  # a preview: written in a second even for a long clip
        )
        return {
            self.preview: str(video),
            self.stats: stats_markdown(analysis, state.bundle, state.reconstruction),
            self.downloads: _downloads(state, _figure(state, method_label, dims_label, color, t)),
            self.page.clip: state,
        }

    def redraw(self, state: ClipState | None, method_label, dims_label, color, t, progress=gr.Progress()):
        if state is None:
            return None
        progress(0.3, desc=f"projecting ({method_label})")
        return _figure(state, method_label, dims_label, color, t)

    def show_frame(self, state: ClipState | None, t, method_label, dims_label, color) -> Updates:
        if state is None:
            return {self.trajectory: None, self.caption: "", self.frame_image: None, self.reconstruction_image: None}
        t = int(np.clip(t, 0, len(state.analysis.frames) - 1))
        return {self.trajectory: _figure(state, method_label, dims_label, color, t), **self._frame_views(state, t)}

    def overlay(
        self,
        state: ClipState | None,
        path,
        stride_value,
        cap_value,
        method_label,
        dims_label,
        color,
        t,
        progress=gr.Progress(),
    ) -> Updates:
        if state is None:
            raise gr.Error("Analyze a clip first, then overlay a second one on its map.")
        if not path:
            raise gr.Error("Upload the second clip first.")
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        state.set_overlay(Path(path).name, _analyze(state.model, path, stride_value, cap_value, report))
        figure = _figure(state, method_label, dims_label, color, t)
        return {self.trajectory: figure, self.downloads: _downloads(state, figure), self.page.clip: state}

    def clear(self) -> Updates:
        """Another bundle was picked: an analysis made with the previous one no longer applies."""
        return {
            self.preview: None,
            self.stats: "",
            self.banner: "",
            self.screen: None,
            self.trajectory: None,
            self.frame_slider: gr.Slider(0, 1, value=0),
            self.caption: "",
            self.frame_image: None,
            self.reconstruction_image: None,
            self.downloads: None,
        }

    def _frame_views(self, state: ClipState, t: int) -> Updates:
        reconstructed, frame_psnr = state.reconstructed(t)
        return {
            self.caption: frame_caption(state, t, frame_psnr),
            self.frame_image: enlarged(state.analysis.frames[t], PREVIEW_HEIGHT),
            self.reconstruction_image: enlarged(reconstructed, PREVIEW_HEIGHT),
        }


def _analyze(model: WorldModel, path: str, stride_value, cap_value, report, crop=AUTO) -> ClipAnalysis:
    try:
        return analyze_clip(
            model,
            path,
            stride=max(1, int(stride_value)) if stride_value else None,  # 0 or empty: the model's rate
            max_frames=max(2, int(cap_value or DEFAULT_MAX_FRAMES)),
            crop=crop,
            progress=report,
        )
    except (ClipError, BundleError) as err:
        raise gr.Error(str(err), title="The clip was not analyzed", duration=30) from None


def _vouching_views(tab: ClipTab, analysis: ClipAnalysis) -> Updates:
    """The banner (shown only for an unfamiliar clip) and the source frame with the screen's box."""
    vouching = analysis.vouching
    warning = vouching.warning if vouching is not None else ""
    framed = draw_box(vouching.source_frame, vouching.crop) if vouching is not None else None
    return {tab.banner: f"⚠ {warning}" if warning else "", tab.screen: framed}


def _figure(state: ClipState, method_label: str, dims_label: str, color: str, t):
    return state.figure(METHODS[method_label], int(dims_label[0]), color, highlight=int(t))


def _downloads(state: ClipState, figure) -> list[str]:
    stem = Path(state.name).stem
    npz = save_analysis(state.analysis, state.out_dir / f"{stem}_analysis.npz", state.reconstruction)
    csv = save_analysis_csv(state.analysis, state.out_dir / f"{stem}_frames.csv", state.reconstruction)
    html = state.out_dir / f"{stem}_latent_map.html"
    figure.write_html(html, include_plotlyjs=True, full_html=True)
    return [str(npz), str(csv), str(html)]
