"""Play tab: the world model as a game, one button (and one key) per action code."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from studio.action_codes import agreement, code_meanings
from studio.analysis import MAX_FRAME_CAP, analyze_clip
from studio.examples import example_clips, example_labels
from studio.labels import Labels, LabelsError
from studio.play import RUN_STEPS_PER_S, PlaySession, run_period_s
from studio.runtime import WorldModel
from studio.ui.state import BundleShelf, ClipState

SCREEN_HEIGHT = 384  # pixels: the decoded frame is shown large
SCREEN_CSS = (f"#play-screen img {{ image-rendering: pixelated; height: {SCREEN_HEIGHT}px; max-width: 100%; "
              "object-fit: contain; display: block; margin: 0 auto; }")
KEYS = 9  # keys 1..9 press codes 0..8
# Run mode steps the game on the server and streams each frame to the page as it is made: no request per step,
# so the pace does not depend on the player's network round trip (`studio.play.run_period_s` sets the pace).
ACTION_COLUMN = "action_name"
# Steps run one at a time, in the order pressed, so that a player's presses never race on their game;
# a step takes a few milliseconds, so one queue serves many players.
ONE_STEP_AT_A_TIME = dict(concurrency_id="play", concurrency_limit=1)
# Keys 1..9 press the code buttons and Backspace undoes, while the Play tab is showing and no text field has focus.
KEYBOARD_SCRIPT = """
<script>
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.repeat && event.key === "Backspace") return;
  const typing = target && (target.tagName === "TEXTAREA" || target.isContentEditable ||
    (target.tagName === "INPUT" && !["checkbox", "radio", "range", "button"].includes(target.type)));
  if (typing) return;  // digits typed into a field are text; with the Run box (a checkbox) focused they still play
  const pad = document.getElementById("play-pad");
  if (!pad || pad.offsetParent === null) return;
  let id = null;
  if (/^[1-9]$/.test(event.key)) id = "play-code-" + (Number(event.key) - 1);
  else if (event.key === "Backspace") id = "play-undo";
  const button = id && document.getElementById(id);
  if (button && button.offsetParent !== null) { button.click(); event.preventDefault(); }
});
</script>
"""


@dataclass(frozen=True)
class StartClip:
    """Where a game starts: a clip's latents, and what each code most often meant there (when labelled)."""

    name: str
    latents: np.ndarray  # [T, N, D]
    meanings: dict[int, tuple[str, float]]


def build_play_tab(shelf: BundleShelf, bundle_name: gr.State, clip: gr.State):
    buttons_needed = max(shelf.get(name).codebook_size for name in shelf.names)
    examples: dict[str, StartClip | None] = {}  # bundle -> its first example clip, analyzed once

    gr.Markdown("Play the world model: pick a start frame, then press an action code (buttons, or keys **1–9**; "
                "**Backspace** undoes). Every press predicts one step and decodes it. Without an analyzed clip, "
                "the game starts from the bundle's first example clip.")
    game = gr.State(None)
    with gr.Row(elem_id="play-pad"):
        with gr.Column(scale=1, min_width=300):
            start_frame = gr.Slider(0, MAX_FRAME_CAP - 1, value=0, step=1, label="Start frame", elem_id="play-start-frame")
            start = gr.Button("Start", variant="primary", elem_id="play-start")
            with gr.Row():
                undo = gr.Button("Undo", elem_id="play-undo")
                reset = gr.Button("Reset", elem_id="play-reset")
            code_buttons = [
                gr.Button(f"{k + 1} · code {k}", elem_id=f"play-code-{k}", visible=False)
                for k in range(buttons_needed)
            ]
            run = gr.Checkbox(False, label="Run: keep pressing the last code, as fast as the machine goes "
                              f"(up to {RUN_STEPS_PER_S} steps/s, shared by all players running at once)",
                              elem_id="play-run")
            status = gr.Markdown(elem_id="play-status")
        with gr.Column(scale=2):
            # the frame travels inside the page's update (a data URL), not as a file the page fetches after it:
            # a stream of frames would otherwise wait one network round trip per frame, and a far player see none
            screen = gr.HTML(label="The world model's frame", show_label=True, container=True, js_on_load=None,
                             min_height=SCREEN_HEIGHT, elem_id="play-screen")
            frame_file = gr.Image(visible=False, format="png")  # what scripts get from /step and /undo: a PNG file

    def start_clip(state: ClipState | None, name: str) -> StartClip:
        if state is not None and state.bundle == name:
            return StartClip(state.name, state.analysis.latents, _meanings(shelf.get(name), state.analysis, state.labels))
        if name not in examples:
            examples[name] = _example_start(shelf.get(name))
        if examples[name] is None:
            raise gr.Error("Analyze a clip on the Clip tab first: this bundle ships no example to start from.")
        return examples[name]

    running: dict[str, object] = {}  # browser session -> the token of its Run-mode loop; popping it stops the loop

    def begin(state: ClipState | None, name: str, t, request: gr.Request):
        running.pop(request.session_hash, None)
        model = shelf.get(name)
        clip = start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        played = PlaySession.start(model, clip.latents, t)
        buttons = [
            gr.Button(_button_label(k, clip.meanings), visible=k < model.codebook_size) for k in range(buttons_needed)
        ]
        status_text = f"Started from frame **{t}** of **{clip.name}**. Press a code."
        slider = gr.Slider(0, len(clip.latents) - 1, value=t, step=1)
        return played, _screen(played), status_text, False, slider, *buttons

    start.click(
        begin, inputs=[clip, bundle_name, start_frame],
        outputs=[game, screen, status, run, start_frame, *code_buttons], api_name="play_start",
    )
    reset.click(
        begin, inputs=[clip, bundle_name, start_frame],
        outputs=[game, screen, status, run, start_frame, *code_buttons], api_name=False,
    )

    def press(played: PlaySession | None, name: str, code) -> PlaySession:
        if played is None:
            raise gr.Error("Press Start first.")
        model = shelf.get(name)
        try:
            played.step(model, int(code))
        except (ValueError, TypeError):
            raise gr.Error(f"this model has action codes 0 to {model.codebook_size - 1}") from None
        return played

    for k, button in enumerate(code_buttons):
        button.click(
            lambda played, name, k=k: _shown(press(played, name, k)), inputs=[game, bundle_name],
            outputs=[game, screen, status], api_name=False, show_progress="hidden", trigger_mode="always_last",
            **ONE_STEP_AT_A_TIME,
        )
    # endpoints for scripts: /step takes the code as a number; /step and /undo return the frame as a PNG file
    code_box = gr.Number(0, precision=0, visible=False)
    step_button = gr.Button(visible=False)
    step_button.click(lambda played, name, code: _as_file(press(played, name, code)), inputs=[game, bundle_name, code_box],
                      outputs=[game, frame_file, status], api_name="step", show_progress="hidden", **ONE_STEP_AT_A_TIME)

    # Run mode: a loop on the server presses the last code again and again, streaming every frame, until the box is
    # unticked, a new game starts or the bundle changes. The code buttons and keys still work while it runs (they
    # change the code it presses); the game's own lock keeps the two from stepping at once.
    def run_game(on: bool, played: PlaySession | None, name: str, request: gr.Request):
        key = request.session_hash
        running.pop(key, None)  # a loop already running stops at its next step
        if not on:
            yield gr.skip(), gr.skip()
            return
        if played is None:
            yield gr.skip(), "Press Start first, then Run."
            return
        token = running[key] = object()
        model = shelf.get(name)
        try:
            while running.get(key) is token:
                began = time.perf_counter()
                played.repeat(model)
                if running.get(key) is not token:
                    break  # stopped during the step: its frame must not cover a new game's
                yield _view(played)
                time.sleep(max(0.0, run_period_s(len(running)) - (time.perf_counter() - began)))
        finally:
            if running.get(key) is token:
                del running[key]

    # not one step at a time with the other players: the loop lasts as long as the box stays ticked. Scripts
    # start it with /run true and stop it with /run false (same session)
    run.change(run_game, inputs=[run, game, bundle_name], outputs=[screen, status], api_name="run",
               show_progress="hidden", trigger_mode="multiple", concurrency_limit=None)

    def take_back(played: PlaySession | None) -> PlaySession:
        if played is None:
            raise gr.Error("Press Start first.")
        played.undo()
        return played

    undo.click(lambda played: _shown(take_back(played)), inputs=game, outputs=[game, screen, status], api_name=False,
               show_progress="hidden", **ONE_STEP_AT_A_TIME)
    undo_button = gr.Button(visible=False)
    undo_button.click(lambda played: _as_file(take_back(played)), inputs=game, outputs=[game, frame_file, status],
                      api_name="undo", show_progress="hidden", **ONE_STEP_AT_A_TIME)

    def clear(request: gr.Request):
        running.pop(request.session_hash, None)
        return None, None, "", False

    return clear, [game, screen, status, run]


def _meanings(model: WorldModel, analysis, labels: Labels | None) -> dict[int, tuple[str, float]]:
    if labels is None or ACTION_COLUMN not in labels.columns:
        return {}
    try:
        truth = labels.at(ACTION_COLUMN, np.asarray(analysis.clip.indices)[:-1])
    except LabelsError:
        return {}
    return code_meanings(agreement(analysis.actions.codes, truth, model.codebook_size))


def _example_start(model: WorldModel) -> StartClip | None:
    clips = example_clips(model)
    if not clips:
        return None
    analysis = analyze_clip(model, clips[0])
    return StartClip(clips[0].name, analysis.latents, _meanings(model, analysis, example_labels(model, clips[0].name)))


def _button_label(code: int, meanings: dict[int, tuple[str, float]]) -> str:
    key = f"{code + 1} · " if code < KEYS else ""
    if code in meanings:
        action, share = meanings[code]
        return f"{key}code {code} ≈ {action} ({100 * share:.0f}%)"
    return f"{key}code {code}"


def _screen(played: PlaySession) -> str:
    """The frame at model size as an inline PNG: the page scales it up (SCREEN_CSS), so each step's payload stays
    a few kB (64x64 Breakout: ~2-5 kB of base64)."""
    buffer = io.BytesIO()
    Image.fromarray(played.frame).save(buffer, format="PNG", compress_level=1)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="the world model\'s frame after step {played.steps}">'


def _view(played: PlaySession) -> tuple[str, str]:
    """What the page shows of a game: its frame and its status."""
    return _screen(played), _status(played)


def _shown(played: PlaySession) -> tuple[PlaySession, str, str]:
    """The game, as the page's step and undo hand it back, and what the page shows of it."""
    return played, *_view(played)


def _as_file(played: PlaySession) -> tuple[PlaySession, np.ndarray, str]:
    """What a script gets: the frame [H, W, 3] uint8, which Gradio hands over as a PNG file."""
    return played, played.frame, _status(played)


def _status(played: PlaySession) -> str:
    latency = played.latency_summary()
    timing = f" · step latency **{latency[0]:.1f} ms** (model, median) → up to {latency[1]:.0f} frames/s" if latency else ""
    rate = played.steps_per_second()
    pace = f" · playing at **{rate:.1f} steps/s**" if rate else ""
    recent = " ".join(str(c) for c in played.codes[-12:])
    return f"**{played.steps} steps played** · last codes: {recent or '—'}{timing}{pace}"
