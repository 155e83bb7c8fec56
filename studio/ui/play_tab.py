"""Play tab: the world model as a game, one button (and one key) per action code."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio.action_codes import CodeMeanings, agreement, code_meanings, shipped_code_meanings
from studio.analysis import MAX_FRAME_CAP, analyze_clip
from studio.examples import example_clips, example_labels
from studio.labels import Labels, LabelsError
from studio.play import RUN_FRAMES_PER_S, RUN_STEPS_PER_S, Game, run_period_s
from studio.runtime import WorldModel
from studio.ui.picture_html import png_data_url
from studio.ui.state import ClipState
from studio.ui.tab import ClipEvents, Tab, Updates

SCREEN_HEIGHT = 384  # pixels: the decoded frame is shown large
SCREEN_CSS = (
    f"#play-screen img {{ image-rendering: pixelated; height: {SCREEN_HEIGHT}px; max-width: 100%; "
    "object-fit: contain; display: block; margin: 0 auto; }"
)
KEYS = 9  # keys 1..9 press codes 0..8
RUN_STATUS_PERIOD_S = 0.25  # Run mode refreshes the status line at most this often
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
    """Where a game starts: a clip's latents, and what each code does (what the bundle shipped, else what it most
    often meant on the clip's labels)."""

    name: str
    latents: np.ndarray  # [T, N, D]
    meanings: CodeMeanings | None  # what each code does: the bundle's own figures, else the clip's labels


class PlayTab(Tab):
    title, id, css, head = "Play", "play", SCREEN_CSS, KEYBOARD_SCRIPT

    def build(self) -> None:
        shelf, clip, bundle = self.page.shelf, self.page.clip, self.page.bundle
        self.buttons_needed = max(shelf.get(name).codebook_size for name in shelf.names)
        self.examples: dict[str, StartClip | None] = {}  # bundle -> its first example clip, analyzed once
        self.running: dict[str, object] = {}  # browser session -> the token of its Run-mode loop; popping it stops it
        self.playing: set[str] = set()  # browser sessions with a game started: no start frame preview covers it

        gr.Markdown(
            "Play the world model: pick a start frame, then press an action code (buttons, or keys **1–9**; "
            "**Backspace** undoes). Every press predicts one step and decodes it. Without an analyzed clip, "
            "the game starts from the bundle's first example clip."
        )
        self.game = gr.State(None)
        with gr.Row(elem_id="play-pad"):
            with gr.Column(scale=1, min_width=300):
                # opening the tab gives it the start clip's range; API calls meet this one
                self.start_frame = gr.Slider(
                    0, MAX_FRAME_CAP - 1, value=0, step=1, label="Start frame", elem_id="play-start-frame"
                )
                start = gr.Button("Start", variant="primary", elem_id="play-start")
                with gr.Row():
                    undo = gr.Button("Undo", elem_id="play-undo")
                    reset = gr.Button("Reset", elem_id="play-reset")
                # labelled from the start with what the default bundle ships about its codes
                default = shelf.get(shelf.default_name)
                shipped, names = shipped_code_meanings(default), default.code_names()
                self.code_buttons = []
                for first in range(0, self.buttons_needed, 2):  # two a row: the status stays in view at 720 px
                    with gr.Row():
                        self.code_buttons += [
                            gr.Button(
                                _button_label(k, names, shipped),
                                elem_id=f"play-code-{k}",
                                size="sm",
                                min_width=140,
                                visible=k < shelf.get(shelf.default_name).codebook_size,
                            )
                            for k in range(first, min(first + 2, self.buttons_needed))
                        ]
                self.meanings_note = gr.Markdown(_meanings_note(shipped), elem_id="play-meanings")
                self.run = gr.Checkbox(
                    False,
                    label="Run: keep pressing the last code, as fast as the machine goes "
                    f"(up to {RUN_STEPS_PER_S} steps/s, shared by all players running at once)",
                    elem_id="play-run",
                )
                self.status = gr.Markdown(elem_id="play-status")
            with gr.Column(scale=2):
                # the frame travels inside the page's update (a data URL), not as a file the page fetches after it:
                # a stream of frames would otherwise wait one network round trip per frame, and a far player see none
                self.screen = gr.HTML(
                    label="The world model's frame",
                    show_label=True,
                    container=True,
                    js_on_load=None,
                    min_height=SCREEN_HEIGHT,
                    elem_id="play-screen",
                )
        # what scripts exchange with /step and /undo: the code as a number, the frame as a PNG file
        code_box = gr.Number(0, precision=0, visible=False)
        self.frame_file = gr.Image(visible=False, format="png")

        started = [
            self.game,
            self.screen,
            self.status,
            self.run,
            self.start_frame,
            self.meanings_note,
            *self.code_buttons,
        ]
        # before Start: the frame a game would start from, as the start frame slider moves
        self.start_frame.release(
            self.show_start,
            inputs=[clip, bundle, self.start_frame, self.game],
            outputs=[self.screen, self.status],
            api_name=False,
            show_progress="hidden",
        )
        start.click(self.begin, inputs=[clip, bundle, self.start_frame], outputs=started, api_name="play_start")
        reset.click(self.begin, inputs=[clip, bundle, self.start_frame], outputs=started, api_name=False)
        for k, button in enumerate(self.code_buttons):
            button.click(
                lambda game, name, k=k: self._shown(self.press(game, name, k)),
                inputs=[self.game, bundle],
                outputs=[self.game, self.screen, self.status],
                api_name=False,
                show_progress="hidden",
                trigger_mode="always_last",
                **ONE_STEP_AT_A_TIME,
            )
        undo.click(
            lambda game: self._shown(take_back(game)),
            inputs=self.game,
            outputs=[self.game, self.screen, self.status],
            api_name=False,
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        # endpoints for scripts alone: no trigger on the page
        gr.on(
            [],
            lambda game, name, code: self._as_file(self.press(game, name, code)),
            inputs=[self.game, bundle, code_box],
            outputs=[self.game, self.frame_file, self.status],
            api_name="step",
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        gr.on(
            [],
            lambda game: self._as_file(take_back(game)),
            inputs=self.game,
            outputs=[self.game, self.frame_file, self.status],
            api_name="undo",
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        # not one step at a time with the other players: the loop lasts as long as the box stays ticked. Scripts
        # start it with /run true and stop it with /run false (same session)
        self.run.change(
            self.run_game,
            inputs=[self.run, self.game, bundle],
            outputs=[self.screen, self.status],
            api_name="run",
            show_progress="hidden",
            trigger_mode="multiple",
            concurrency_limit=None,
        )

    def follow(self, events: ClipEvents) -> None:
        for gone in events.gone:
            gone.then(self.clear, outputs=[self.game, self.screen, self.status, self.run], api_name=False)

    def opened(self, select) -> None:
        # opening the tab shows where a game would start, and the start clip's range and code meanings
        select(
            self.show_start_clip,
            inputs=[self.page.clip, self.page.bundle, self.start_frame, self.game],
            outputs=[self.screen, self.status, self.start_frame, self.meanings_note, *self.code_buttons],
            api_name=False,
            show_progress="hidden",
        )

    def show_start_clip(self, state: ClipState | None, name: str, t, game: Game | None, request: gr.Request) -> Updates:
        """Before Start: the start clip's frame `t`, its range on the slider, the buttons' meanings."""
        model, clip = self.page.shelf.get(name), self.start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        preview = self.show_start(state, name, t, game, request)
        if not preview:
            return {}  # a game is on screen: leave it be
        return {
            **preview,
            self.meanings_note: _meanings_note(clip.meanings),
            self.start_frame: gr.Slider(0, len(clip.latents) - 1, value=t, step=1),
            **{
                button: gr.Button(_button_label(k, model.code_names(), clip.meanings), visible=k < model.codebook_size)
                for k, button in enumerate(self.code_buttons)
            },
        }

    def show_start(self, state: ClipState | None, name: str, t, game: Game | None, request: gr.Request) -> Updates:
        if game is not None or request.session_hash in self.playing:
            return {}
        clip = self.start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        frame = Game.start(self.page.shelf.get(name), clip.latents, t).frame  # what a game from t shows first
        if request.session_hash in self.playing:  # Start was pressed meanwhile: its game is on screen
            return {}
        return {
            self.screen: _picture(frame, f"frame {t} of {clip.name}, where a game would start"),
            self.status: f"Frame **{t}** of **{clip.name}**, decoded: press **Start** to play from it.",
        }

    def start_clip(self, state: ClipState | None, name: str) -> StartClip:
        if state is not None and state.bundle == name:
            return StartClip(state.name, state.analysis.latents, _meanings(state.model, state.analysis, state.labels))
        if name not in self.examples:
            self.examples[name] = _example_start(self.page.shelf.get(name))
        if self.examples[name] is None:
            raise gr.Error("Analyze a clip on the Clip tab first: this bundle ships no example to start from.")
        return self.examples[name]

    def begin(self, state: ClipState | None, name: str, t, request: gr.Request) -> Updates:
        self.running.pop(request.session_hash, None)
        self.playing.add(request.session_hash)
        model = self.page.shelf.get(name)
        clip = self.start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        game = Game.start(model, clip.latents, t)
        buttons = {
            button: gr.Button(_button_label(k, model.code_names(), clip.meanings), visible=k < model.codebook_size)
            for k, button in enumerate(self.code_buttons)
        }
        return {
            self.game: game,
            self.screen: _screen(game),
            self.status: f"Started from frame **{t}** of **{clip.name}**. Press a code.",
            self.run: False,
            self.meanings_note: _meanings_note(clip.meanings),
            self.start_frame: gr.Slider(0, len(clip.latents) - 1, value=t, step=1),
            **buttons,
        }

    def press(self, game: Game | None, name: str, code) -> Game:
        if game is None:
            raise gr.Error("Press Start first.")
        model = self.page.shelf.get(name)
        try:
            game.step(model, int(code))
        except (ValueError, TypeError):
            raise gr.Error(f"this model has action codes 0 to {model.codebook_size - 1}") from None
        return game

    # Run mode: a loop on the server presses the last code again and again, streaming every frame, until the box is
    # unticked, a new game starts or the bundle changes. The code buttons and keys still work while it runs (they
    # change the code it presses); the game's own lock keeps the two from stepping at once.
    def run_game(self, on: bool, game: Game | None, name: str, request: gr.Request):
        key = request.session_hash
        self.running.pop(key, None)  # a loop already running stops at its next step
        if not on:
            yield {self.screen: gr.skip(), self.status: gr.skip()}
            return
        if game is None:
            yield {self.screen: gr.skip(), self.status: "Press Start first, then Run."}
            return
        token = self.running[key] = object()
        model = self.page.shelf.get(name)
        shown = told = 0.0  # when a frame and the status were last sent
        try:
            while self.running.get(key) is token:
                began = time.perf_counter()
                game.repeat(model)
                if self.running.get(key) is not token:
                    break  # stopped during the step: its frame must not cover a new game's
                if began - shown >= 1 / RUN_FRAMES_PER_S:  # studio.play says why not every frame
                    shown = began
                    status = gr.skip()  # the status a few times a second: nobody reads it faster
                    if began - told >= RUN_STATUS_PERIOD_S:
                        told, status = began, _status(game)
                    yield {self.screen: _screen(game), self.status: status}
                time.sleep(max(0.0, run_period_s(len(self.running)) - (time.perf_counter() - began)))
        finally:
            if self.running.get(key) is token:
                del self.running[key]

    def clear(self, request: gr.Request) -> Updates:
        """Another bundle was picked, or another clip analyzed: the game ends."""
        self.running.pop(request.session_hash, None)
        self.playing.discard(request.session_hash)
        return {self.game: None, self.screen: None, self.status: "", self.run: False}

    def _view(self, game: Game) -> Updates:
        """What the page shows of a game: its frame and its status."""
        return {self.screen: _screen(game), self.status: _status(game)}

    def _shown(self, game: Game) -> Updates:
        """The game, as the page's step and undo hand it back, and what the page shows of it."""
        return {self.game: game, **self._view(game)}

    def _as_file(self, game: Game) -> Updates:
        """What a script gets: the frame [H, W, 3] uint8, which Gradio hands over as a PNG file."""
        return {self.game: game, self.frame_file: game.frame, self.status: _status(game)}


def take_back(game: Game | None) -> Game:
    if game is None:
        raise gr.Error("Press Start first.")
    game.undo()
    return game


def _meanings(model: WorldModel, analysis, labels: Labels | None) -> CodeMeanings | None:
    """What the bundle measured each code to do, else what each most often meant on the clip's labels."""
    shipped = shipped_code_meanings(model)
    if shipped is not None or labels is None or ACTION_COLUMN not in labels.columns:
        return shipped
    try:
        truth = labels.at(ACTION_COLUMN, np.asarray(analysis.clip.indices)[:-1], analysis.clip.source_frames)
    except LabelsError:
        return None
    meanings = code_meanings(agreement(analysis.actions.codes, truth, model.codebook_size))
    return CodeMeanings(
        {code: (f"mostly {action}", share) for code, (action, share) in meanings.items()}, "this clip's labels"
    )


def _example_start(model: WorldModel) -> StartClip | None:
    clips = example_clips(model)
    if not clips:
        return None
    analysis = analyze_clip(model, clips[0])
    return StartClip(clips[0].name, analysis.latents, _meanings(model, analysis, example_labels(model, clips[0].name)))


def _button_label(code: int, names: list[str], meanings: CodeMeanings | None) -> str:
    """'3 · code 2: moves the paddle left, 93%' (or a button model's 'RIGHT'); `names` by code (`code_names`)."""
    key = f"{code + 1} · " if code < KEYS else ""
    name = names[code] if code < len(names) else f"code {code}"
    if meanings is not None and code in meanings.meanings:
        words, share = meanings.meanings[code]
        return f"{key}{name}: {words}, {100 * share:.0f}%"
    return f"{key}{name}"


def _meanings_note(meanings: CodeMeanings | None) -> str:
    if meanings is None:
        return "What each code does is not known for this bundle: try them, or analyze a labelled clip."
    return f"Each button says what its code most often did, and how often, on {meanings.measured_on}."


def _screen(game: Game) -> str:
    return _picture(game.frame, f"the world model's frame after step {game.steps}")


def _picture(frame: np.ndarray, description: str) -> str:
    """A frame at model size as an inline PNG: the page scales it up (SCREEN_CSS), so each step's payload stays
    a few kB (64x64 Breakout: ~2-5 kB of base64)."""
    return f'<img src="{png_data_url(frame)}" alt="{description}">'


def _status(game: Game) -> str:
    latency = game.latency_summary()
    timing = (
        f" · step latency **{latency[0]:.1f} ms** (model, median) → up to {latency[1]:.0f} frames/s" if latency else ""
    )
    rate = game.steps_per_second()
    pace = f" · playing at **{rate:.1f} steps/s**" if rate else ""
    recent = " ".join(str(c) for c in game.codes[-12:])
    left = game.left_familiar_at
    ground = (
        " · on familiar ground"
        if left is None
        else f" · **left familiar ground at step {left}**: the frames since look unlike any the model knows"
    )
    return f"**{game.steps} steps played** · last codes: {recent or '—'}{ground}{timing}{pace}"
