"""Clip tab: upload or pick a clip, analyze it, see it beside its reconstruction and as a path in latent space."""

from __future__ import annotations

from dataclasses import dataclass
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
from studio.examples import bundles_shipping, distinct_files, example_clips
from studio.model_kind import kind_words
from studio.montage import captioned, enlarged, side_by_side
from studio.runtime import WorldModel
from studio.screen import ScreenError, draw_box, parse_box
from studio.ui.picture_html import label_above_picture
from studio.ui.refusal import refusal
from studio.ui.state import ClipState, Refusals, discard_clip
from studio.ui.tab import Moment, PageEvents, Tab, Updates, unless_discarded
from studio.video import CLIP_SUFFIXES, ClipError, write_mp4

CLIP_TYPES = list(CLIP_SUFFIXES)
PREVIEW_HEIGHT = 256  # pixels: model frames are tiny, so the tabs' pictures are enlarged to about this height
VIDEO_CONTROLS_ROOM = 48  # pixels: the height of the video player's control bar, with its margin
VIDEO_HEIGHT = 128  # the clip | reconstruction video is written this high and scaled up by the page (CSS)
CLIP_CSS = (
    "#clip-preview video, #frame-image img, #frame-reconstruction img { image-rendering: pixelated; }\n"
    # the player's control bar lies over the video's bottom, where a game keeps its paddle: the video ends above it
    f"#clip-preview video {{ height: calc(100% - {VIDEO_CONTROLS_ROOM}px) !important; }}\n"
    # compact, so that the map under it still fits a 720-pixel-high window when a clip is unfamiliar
    "#clip-banner:has(p) { background: #fff4e5; border-left: 4px solid #e8590c; padding: 4px 10px; }\n"
    "#clip-banner p { font-size: 0.9em; line-height: 1.35; margin: 0; }\n"
    + label_above_picture("frame-image", "frame-reconstruction", "clip-screen")
)
# after a bundle was picked, the example is analyzed again if the pick was the offer's, taken with one click
ANALYZE_IF_SWITCHING = "(switching) => { if (switching) document.getElementById('clip-analyze')?.click(); }"
# a new analysis takes the previous clip's toasts off the page too (a refusal stays told under Analyze)
DISMISS_TOASTS = "() => document.querySelectorAll('.toast-close').forEach((button) => button.click())"
METHODS = {"UMAP": "umap", "PCA": "pca"}
FIRST_STEP = (
    "**Start here:** click one of the example clips shipped with the bundle (it is analyzed at once), "
    "or drop a game clip of your own in the box and press **Analyze**. The map of its frames appears "
    "on the right; every other tab then shows the same clip."
)
# gr.Plot has no click event: a click on one of the clip's points in the map types that point's frame into the
# frame slider's number box, as a user would, so the slider's own change event shows the frame. Points carry
# their frame index as customdata (the overlaid clip's do not: its frames are not the slider's).
MAP_CLICK_SCRIPT = """
<script>
(() => {
  const showFrame = (event) => {
    const point = (event.points || []).find((p) => typeof p.customdata === "number");
    const box = document.querySelector("#frame-slider input[type=number]");
    if (!point || !box) return;
    box.value = String(point.customdata);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.dispatchEvent(new Event("change", { bubbles: true }));
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  };
  // hooked when a press begins on the map, before plotly turns it into a click: no work while nobody clicks
  document.addEventListener("pointerdown", (event) => {
    const plot = event.target.closest && event.target.closest("#trajectory .js-plotly-plot");
    if (!plot || typeof plot.on !== "function") return;
    plot.removeListener("plotly_click", showFrame);  // once per figure, however often it is drawn again
    plot.on("plotly_click", showFrame);
  }, true);
})();
</script>
"""


@dataclass(frozen=True)
class Refusal:
    """Why a clip was not analyzed, and whether the file itself is to blame (else the screen box typed for it)."""

    reason: str
    file_at_fault: bool = True


def stats_markdown(
    analysis: ClipAnalysis,
    bundle: str,
    reconstruction: Reconstruction | None = None,
    drawn: bool = True,
    code: str = "code",
) -> str:
    """The analysis in a paragraph; `drawn` False for a model that draws no pixels (no reconstruction to judge),
    `code` what one of its codes is (`KindWords.code`)."""
    s = analysis.summary()
    timings = dict(analysis.timings)
    if not drawn:
        quality = "the nearest real frames of its frame bank stand in for a reconstruction (it draws no pixels)"
    elif reconstruction is None:
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
    clip = analysis.clip
    truncated = (
        f"⚠ **The file is truncated:** it announces {clip.source_frames} frames but breaks off after frame "
        f"{clip.indices[-1]}; what follows covers the frames before the break.\n\n"
        if clip.truncated
        else ""
    )
    return (
        f"{truncated}**{s['frames']} frames** analyzed (of {s['source_frames']} in the clip at {s['fps']} fps, "
        f"stride {clip.stride}) with **{bundle}** · {quality} · "
        f"{_codes_used(s['codes_used'], code)}{judged}\n\nTime per stage: {per_stage}"
    )


def _codes_used(count: int, code: str) -> str:
    """'5 action codes used', '1 button read off', '3 clusters used'."""
    plural = "" if count == 1 else "s"
    if code == "button":
        return f"{count} button{plural} read off"
    return f"{count} {'action code' if code == 'code' else code}{plural} used"


def frame_caption(state: ClipState, t: int, frame_psnr: float) -> str:
    analysis = state.analysis
    code = int(analysis.actions.codes[t]) if t < len(analysis.actions.codes) else None
    leaving = f"**{state.model.code_names()[code]}** to the next frame" if code is not None else "last frame"
    quality = f" · PSNR {frame_psnr:.1f} dB" if state.model.has_decoder else " · beside it: the nearest real frame"
    return f"Frame **{t}** · {frame_times(analysis)[t]:.2f} s · {leaving}{quality}"


class ClipTab(Tab):
    title, id, css, head = "Clip", "clip", CLIP_CSS, MAP_CLICK_SCRIPT

    def build(self, events: PageEvents) -> None:
        shelf, clip = self.page.shelf, self.page.clip
        self.refusals = gr.State(None)  # this user's Refusals: why their last clip was refused, until shown
        # the map first: at 1280×720 it is in view after Analyze, beside the frame it highlights
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                self.upload = gr.File(
                    label="Game clip", file_types=CLIP_TYPES, type="filepath", height=120, elem_id="clip-upload"
                )
                # every bundle's examples (once each), the default bundle's first; each is analyzed with the
                # bundle picked
                bundles = [shelf.default_name, *(name for name in shelf.names if name != shelf.default_name)]
                clips = distinct_files(p for name in bundles for p in example_clips(shelf.get(name)))
                examples = [[str(p)] for p in clips]
                if examples:
                    shipped = gr.Examples(
                        examples,
                        inputs=[self.upload],
                        label="Examples shipped with the bundles (analyzed by the bundle picked on the Model tab)",
                    )
                    # an example is analyzed as soon as it is picked, through the Analyze button a user would press
                    shipped.load_input_event.then(None, js="() => document.getElementById('clip-analyze').click()")
                with gr.Accordion("Frames to read", open=False), gr.Row():
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
                analyze = gr.Button("Analyze", variant="primary", elem_id="clip-analyze")
                self.stats = gr.Markdown(FIRST_STEP, elem_id="clip-stats")
            with gr.Column(scale=2, min_width=420):
                self.banner = gr.Markdown(elem_id="clip-banner")  # styled only when it says something (CSS)
                # an example of another bundle, analyzed with the one picked: one click analyzes it with its own
                with gr.Row(visible=False, equal_height=True, elem_id="clip-offer") as self.offer:
                    self.offer_text = gr.Markdown(elem_id="clip-offer-text")
                    self.offer_button = gr.Button(scale=0, min_width=200, elem_id="clip-offer-button")
                self.trajectory = gr.Plot(
                    label="Latent trajectory: click a point to see its frame", elem_id="trajectory"
                )
                with gr.Row():  # under the map, which comes first
                    self.method = gr.Radio(list(METHODS), value="UMAP", label="Projection", elem_id="map-method")
                    self.dims = gr.Radio(["2D", "3D"], value="2D", label="Dimensions", elem_id="map-dims")
                    self.color_by = gr.Radio(["time", "code"], value="time", label="Colour by", elem_id="map-color")
            with gr.Column(scale=1, min_width=260):
                # hidden until a clip gives it its range; API calls, which never see that range, meet this one
                self.frame_slider = gr.Slider(
                    0, MAX_FRAME_CAP - 1, value=0, step=1, label="Frame", visible=False, elem_id="frame-slider"
                )
                self.caption = gr.Markdown(elem_id="frame-caption")
                self.frame_image = gr.Image(label="Frame t", height=200, elem_id="frame-image")
                self.reconstruction_image = gr.Image(
                    label=_beside_label(self.page.shelf.get(self.page.shelf.default_name)),
                    height=200,
                    elem_id="frame-reconstruction",
                )

        with gr.Row():
            with gr.Column(scale=3):
                # the picture names its two panels: the label would cover the first one's name
                self.preview = gr.Video(
                    label="Clip | reconstruction",
                    show_label=False,
                    autoplay=True,
                    loop=True,
                    height=300,
                    elem_id="clip-preview",
                )
            with gr.Column(scale=2):
                self.screen = gr.Image(
                    label="Screen read (magenta box)", height=220, interactive=False, elem_id="clip-screen"
                )
                self.crop = gr.Textbox(
                    "auto",
                    label="Game screen: auto, none, or TOP,LEFT,HEIGHT,WIDTH in source pixels, then Analyze",
                    max_lines=1,
                    elem_id="clip-crop",
                )
                with gr.Accordion("Overlay a second clip on the same map", open=False):
                    self.overlay_upload = gr.File(label="Second clip", file_types=CLIP_TYPES, type="filepath")
                    overlay_button = gr.Button("Overlay")
                self.downloads = gr.File(
                    label="Downloads: latents (.npz), per-frame table (.csv), map (.html)", file_count="multiple"
                )

        self.offered = gr.State(None)  # the bundle this user was offered to analyze their example with
        # True from a click on the offer until the example is analyzed again; a component, as the page reads it
        self.switching = gr.Checkbox(False, visible=False)
        map_controls = [self.method, self.dims, self.color_by]
        # a new analysis first takes the previous clip off the page (every tab follows `started`), so that two
        # clips never show at once: not while the new one is read, nor after it is refused
        analyze.click(None, js=DISMISS_TOASTS, api_name=False)
        started = analyze.click(
            self.forget,
            inputs=clip,
            outputs=[*self.shown, *self.offer_views, clip, self.refusals, self.switching],
            api_name=False,
            show_progress="hidden",
        )
        analyzed = started.then(
            self.analyze,
            inputs=[
                clip,
                self.upload,
                self.stride,
                self.max_frames,
                self.page.bundle,
                *map_controls,
                self.crop,
                self.refusals,
            ],
            outputs=[*self.shown, clip],
            api_name="analyze",
            concurrency_id="model",
            show_progress_on=[self.preview, self.trajectory],
        )
        analyzed.failure(
            self.refused,
            inputs=[self.upload, self.refusals],
            outputs=[self.upload, self.stats, self.trajectory],
            api_name=False,
        )
        previewed = analyzed.success(
            self.reconstruct_preview,
            inputs=[clip, *map_controls, self.frame_slider],
            outputs=[self.preview, self.stats, self.downloads, clip],
            api_name="reconstruct",
            concurrency_id="model",
            show_progress_on=self.preview,
        )
        analyzed.success(
            self.offer_bundle,
            inputs=[self.upload, self.page.bundle],
            outputs=[*self.offer_views, self.offered],
            api_name=False,
            show_progress="hidden",
        )
        # the offer taken: the bundle picker picks the bundle offered (BUNDLE_ASKED), and once that pick has cleared
        # the page (CLEARED, below), the example is analyzed again with it
        asked = self.offer_button.click(
            lambda name: {self.page.bundle: name, self.switching: True},
            inputs=self.offered,
            outputs=[self.page.bundle, self.switching],
            api_name=False,
            show_progress="hidden",
        )
        events.publish(Moment.BUNDLE_ASKED, asked)
        events.publish(Moment.STARTED, started)
        events.publish(Moment.ANALYZED, analyzed)
        events.publish(Moment.PREVIEWED, previewed)
        events.follow(
            Moment.CLEARED,
            lambda e: e.then(self.clear, outputs=[*self.shown, *self.offer_views], api_name=False).then(
                None, inputs=self.switching, js=ANALYZE_IF_SWITCHING, api_name=False
            ),
        )
        events.follow(  # what stands beside frame t, named for the picked bundle
            Moment.CLEARED,
            lambda e: e.then(
                lambda name: gr.update(label=_beside_label(self.page.shelf.get(name))),
                inputs=self.page.bundle,
                outputs=self.reconstruction_image,
                api_name=False,
            ),
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

    @property
    def offer_views(self) -> list:
        """The offer to analyze an example with the bundle that ships it: shown after an analysis, gone with it."""
        return [self.offer, self.offer_text, self.offer_button]

    def offer_bundle(self, path, bundle: str) -> Updates:
        """After an analysis of an example that the picked bundle does not ship but another does: offer that one."""
        shelf = self.page.shelf
        shipping = bundles_shipping(shelf.models, path) if path else []
        if not shipping or bundle in shipping:
            return {
                self.offer: gr.Row(visible=False),
                self.offer_text: "",
                self.offer_button: gr.skip(),
                self.offered: None,
            }
        offered = shipping[0]

        def trained_on(name: str) -> str:
            return shelf.get(name).manifest.trained_on.get("source") or "its own clips"

        return {
            self.offer: gr.Row(visible=True),
            self.offer_text: (
                f"**{Path(path).name}** is an example of the **{offered}** bundle (trained on "
                f"{trained_on(offered)}), and was analyzed with **{bundle}** (trained on {trained_on(bundle)}), the "
                "bundle picked on the Model tab."
            ),
            self.offer_button: gr.Button(f"Analyze it with {offered}"),
            self.offered: offered,
        }

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
        crop_text,
        refusals: Refusals | None,
        progress=gr.Progress(),
    ) -> Updates:
        try:
            if not path:
                raise ClipError("upload a clip or pick an example first")
            crop = parse_box(crop_text)
            report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
            analysis = _analyze(self.page.shelf.get(bundle), path, stride_value, cap_value, report, crop)
        except (ClipError, BundleError, ScreenError) as err:
            # a box that does not fit the frame is the box's fault, not the file's: the file stays in the box
            box_at_fault = isinstance(err, ScreenError) or isinstance(err.__cause__, ScreenError)
            if refusals is not None:  # the page's (an API call has nothing to show it on)
                refusals.leave(Refusal(str(err), file_at_fault=not box_at_fault))
            # Gradio 6 titles every error toast "Error": what failed opens the message instead
            raise refusal(f"Clip not analyzed: {err}", duration=30) from None
        discard_clip(previous)  # through the API, the new analysis replaces the old one here
        progress(0.8, desc=f"projecting ({method_label})")
        state = ClipState.open(self.page.shelf, bundle, path, analysis)
        return {
            self.preview: None,
            self.stats: stats_markdown(
                analysis, bundle, drawn=state.model.has_decoder, code=kind_words(state.model).code
            ),
            **_vouching_views(self, analysis),
            self.trajectory: _figure(state, method_label, dims_label, color, 0),
            self.frame_slider: gr.Slider(0, len(analysis.frames) - 1, value=0, step=1, label="Frame", visible=True),
            **self._frame_views(state, 0),
            self.downloads: None,
            self.page.clip: state,
        }

    def forget(self, previous: ClipState | None) -> Updates:
        """A new analysis begins: the previous clip's results and files go."""
        discard_clip(previous)
        return {
            **self.clear(),
            self.stats: "Reading the clip…",
            self.page.clip: None,
            self.refusals: Refusals(),
            self.switching: False,
        }

    def refused(self, path, refusals: Refusals | None) -> Updates:
        """The clip was refused: the page says why, and the box no longer offers a file it could not read."""
        refusal = Refusals.read(refusals, Refusal(f"'{Path(path or '').name}' could not be read"))
        return {
            self.upload: None if refusal.file_at_fault else gr.skip(),
            self.stats: f"⚠ **Not analyzed:** {refusal.reason}.\n\n{FIRST_STEP}",
            self.trajectory: None,
        }  # the map's error badge goes: the reason is told in words

    def reconstruct_preview(
        self, state: ClipState | None, method_label, dims_label, color, t, progress=gr.Progress()
    ) -> Updates:
        """After an analysis: decode the frames the preview shows, write it and the downloads."""
        if state is None:
            raise refusal("Analyze a clip first.")
        analysis = state.analysis
        shown = preview_indices(len(analysis.frames))
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        state.reconstruction = reconstruct(state.model, analysis, shown, progress=report)
        progress(0.8, desc="writing the preview and downloads")
        fps = (analysis.clip.fps / analysis.clip.stride) * len(shown) / len(analysis.frames)
        beside = "its reconstruction" if state.model.has_decoder else "nearest real frame"
        video = write_mp4(
            (
                side_by_side(
                    [
                        captioned(enlarged(analysis.frames[t : t + 1], VIDEO_HEIGHT), [f"the clip, frame {t}"])[0],
                        captioned(enlarged(state.reconstruction.frames[i : i + 1], VIDEO_HEIGHT), [beside])[0],
                    ],
                    gap=4,
                )
                for i, t in enumerate(shown)
            ),
            state.out_dir / "clip_vs_reconstruction.mp4",
            fps=min(fps, 60.0) or 15.0,
            preset="ultrafast",  # a preview: written in a second even for a long clip
        )
        return unless_discarded(
            state,
            {
                self.preview: str(video),
                self.stats: stats_markdown(
                    analysis,
                    state.bundle,
                    state.reconstruction,
                    drawn=state.model.has_decoder,
                    code=kind_words(state.model).code,
                ),
                self.downloads: _downloads(state, _figure(state, method_label, dims_label, color, t)),
                self.page.clip: state,
            },
        )

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
            raise refusal("Analyze a clip first, then overlay a second one on its map.")
        if not path:
            raise refusal("Upload the second clip first.")
        report = lambda fraction, stage: progress(fraction * 0.8, desc=stage)  # noqa: E731
        try:
            state.set_overlay(Path(path).name, _analyze(state.model, path, stride_value, cap_value, report))
        except (ClipError, BundleError) as err:
            raise refusal(f"Second clip not overlaid: {err}", duration=30) from None
        figure = _figure(state, method_label, dims_label, color, t)
        return {self.trajectory: figure, self.downloads: _downloads(state, figure), self.page.clip: state}

    def clear(self) -> Updates:
        """Another bundle was picked: an analysis made with the previous one no longer applies."""
        return {
            self.offer: gr.Row(visible=False),
            self.offer_text: "",
            self.offer_button: gr.skip(),
            self.preview: None,
            self.stats: FIRST_STEP,
            self.banner: "",
            self.screen: None,
            self.trajectory: None,
            self.frame_slider: gr.Slider(0, MAX_FRAME_CAP - 1, value=0, visible=False),
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


def _beside_label(model: WorldModel) -> str:
    """What stands beside the clip's frame t: its reconstruction, or for a model that draws none the nearest real
    frame."""
    return "Reconstruction" if model.has_decoder else "Nearest real frame (no decoder)"


def _analyze(model: WorldModel, path: str, stride_value, cap_value, report, crop=AUTO) -> ClipAnalysis:
    return analyze_clip(
        model,
        path,
        stride=max(1, int(stride_value)) if stride_value else None,  # 0 or empty: the model's rate
        max_frames=max(2, int(cap_value or DEFAULT_MAX_FRAMES)),
        crop=crop,
        progress=report,
    )


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
