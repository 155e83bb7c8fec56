"""The studio page: tabs in the order of the design, served by Gradio."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from studio.memory import map_large_buffers
from studio.plots import load_plotly
from studio.ui import gradio_cache
from studio.ui.actions_tab import build_actions_tab
from studio.ui.clip_tab import VIDEO_CSS, build_clip_tab
from studio.ui.model_tab import build_model_tab, load_errors_markdown
from studio.ui.play_tab import KEYBOARD_SCRIPT, SCREEN_CSS, build_play_tab
from studio.ui.predict_tab import build_predict_tab
from studio.ui.probe_tab import build_probe_tab
from studio.ui.state import BundleShelf, discard_clip

TITLE = "World-model studio"
MAX_UPLOAD_MB = int(os.environ.get("STUDIO_MAX_UPLOAD_MB", "500"))  # larger uploads are refused before they land
CACHE_DIR = Path(os.environ.get("STUDIO_CACHE_DIR", Path.home() / ".cache" / "world-model-studio"))
NO_BUNDLE_HELP = """
## No world model to open yet

The studio opens the bundles in `{folder}/`, and there is none that loads. Train and export one:

```
make train            # or: studio train configs/breakout.json
studio export runs/breakout/checkpoint.pt exported/breakout
```

then restart the studio.
"""


def build_studio(shelf: BundleShelf) -> gr.Blocks:
    gradio_cache.install()
    # Gradio's copies of served files are deleted an hour after they were made
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as studio:
        gr.Markdown(f"# {TITLE}\nLook inside a world model learnt from gameplay video.")
        if not shelf.names:
            gr.Markdown(NO_BUNDLE_HELP.format(folder=shelf.exported_dir.name))
            gr.Markdown(load_errors_markdown(shelf))
            return studio
        bundle_name = gr.State(shelf.default_name)
        clip = gr.State(None, delete_callback=discard_clip)  # its files go when the tab closes
        with gr.Tabs():
            with gr.Tab("Clip", id="clip"):
                clip_tab = build_clip_tab(shelf, bundle_name, clip)
            with gr.Tab("Actions", id="actions"):
                refresh_actions, actions_outputs = build_actions_tab(shelf, clip)
            with gr.Tab("Predict", id="predict"):
                reset_predict, predict_outputs = build_predict_tab(shelf, clip)
            with gr.Tab("Play", id="play"):
                clear_play, play_outputs = build_play_tab(shelf, bundle_name, clip)
            with gr.Tab("Probe", id="probe"):
                refresh_probe, probe_outputs = build_probe_tab(clip)
            with gr.Tab("Model", id="model"):
                picked = build_model_tab(shelf, bundle_name)
        # the Actions overview costs work: it follows the preview; the cheap resets follow Analyze at once
        clip_tab.previewed.then(refresh_actions, inputs=clip, outputs=actions_outputs, api_name="actions")
        for refresh, outputs in ((reset_predict, predict_outputs), (refresh_probe, probe_outputs)):
            clip_tab.analyzed.success(refresh, inputs=clip, outputs=outputs, api_name=False)
        # switching bundles clears every tab's results, which belonged to the previous model
        cleared = picked.then(clip_tab.clear, inputs=clip, outputs=clip_tab.cleared, api_name=False)
        cleared.then(refresh_actions, inputs=clip, outputs=actions_outputs, api_name=False)
        cleared.then(clear_play, outputs=play_outputs, api_name=False)
        for refresh, outputs in ((reset_predict, predict_outputs), (refresh_probe, probe_outputs)):
            cleared.then(refresh, inputs=clip, outputs=outputs, api_name=False)
    return studio


def launch_studio(exported_dir: str | Path, device: str = "auto", **launch_options) -> None:
    """Load the bundles and serve; host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # numba (under UMAP) compiles on first use: cache the machine code, and use the threading layer
    # under which scikit-learn's PCA keeps its speed after a UMAP fit
    os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE_DIR / "numba"))
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    map_large_buffers()  # a long clip's buffers go back to the system as soon as they are freed
    shelf = BundleShelf(Path(exported_dir), device=device, cache_dir=CACHE_DIR / "maps").load_all()
    studio = build_studio(shelf)
    load_plotly()  # before the page is served, where it costs nothing measurable; after, it slowed a first analyze
    studio.queue(default_concurrency_limit=2, max_size=32)
    studio.launch(theme=gr.themes.Soft(), css=SCREEN_CSS + VIDEO_CSS, head=KEYBOARD_SCRIPT,
                  max_file_size=f"{MAX_UPLOAD_MB}mb", prevent_thread_lock=True, **launch_options)
    shelf.warm_up_in_background()  # once the page is served: warming up before would hold the GIL against it
    studio.block_thread()
