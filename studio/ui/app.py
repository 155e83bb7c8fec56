"""The studio page: tabs in the order of the design, served by Gradio."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from studio.memory import map_large_buffers
from studio.model_kind import kind_markdown
from studio.plots import load_plotly
from studio.ui import gradio_cache
from studio.ui.actions_tab import ActionsTab
from studio.ui.clip_tab import ClipTab
from studio.ui.compare_tab import CompareTab
from studio.ui.isolation import CrossOriginIsolation
from studio.ui.model_tab import ModelTab, load_errors_markdown
from studio.ui.picture_html import LABEL_ROOM
from studio.ui.play_tab import PlayTab
from studio.ui.predict_tab import PredictTab
from studio.ui.probe_tab import ProbeTab
from studio.ui.state import BundleShelf, discard_clip
from studio.ui.tab import Moment, Page, PageEvents, Tab

TABS: list[type[Tab]] = [ClipTab, ActionsTab, PredictTab, PlayTab, ProbeTab, CompareTab, ModelTab]  # page order
TITLE = "World-model studio"
# a figure drawn while its tab was hidden took Plotly's default 700 px: once a tab is shown, the window's resize
# event makes Plotly fit every figure in it to its box again
FIT_FIGURES = "() => requestAnimationFrame(() => requestAnimationFrame(() => dispatchEvent(new Event('resize'))))"
# a plot's toolbar (Plotly's, shown on hover) goes down below the plot's floating label, which covered its first
# buttons where the label is long
PAGE_CSS = f".js-plotly-plot .modebar-container {{ top: {LABEL_ROOM - 4}px !important; }}"
MAX_UPLOAD_MB = int(os.environ.get("STUDIO_MAX_UPLOAD_MB", "500"))  # larger uploads are refused before they land
BUNDLES_VARIABLE = "STUDIO_BUNDLES"  # more folders of bundles for app.py to serve, separated by os.pathsep
CACHE_DIR = Path(os.environ.get("STUDIO_CACHE_DIR", Path.home() / ".cache" / "world-model-studio"))
NO_BUNDLE_HELP = """
## No world model to open yet

The studio opens the bundles in `{folders}`, and there is none that loads. Train and export one:

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
            gr.Markdown(NO_BUNDLE_HELP.format(folders=shelf.folder_names))
            gr.Markdown(load_errors_markdown(shelf))
            return studio
        # the clip's files go when the browser tab closes
        page = Page(shelf, bundle=gr.State(shelf.default_name), clip=gr.State(None, delete_callback=discard_clip))
        events = PageEvents()
        notes = gr.Markdown(kind_markdown(shelf.get(shelf.default_name)), elem_id="model-kind")
        events.follow(  # what kind of model the picked bundle is, above every tab
            Moment.CLEARED,
            lambda picked: picked.then(
                lambda name: kind_markdown(shelf.get(name)), inputs=page.bundle, outputs=notes, api_name=False
            ),
        )
        with gr.Tabs():
            for tab in (tab(page) for tab in TABS):
                with gr.Tab(tab.title, id=tab.id) as opened:
                    tab.build(events)
                tab.opened(opened.select)
                opened.select(None, js=FIT_FIGURES, api_name=False)
        events.connect()
    return studio


# Gradio's queue looks for new events every 1 ms while it has none: 1.12 s of CPU per 20 s of an idle studio on
# this machine, more than a player in the page costs it. Every 10 ms: 0.36 s (benchmarks/RESULTS.md), for at most
# 10 ms more before an event starts.
QUEUE_POLL_S = 0.01


def poll_queue_gently(studio: gr.Blocks) -> None:
    """Let the queue of `studio` (after `.queue()`) wait QUEUE_POLL_S between its looks for new events and for
    progress to send. The attributes are the queue's own; a Gradio without them keeps its defaults."""
    queue = getattr(studio, "_queue", None)
    for attribute in ("sleep_when_free", "progress_update_sleep_when_free"):
        if hasattr(queue, attribute):
            setattr(queue, attribute, max(getattr(queue, attribute), QUEUE_POLL_S))


def launch_studio(bundle_dirs: Sequence[str | Path], device: str = "auto", **launch_options) -> None:
    """Load the bundles of the folders (the first name wins where two hold a bundle of one name) and serve; host
    and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # numba (under UMAP) compiles on first use: cache the machine code, and use the threading layer
    # under which scikit-learn's PCA keeps its speed after a UMAP fit
    os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE_DIR / "numba"))
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    map_large_buffers()  # a long clip's buffers go back to the system as soon as they are freed
    folders = tuple(Path(folder) for folder in bundle_dirs)
    shelf = BundleShelf(folders, device=device, cache_dir=CACHE_DIR / "maps").load_all()
    studio = build_studio(shelf)
    load_plotly()  # before the page is served, where it costs nothing measurable; after, it slowed a first analyze
    studio.queue(default_concurrency_limit=2, max_size=32)
    poll_queue_gently(studio)
    studio.launch(
        theme=gr.themes.Soft(),
        css="\n".join([PAGE_CSS, *(tab.css for tab in TABS)]),
        head="".join(tab.head for tab in TABS),
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        prevent_thread_lock=True,
        app_kwargs={"middleware": [Middleware(CrossOriginIsolation)]},  # threads for the game played in the page
        # Gradio would keep every call's inputs and outputs in the visitor's browser storage, rewriting the whole list
        # at each event: a clip's frames kept where the user did not ask, and in Run mode a tenth of the page's time
        run_history=False,
        **launch_options,
    )
    shelf.warm_up_in_background()  # once the page is served: warming up before would hold the GIL against it
    studio.block_thread()


def bundle_dirs_from_environment() -> list[Path]:
    """The folders STUDIO_BUNDLES names (bundle folders, or folders of bundles), in order."""
    return [Path(part) for part in os.environ.get(BUNDLES_VARIABLE, "").split(os.pathsep) if part.strip()]
