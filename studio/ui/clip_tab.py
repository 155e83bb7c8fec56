"""Clip tab: upload or pick a clip, analyze it, see it beside its reconstruction and as a path in latent space."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from studio.analysis import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_STRIDE,
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
from studio.runtime import WorldModel
from studio.ui.state import BundleShelf, ClipState, discard_clip
from studio.video import CLIP_SUFFIXES, ClipError, write_mp4

CLIP_TYPES = list(CLIP_SUFFIXES)
PREVIEW_HEIGHT = 256  # pixels: model frames are tiny, so previews are scaled up (nearest neighbour)
VIDEO_HEIGHT = 128  # the clip | reconstruction video is written this high and scaled up by the page (CSS)
VIDEO_CSS = "#clip-preview video { image-rendering: pixelated; }"
METHODS = {"UMAP": "umap", "PCA": "pca"}


def upscale(frame: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 -> nearest-neighbour enlargement to about PREVIEW_HEIGHT pixels high."""
    scale = max(1, PREVIEW_HEIGHT // frame.shape[0])
    return frame.repeat(scale, axis=0).repeat(scale, axis=1)


def side_by_side(frames: np.ndarray, reconstruction: np.ndarray, gap: int = 2) -> np.ndarray:
    """Two [T, H, W, 3] uint8 clips -> one [T, s*H, s*(2W+gap), 3] clip, scaled up by an integer s."""
    t, h, _, _ = frames.shape
    scale = max(1, VIDEO_HEIGHT // h)
    separator = np.full((t, h, gap, 3), 255, np.uint8)
    joined = np.concatenate([frames, separator, reconstruction], axis=2)  # [T, H, 2W+gap, 3]
    return joined.repeat(scale, axis=1).repeat(scale, axis=2)


def stats_markdown(analysis: ClipAnalysis, bundle: str, reconstruction: Reconstruction | None = None) -> str:
    s = analysis.summary()
    timings = dict(analysis.timings)
    if reconstruction is None:
        quality = "reconstructing the preview…"
    else:
        shown = len(reconstruction.indices)
        quality = f"reconstruction PSNR **{reconstruction.summary()['psnr_mean_db']} dB**" + (
            f" (the {shown} frames the preview shows)" if shown < s["frames"] else "")
        timings["decode"] = reconstruction.seconds
    per_stage = " · ".join(f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in timings.items())
    return (
        f"**{s['frames']} frames** analyzed (of {s['source_frames']} in the clip at {s['fps']} fps, "
        f"stride {analysis.clip.stride}) with **{bundle}** · {quality} · "
        f"{s['codes_used']} action codes used\n\nTime per stage: {per_stage}"
    )


def frame_caption(state: ClipState, t: int, frame_psnr: float) -> str:
    analysis = state.analysis
    code = int(analysis.actions.codes[t]) if t < len(analysis.actions.codes) else None
    leaving = f"code **{code}** to the next frame" if code is not None else "last frame"
    return f"Frame **{t}** · {frame_times(analysis)[t]:.2f} s · {leaving} · PSNR {frame_psnr:.1f} dB"


def build_clip_tab(shelf: BundleShelf, bundle_name: gr.State, clip: gr.State) -> ClipTab:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            upload = gr.File(label="Game clip", file_types=CLIP_TYPES, type="filepath", elem_id="clip-upload")
            examples = [[str(p)] for p in example_clips(shelf.get(shelf.default_name))]
            if examples:
                gr.Examples(examples, inputs=[upload], label="Examples shipped with the bundle")
            with gr.Row():
                stride = gr.Number(DEFAULT_STRIDE, label="Frame stride", precision=0, minimum=1, maximum=100)
                max_frames = gr.Number(DEFAULT_MAX_FRAMES, label="Frame cap", precision=0, minimum=2, maximum=MAX_FRAME_CAP)
            analyze = gr.Button("Analyze", variant="primary")
            stats = gr.Markdown(elem_id="clip-stats")
        with gr.Column(scale=2):
            preview = gr.Video(label="Clip | reconstruction", autoplay=True, loop=True, elem_id="clip-preview")

    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                method = gr.Radio(list(METHODS), value="UMAP", label="Projection", elem_id="map-method")
                dims = gr.Radio(["2D", "3D"], value="2D", label="Dimensions", elem_id="map-dims")
                color_by = gr.Radio(["time", "code"], value="time", label="Colour by", elem_id="map-color")
            trajectory = gr.Plot(label="Latent trajectory", elem_id="trajectory")
        with gr.Column(scale=2):
            frame_slider = gr.Slider(0, MAX_FRAME_CAP - 1, value=0, step=1, label="Frame", elem_id="frame-slider")
            caption = gr.Markdown(elem_id="frame-caption")
            with gr.Row():
                frame_image = gr.Image(label="Frame t", height=256, elem_id="frame-image")
                reconstruction_image = gr.Image(label="Reconstruction", height=256, elem_id="frame-reconstruction")
            with gr.Accordion("Overlay a second clip on the same map", open=False):
                overlay_upload = gr.File(label="Second clip", file_types=CLIP_TYPES, type="filepath")
                overlay_button = gr.Button("Overlay")
            downloads = gr.File(label="Downloads: latents (.npz), per-frame table (.csv), map (.html)", file_count="multiple")

    map_controls = [method, dims, color_by]

    def analyze_upload(previous: ClipState | None, path, stride_value, cap_value, name, method_label, dims_label,
                       color, progress=gr.Progress()):
        if not path:
            raise gr.Error("Upload a clip or pick an example first.")
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        analysis = _analyze(shelf.get(name), path, stride_value, cap_value, report)
        discard_clip(previous)  # the new analysis replaces the old one and its files
        progress(0.8, desc=f"projecting ({method_label})")
        state = ClipState.open(shelf, name, path, analysis)
        figure = _figure(state, method_label, dims_label, color, 0)
        slider = gr.Slider(0, len(analysis.frames) - 1, value=0, step=1, label="Frame")
        return (None, stats_markdown(analysis, name), figure, slider, *_frame_views(state, 0), None, state)

    def reconstruct_preview(state: ClipState | None, method_label, dims_label, color, t, progress=gr.Progress()):
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
            (side_by_side(analysis.frames[t : t + 1], state.reconstruction.frames[i : i + 1])[0]
             for i, t in enumerate(shown)),
            state.out_dir / "clip_vs_reconstruction.mp4",
            fps=min(fps, 60.0) or 15.0,
            preset="ultrafast",  # a preview: written in a second even for a long clip
        )
        files = _downloads(state, _figure(state, method_label, dims_label, color, t))
        return str(video), stats_markdown(analysis, state.bundle, state.reconstruction), files, state

    results = [preview, stats, trajectory, frame_slider, caption, frame_image, reconstruction_image, downloads]
    analyzed = analyze.click(
        analyze_upload,
        inputs=[clip, upload, stride, max_frames, bundle_name, *map_controls],
        outputs=[*results, clip],
        api_name="analyze",
        concurrency_id="model",
        show_progress_on=[preview, trajectory],  # a refusal marks these two, not every output
    )
    previewed = analyzed.success(
        reconstruct_preview,
        inputs=[clip, *map_controls, frame_slider],
        outputs=[preview, stats, downloads, clip],
        api_name="reconstruct",
        concurrency_id="model",
        show_progress_on=preview,
    )

    def redraw(state: ClipState | None, method_label, dims_label, color, t, progress=gr.Progress()):
        if state is None:
            return None
        progress(0.3, desc=f"projecting ({method_label})")
        return _figure(state, method_label, dims_label, color, t)

    for control in map_controls:
        control.change(redraw, inputs=[clip, *map_controls, frame_slider], outputs=trajectory, api_name=False)

    def show_frame(state: ClipState | None, t, method_label, dims_label, color):
        if state is None:
            return None, None, None, ""
        t = int(np.clip(t, 0, len(state.analysis.frames) - 1))
        return (_figure(state, method_label, dims_label, color, t), *_frame_views(state, t))

    frame_slider.change(
        show_frame,
        inputs=[clip, frame_slider, *map_controls],
        outputs=[trajectory, caption, frame_image, reconstruction_image],
        api_name=False,
        trigger_mode="always_last",
        show_progress="hidden",
    )

    def overlay(state: ClipState | None, path, stride_value, cap_value, method_label, dims_label, color, t,
                progress=gr.Progress()):
        if state is None:
            raise gr.Error("Analyze a clip first, then overlay a second one on its map.")
        if not path:
            raise gr.Error("Upload the second clip first.")
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        state.set_overlay(Path(path).name, _analyze(state.model, path, stride_value, cap_value, report))
        figure = _figure(state, method_label, dims_label, color, t)
        return figure, _downloads(state, figure), state

    overlay_button.click(
        overlay,
        inputs=[clip, overlay_upload, stride, max_frames, *map_controls, frame_slider],
        outputs=[trajectory, downloads, clip],
        api_name="overlay",
        concurrency_id="model",
        show_progress_on=trajectory,
    )
    def clear(state: ClipState | None):
        """Another bundle was picked: an analysis made with the previous one no longer applies."""
        discard_clip(state)
        return None, "", None, gr.Slider(0, 1, value=0), "", None, None, None, None

    return ClipTab(analyzed=analyzed, previewed=previewed, clear=clear, cleared=[*results, clip])


@dataclass(frozen=True)
class ClipTab:
    """What the other tabs hook into: the end of an analysis and of its preview, and how to clear the tab."""

    # Analyze itself: tabs whose reset costs nothing clear here, before the user can start work in them that a
    # later reset would wipe
    analyzed: gr.events.Dependency
    # the preview step that follows Analyze: the Actions overview refreshes after it, so that on 2 cores the
    # preview the user is waiting for does not share them with work for a tab not in view
    previewed: gr.events.Dependency
    clear: Callable[[ClipState | None], tuple]
    cleared: list


def _analyze(model: WorldModel, path: str, stride_value, cap_value, report) -> ClipAnalysis:
    try:
        return analyze_clip(
            model,
            path,
            stride=max(1, int(stride_value or DEFAULT_STRIDE)),
            max_frames=max(2, int(cap_value or DEFAULT_MAX_FRAMES)),
            progress=report,
        )
    except (ClipError, BundleError) as err:
        raise gr.Error(str(err), title="The clip was not analyzed", duration=30) from None


def _figure(state: ClipState, method_label: str, dims_label: str, color: str, t):
    return state.figure(METHODS[method_label], int(dims_label[0]), color, highlight=int(t))


def _frame_views(state: ClipState, t: int) -> tuple[str, np.ndarray, np.ndarray]:
    reconstructed, frame_psnr = state.reconstructed(t)
    return frame_caption(state, t, frame_psnr), upscale(state.analysis.frames[t]), upscale(reconstructed)


def _downloads(state: ClipState, figure) -> list[str]:
    stem = Path(state.name).stem
    npz = save_analysis(state.analysis, state.out_dir / f"{stem}_analysis.npz", state.reconstruction)
    csv = save_analysis_csv(state.analysis, state.out_dir / f"{stem}_frames.csv", state.reconstruction)
    html = state.out_dir / f"{stem}_latent_map.html"
    figure.write_html(html, include_plotlyjs=True, full_html=True)
    return [str(npz), str(csv), str(html)]
