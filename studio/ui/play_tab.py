"""Play tab: the world model as a game, one button (and one key) per action code."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio.action_codes import agreement, code_meanings
from studio.analysis import MAX_FRAME_CAP, analyze_clip
from studio.examples import example_clips, example_labels
from studio.labels import Labels, LabelsError
from studio.play import PlaySession
from studio.runtime import WorldModel
from studio.ui.clip_tab import ClipSession
from studio.ui.state import BundleShelf

SCREEN_HEIGHT = 384  # pixels: the decoded frame is shown large
SCREEN_CSS = "#play-screen img { image-rendering: pixelated; width: 100%; height: 100%; object-fit: contain; }"
KEYS = 9  # keys 1..9 press codes 0..8
# Run mode's timer: a tick while a step is still on its way is dropped by the page, so a short interval only
# shortens the wait between one step's answer and the next press (16 -> 17.5 steps/s from 0.02 s to 0.005 s,
# headless Chromium on the same 2 cores)
RUN_INTERVAL_S = 0.005
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
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
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


def build_play_tab(shelf: BundleShelf, bundle_name: gr.State, session: gr.State):
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
            run = gr.Checkbox(False, label="Run: keep pressing the last code, as fast as the machine goes",
                              elem_id="play-run")
            status = gr.Markdown(elem_id="play-status")
        with gr.Column(scale=2):
            screen = gr.Image(label="The world model's frame", height=SCREEN_HEIGHT, format="png", elem_id="play-screen")

    def start_clip(state: ClipSession | None, name: str) -> StartClip:
        if state is not None and state.bundle == name:
            return StartClip(state.name, state.analysis.latents, _meanings(shelf.get(name), state.analysis, state.labels))
        if name not in examples:
            examples[name] = _example_start(shelf.get(name))
        if examples[name] is None:
            raise gr.Error("Analyze a clip on the Clip tab first: this bundle ships no example to start from.")
        return examples[name]

    def begin(state: ClipSession | None, name: str, t):
        model = shelf.get(name)
        clip = start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        played = PlaySession.start(model, clip.latents, t)
        buttons = [
            gr.Button(_button_label(k, clip.meanings), visible=k < model.codebook_size) for k in range(buttons_needed)
        ]
        status_text = f"Started from frame **{t}** of **{clip.name}**. Press a code."
        return (played, _screen(played), status_text, gr.Slider(0, len(clip.latents) - 1, value=t, step=1), *buttons)

    start.click(
        begin, inputs=[session, bundle_name, start_frame],
        outputs=[game, screen, status, start_frame, *code_buttons], api_name="play_start",
    )
    reset.click(
        begin, inputs=[session, bundle_name, start_frame],
        outputs=[game, screen, status, start_frame, *code_buttons], api_name=False,
    )

    def step(played: PlaySession | None, name: str, code):
        if played is None:
            raise gr.Error("Press Start first.")
        model = shelf.get(name)
        try:
            played.step(model, int(code))
        except (ValueError, TypeError):
            raise gr.Error(f"this model has action codes 0 to {model.codebook_size - 1}") from None
        return played, _screen(played), _status(played)

    for k, button in enumerate(code_buttons):
        button.click(
            lambda played, name, k=k: step(played, name, k), inputs=[game, bundle_name], outputs=[game, screen, status],
            api_name=False, show_progress="hidden", trigger_mode="always_last", **ONE_STEP_AT_A_TIME,
        )
    # one endpoint for scripts: /step takes the code as a number
    code_box = gr.Number(0, precision=0, visible=False)
    step_button = gr.Button(visible=False)
    step_button.click(step, inputs=[game, bundle_name, code_box], outputs=[game, screen, status], api_name="step",
                      show_progress="hidden", **ONE_STEP_AT_A_TIME)

    # Run mode: a timer presses the last code again; a tick that finds the previous one still running is
    # dropped, so the game advances at the fastest rate the machine sustains, up to 1 / RUN_INTERVAL_S.
    timer = gr.Timer(RUN_INTERVAL_S, active=False)
    run.change(lambda on: gr.Timer(active=bool(on)), inputs=run, outputs=timer, api_name=False)

    def keep_running(played: PlaySession | None, name: str):
        if played is None:
            return played, gr.skip(), "Press Start first, then Run."
        return step(played, name, played.codes[-1] if played.codes else 0)

    timer.tick(keep_running, inputs=[game, bundle_name], outputs=[game, screen, status], api_name=False,
               show_progress="hidden", trigger_mode="once", **ONE_STEP_AT_A_TIME)

    def take_back(played: PlaySession | None):
        if played is None:
            return None, None, "Press Start first."
        played.undo()
        return played, _screen(played), _status(played)

    undo.click(take_back, inputs=game, outputs=[game, screen, status], api_name="undo", show_progress="hidden",
               **ONE_STEP_AT_A_TIME)

    def clear():
        return None, None, ""

    return clear, [game, screen, status]


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


def _screen(played: PlaySession) -> np.ndarray:
    """The frame at model size: the page scales it up (SCREEN_CSS), which keeps every step's payload tiny."""
    return played.frame


def _status(played: PlaySession) -> str:
    latency = played.latency_summary()
    timing = f" · step latency **{latency[0]:.1f} ms** (model, median) → up to {latency[1]:.0f} frames/s" if latency else ""
    rate = played.steps_per_second()
    pace = f" · playing at **{rate:.1f} steps/s** (round trip)" if rate else ""
    recent = " ".join(str(c) for c in played.codes[-12:])
    return f"**{played.steps} steps played** · last codes: {recent or '—'}{timing}{pace}"
