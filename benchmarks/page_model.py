"""The page's model outside the studio: play.js, onnxruntime-web and a bundle's graphs served by a plain HTTP server
to headless Chromium, to compare its steps with onnxruntime's on the server (tests/e2e/test_page_model.py, and
benchmarks/play_in_browser.py for their time)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np

from studio.play import ImaginedGame
from studio.runtime import WorldModel, to_uint8_frames
from studio.ui.page_play import FILE_ROUTE, STATIC_DIR, PageFiles, page_start

# Runs in the page: the bundle's model as play.js opens it, stepped from each of the server's contexts (one step
# each, so the graphs are compared on the same input) and then free-running from the first under `codes`.
# Returns the latents [S, N*D] and frames [S, H*W*4] RGBA of both, and the page's step time of each step in ms.
PAGE_STEPS_JS = """
async ({src, start, contexts, codes}) => {
  const play = await import(src);
  const model = await play.openModel(start);
  const pixels = (frame) => Array.from(play.toPixels(frame, model.height, model.width));
  const forced = {latents: [], frames: []};
  for (let s = 0; s < codes.length; s++) {
    const latents = await play.nextLatents(model, new Float32Array(contexts[s]), codes[s]);
    forced.latents.push(Array.from(latents));
    forced.frames.push(pixels(await play.decode(model, latents)));
  }
  const free = {latents: [], frames: [], ms: []};
  const size = model.tokens * model.dim;
  let context = new Float32Array(contexts[0]);
  for (const code of codes) {
    const began = performance.now();
    const latents = await play.nextLatents(model, context, code);
    const frame = await play.decode(model, latents);
    free.ms.push(performance.now() - began);
    const next = new Float32Array(context.length);
    next.set(context.subarray(size));
    next.set(latents, context.length - size);
    context = next;
    free.latents.push(Array.from(latents));
    free.frames.push(pixels(frame));
  }
  return {forced, free};
}
"""


# Runs in the page: the page's familiarity verdict on each of `latents` [S][N*D] (arrays) under its own `limits` [S],
# the references tried from `first` [S] on -> the reference latent found within each limit (-1: none), and the
# milliseconds all the calls took.
PAGE_WITHIN_JS = """
async ({src, start, latents, limits, first}) => {
  const play = await import(src);
  window.pageModel = window.pageModel || await play.openModel(start);
  const reference = window.pageModel.reference;
  const queries = latents.map((l) => new Float32Array(l));
  const began = performance.now();
  const found = queries.map((q, s) => play.referenceWithin(q, {...reference, limit: limits[s]}, first[s]));
  return {found, ms: performance.now() - began};
}
"""


# Runs in the page: `repeats` steps (predictor + decoder) from one context -> each one's milliseconds.
PAGE_STEP_TIMES_JS = """
async ({src, start, context, code, repeats}) => {
  const play = await import(src);
  window.pageModel = window.pageModel || await play.openModel(start);
  const before = new Float32Array(context);
  const ms = [];
  for (let i = 0; i < repeats; i++) {
    const began = performance.now();
    await play.decode(window.pageModel, await play.nextLatents(window.pageModel, before, code));
    ms.push(performance.now() - began);
  }
  return ms;
}
"""


class PageFilesServer:
    """A local HTTP server whose root holds the page's static files, the bundles' folders and the reference
    latents PageFiles writes, each under a link of its own, plus a blank page to run play.js in."""

    def __init__(self, root: Path, models: list[WorldModel]):
        self.files = PageFiles()
        root.mkdir(parents=True, exist_ok=True)
        (root / "index.html").write_text("<!doctype html><title>page model</title>")
        (root / "static").symlink_to(STATIC_DIR)
        (root / "references").symlink_to(self.files.folder)
        self.links = {self.files.folder: "references", STATIC_DIR: "static"}
        for model in models:
            (root / model.manifest.name).symlink_to(model.bundle.root)
            self.links[model.bundle.root] = model.manifest.name
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def script(self) -> str:
        return f"{self.url}static/play.js"

    def start(self, model: WorldModel, game: ImaginedGame) -> dict:
        """`page_start` with its file URLs pointing into this server."""
        start = page_start(self.files, model, game, "a test")
        for file in [*start["graphs"].values(), *([start["reference"]] if start["reference"] else [])]:
            path = Path(file["url"].removeprefix(FILE_ROUTE))
            folder = next(folder for folder in self.links if path.is_relative_to(folder))
            file["url"] = f"{self.links[folder]}/{path.relative_to(folder)}"
        return start

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args) -> None:
        pass


def server_steps(
    model: WorldModel, game: ImaginedGame, codes: list[int]
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The server's side of PAGE_STEPS_JS: the contexts [C, N, D] before each step of `game` under `codes`, and
    the latents [S, N, D] and frames [S, H, W, 3] uint8 it stepped to."""
    contexts, latents = [], []
    for code in codes:
        contexts.append(game.contexts[-1])
        game.step(model, code)
        latents.append(game.contexts[-1][-1])
    latents = np.stack(latents)
    return contexts, latents, to_uint8_frames(model.decode(latents))
