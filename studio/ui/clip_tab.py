"""Clip tab: upload a clip, analyze it, see it beside its reconstruction."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import numpy as np

from studio.analysis import DEFAULT_MAX_FRAMES, DEFAULT_STRIDE, ClipAnalysis, analyze_clip, save_analysis
from studio.bundle import BundleError
from studio.ui.state import BundleShelf
from studio.video import ClipError, write_mp4

CLIP_TYPES = [".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif"]
PREVIEW_HEIGHT = 256  # pixels: model frames are tiny, so previews are scaled up (nearest neighbour)


def side_by_side(frames: np.ndarray, reconstruction: np.ndarray, gap: int = 4) -> np.ndarray:
    """Two [T, H, W, 3] uint8 clips -> one [T, s*H, s*(2W+gap), 3] clip, scaled up by an integer s."""
    t, h, w, _ = frames.shape
    scale = max(1, PREVIEW_HEIGHT // h)
    separator = np.full((t, h, gap, 3), 255, np.uint8)
    joined = np.concatenate([frames, separator, reconstruction], axis=2)  # [T, H, 2W+gap, 3]
    return joined.repeat(scale, axis=1).repeat(scale, axis=2)


def stats_markdown(analysis: ClipAnalysis, bundle: str) -> str:
    s = analysis.summary()
    timings = " · ".join(f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in analysis.timings.items())
    return (
        f"**{s['frames']} frames** analyzed (of {s['source_frames']} in the clip at {s['fps']} fps, "
        f"stride {analysis.clip.stride}) with **{bundle}** · reconstruction PSNR **{s['psnr_mean_db']} dB** · "
        f"{s['codes_used']} action codes used\n\n⏱ {timings}"
    )


def build_clip_tab(shelf: BundleShelf, bundle_name: gr.State, analysis_state: gr.State) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(label="Game clip", file_types=CLIP_TYPES, type="filepath")
            with gr.Row():
                stride = gr.Number(DEFAULT_STRIDE, label="Frame stride", precision=0, minimum=1, maximum=100)
                max_frames = gr.Number(
                    DEFAULT_MAX_FRAMES, label="Frame cap", precision=0, minimum=2, maximum=20_000
                )
            analyze = gr.Button("Analyze", variant="primary")
        with gr.Column(scale=2):
            preview = gr.Video(label="Clip | reconstruction", autoplay=True, loop=True, elem_id="clip-preview")
            stats = gr.Markdown(elem_id="clip-stats")
            download = gr.File(label="Latents, codes and action vectors (.npz)")

    def run(path: str | None, stride_value, cap_value, name: str, progress=gr.Progress()):
        if not path:
            raise gr.Error("Upload a clip first.")
        try:
            model = shelf.get(name)
            analysis = analyze_clip(
                model,
                path,
                stride=int(stride_value or DEFAULT_STRIDE),
                max_frames=int(cap_value or DEFAULT_MAX_FRAMES),
                progress=lambda fraction, stage: progress(fraction, desc=stage),
            )
        except (ClipError, BundleError) as err:
            raise gr.Error(str(err)) from None
        progress(0.9, desc="writing the preview")
        out_dir = Path(tempfile.mkdtemp(prefix="studio-analysis-"))
        video = write_mp4(
            side_by_side(analysis.frames, analysis.reconstruction), out_dir / "clip_vs_reconstruction.mp4",
            fps=min(analysis.clip.fps / analysis.clip.stride, 60.0) or 15.0,
        )
        npz = save_analysis(analysis, out_dir / f"{Path(path).stem}_analysis.npz")
        return str(video), stats_markdown(analysis, name), str(npz), analysis

    analyze.click(
        run,
        inputs=[upload, stride, max_frames, bundle_name],
        outputs=[preview, stats, download, analysis_state],
        api_name="analyze",
    )
