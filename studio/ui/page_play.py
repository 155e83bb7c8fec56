"""Play in the visitor's browser: what the page needs to run a game itself, and a game handed back to the server.

The page (`static/play.js`, with onnxruntime-web from `static/ort/`) fetches the bundle's predictor and decoder
graphs once, keeps them by their sha256, and steps, decodes and draws every frame itself; the server hands it a
start (`page_start`: the context latents, the codebook and any vectors taken from the clip, where the graphs and the
reference latents are) and takes
a game back when the player switches to the server (`game_from_page`). Both go through the Play tab as JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from studio.clip_actions import ClipActions
from studio.play import ImaginedGame
from studio.reference import reference_of
from studio.runtime import WorldModel, to_uint8_frames

STATIC_DIR = Path(__file__).parent / "static"
# the most Run mode goes to in the page: a screen's refresh rate (the server's own Run is held to
# studio.play.RUN_STEPS_PER_S, since its steps are shared by every player it serves)
PAGE_RUN_STEPS_PER_S = 60
FILE_ROUTE = "gradio_api/file="  # Gradio serves an allowed path at this route, relative to the page's root
IN_THE_PAGE, ON_THE_SERVER = "In this browser", "On the server"
WHERE_CHOICES = [IN_THE_PAGE, ON_THE_SERVER]
# the module that plays in the page, loaded with it; it waits for the Play tab's components
PAGE_SCRIPT = f'<script type="module" src="{FILE_ROUTE}{STATIC_DIR / "play.js"}"></script>'
# the page's side of the events that hand a game over (window.studioPlay is play.js's)
HAND_OVER_JS = (
    "(where, handoff, game, bundle, clip) => [where, window.studioPlay?.handOver(where) ?? null, game, bundle, clip]"
)
BEGIN_JS = "(start) => { window.studioPlay?.begin(start); }"
END_JS = "() => { window.studioPlay?.end(); }"
# where the page draws its frames: shown instead of the server's picture while the page plays (play.js gives the
# block the class in-page)
PAGE_SCREEN = """
<div id="play-page-screen">
  <canvas id="play-canvas" width="64" height="64" role="img" aria-label="the world model's frame, drawn here"></canvas>
  <label class="play-pace">Run at <select id="play-pace"></select></label>
</div>
"""
# pixels: the frame is shown large, and whole, with the pace under it, below Play's Run box and status at 1280x720
SCREEN_HEIGHT = 320
PAGE_SCREEN_CSS = (
    "#play-page-block:not(.in-page) { display: none !important; } "
    f"#play-canvas {{ image-rendering: pixelated; height: {SCREEN_HEIGHT}px; max-width: 100%; display: block; "
    "margin: 0 auto; } "
    ".play-pace { display: block; text-align: center; margin-top: 6px; } "
    ".play-pace select { width: auto !important; display: inline-block; }"
)
PAGE_GRAPHS = ("predictor", "decoder")  # what the page runs; a bundle that re-anchors also needs its encoder


def page_graphs(model: WorldModel) -> tuple[str, ...]:
    """The graphs the page runs to play `model`."""
    return (*PAGE_GRAPHS, "encoder") if model.manifest.predictor.reanchor else PAGE_GRAPHS


class HandoverError(ValueError):
    """A game the page handed back that the server cannot carry on."""


@dataclass(frozen=True)
class PageFile:
    """A file the page fetches once and keeps by its hash."""

    path: Path
    sha256: str

    def to_json(self) -> dict:
        return {"url": f"{FILE_ROUTE}{self.path}", "sha256": self.sha256}


class PageFiles:
    """The files of every bundle the page may fetch: its graphs where they lie, and its reference latents as raw
    float16 (the page cannot read `reference.npz`), written once per process into a folder of their own."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="studio-page-"))
        self.lock = threading.Lock()
        self.references: dict[str, PageFile | None] = {}

    def serve(self, models: list[WorldModel]) -> None:
        """Let Gradio serve the page's script, onnxruntime-web, the bundles' graphs and the reference latents."""
        graphs = [
            model.bundle.graph_paths[role] for model in models for role in page_graphs(model) if role in model.sessions
        ]
        gr.set_static_paths([STATIC_DIR, self.folder, *graphs])

    def graph(self, model: WorldModel, role: str) -> PageFile:
        return PageFile(model.bundle.graph_paths[role], model.manifest.graphs[role].sha256)

    def reference(self, model: WorldModel) -> PageFile | None:
        """The bundle's reference latents [M, N, D] as raw little-endian float16, or None for a bundle without."""
        name = model.manifest.name
        with self.lock:
            if name not in self.references:
                reference = reference_of(model)
                if reference is None:
                    self.references[name] = None
                else:
                    data = np.ascontiguousarray(reference.latents, dtype="<f2").tobytes()
                    sha256 = hashlib.sha256(data).hexdigest()
                    path = self.folder / f"{sha256}.f16"
                    path.write_bytes(data)
                    self.references[name] = PageFile(path, sha256)
            return self.references[name]


def page_start(files: PageFiles, model: WorldModel, game: ImaginedGame, description: str) -> dict:
    """What the page needs to carry on `game` itself: its present context, the bundle's codebook (a continuous
    model's display cluster centres) and the vectors taken from the clip, the frame rate, and where the graphs and
    reference latents are."""
    if not model.has_decoder:
        raise HandoverError("this model draws no pixels: the server shows the nearest real frame of each step")
    reference, ref = reference_of(model), files.reference(model)
    native = model.manifest.reference.native if model.manifest.reference else None
    return {
        "bundle": model.manifest.name,
        "description": description,
        "graphs": {role: files.graph(model, role).to_json() for role in page_graphs(model)},
        "context": _tensor(game.contexts[-1]),  # [C, N, D]
        "codebook": _tensor(model.codebook),  # [K, Da]
        "from_clip": None if game.from_clip is None else _clip_vectors(game.from_clip),
        "frame": {"height": model.frame_size[0], "width": model.frame_size[1]},
        # the pace the game was learnt at, and the most Run mode goes to
        "steps_per_second": min(native.transitions_per_second, PAGE_RUN_STEPS_PER_S)
        if native
        else PAGE_RUN_STEPS_PER_S,
        "max_steps_per_second": PAGE_RUN_STEPS_PER_S,
        "reference": None
        if ref is None
        else {**ref.to_json(), "shape": list(reference.latents.shape), "limit": reference.calibration.limit},
        "steps": game.steps,
        "left_familiar_at": game.left_familiar_at,
        "codes": game.codes[-12:],
    }


def game_from_page(model: WorldModel, handover: dict | None, from_clip: ClipActions | None = None) -> ImaginedGame:
    """The game the page was playing, carried on by the server: its present context, its step count and where
    it left familiar ground, with the vectors of the clip it started from. Its earlier steps stay in the page: undo
    on the server reaches back to the switch."""
    if not isinstance(handover, dict) or "context" not in handover:
        raise HandoverError("the page handed back no game")
    latent = model.manifest.latent
    context = _array(handover["context"], (model.context, latent.tokens, latent.dim))  # [C, N, D]
    frame = to_uint8_frames(model.decode(context[-1:]))[0]  # [H, W, 3]
    steps = int(handover.get("steps") or 0)
    left = handover.get("left_familiar_at")
    return ImaginedGame(
        contexts=[context],
        frames=[frame],
        dropped=max(0, steps),
        dropped_unfamiliar_at=None if left is None else int(left),
        from_clip=from_clip,
    )


def _clip_vectors(from_clip: ClipActions) -> dict:
    """The clip's vectors as the page presses them: transition t is press `first_press` + t."""
    return {
        "clip": from_clip.clip,
        "vectors": _tensor(from_clip.vectors),  # [T-1, Da]
        "first_press": from_clip.first_press,
        "representatives": [list(pair) for pair in from_clip.representatives],  # (cluster, transition) per button
    }


def _tensor(array: np.ndarray) -> dict:
    """A float32 array as the page reads it: its shape and its bytes (little-endian) in base64."""
    array = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def _array(tensor: dict, shape: tuple[int, ...]) -> np.ndarray:
    """`_tensor`'s inverse, refusing anything but finite float32 values of `shape`."""
    try:
        data = base64.b64decode(tensor["data"], validate=True)
        array = np.frombuffer(data, dtype="<f4").astype(np.float32)
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise HandoverError("the page's context is not base64 float32") from None
    if array.size != int(np.prod(shape)) or list(tensor.get("shape", [])) != list(shape):
        raise HandoverError(f"the page's context should be {list(shape)}, got {tensor.get('shape')}")
    if not np.isfinite(array).all():
        raise HandoverError("the page's context holds values that are not finite")
    return array.reshape(shape)
