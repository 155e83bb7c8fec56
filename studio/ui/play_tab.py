"""Play tab: the world model as a game, one button (and one key) per action code; for a model of continuous actions,
also the vectors read off the analyzed clip."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio.action_codes import CodeMeanings, shipped_code_meanings
from studio.analysis import MAX_FRAME_CAP, analyze_clip
from studio.clip_actions import ClipActions, clip_actions
from studio.examples import example_clips, example_labels
from studio.model_kind import kind_words
from studio.play import RUN_FRAMES_PER_S, RUN_STEPS_PER_S, ImaginedGame
from studio.runtime import WorldModel
from studio.ui.code_meanings import code_words, meanings_on_clip
from studio.ui.page_play import (
    BEGIN_JS,
    END_JS,
    HAND_OVER_JS,
    IN_THE_PAGE,
    ON_THE_SERVER,
    PAGE_SCREEN,
    PAGE_SCREEN_CSS,
    PAGE_SCRIPT,
    SCREEN_HEIGHT,
    WHERE_CHOICES,
    HandoverError,
    PageFiles,
    game_from_page,
    page_start,
)
from studio.ui.picture_html import png_data_url
from studio.ui.refusal import refusal
from studio.ui.state import ClipState
from studio.ui.tab import Moment, PageEvents, Tab, Updates

SCREEN_CSS = (
    f"#play-screen img {{ image-rendering: pixelated; height: {SCREEN_HEIGHT}px; max-width: 100%; "
    "object-fit: contain; display: block; margin: 0 auto; }\n"
    "#play-next { display: none !important; }"  # the Run loop's trigger: clicked by the page's script alone
)
# the key that presses each code, in code order: the digits' row, then the row below it (20 codes)
CODE_KEYS = "1234567890qwertyuiop"
NO_CLIP_VECTORS = (
    "**Vectors taken from the clip** appear here once a clip is analyzed on the **Clip** tab: the action vectors the "
    "model read off the clip's transitions, to press beside the clusters' centres above."
)
RUN_STATUS_PERIOD_S = 0.25  # Run mode refreshes the status line at most this often
# Steps run one at a time, in the order pressed, so that a player's presses never race on their game;
# a step takes a few milliseconds, so one queue serves many players.
ONE_STEP_AT_A_TIME = dict(concurrency_id="play", concurrency_limit=1)
# The keys of CODE_KEYS press the code buttons, in code order, and Backspace undoes, while the Play tab is showing
# and no text field has focus.
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
  const code = event.key.length === 1 ? "CODE_KEYS".indexOf(event.key.toLowerCase()) : -1;
  if (code >= 0 && !event.ctrlKey && !event.metaKey && !event.altKey) id = "play-code-" + code;
  else if (event.key === "Backspace") id = "play-undo";
  const button = id && document.getElementById(id);
  if (button && button.offsetParent !== null) { button.click(); event.preventDefault(); }
});
</script>
""".replace("CODE_KEYS", CODE_KEYS)
# Run mode on the server: the page asks for the next frame only once it has drawn the last one, so one request is in
# flight at a time and a page that falls behind slows its game rather than queueing frames; the frame is drawn into
# the screen's picture here, without Gradio re-rendering anything, and nothing is sent when nothing changed.
RUN_SCRIPT = """
<script>
window.studioRun = (() => {
  const PERIOD_MS = 1000 / RUN_FRAMES_PER_S;  // studio.play caps the frames a second at this
  let running = false;
  let askedAt = 0;  // performance.now() of the request in flight
  const ask = () => {
    const next = document.getElementById("play-next");
    if (!running || !next) { running = false; return; }
    askedAt = performance.now();
    next.click();
  };
  return {
    toggle(on) {  // the Run box was ticked or unticked
      if (on && !running) { running = true; ask(); } else if (!on) running = false;
    },
    drawn(frame) {  // the answer to a request: {running, src?, alt?}; src is absent when the frame did not change
      if (!frame || !frame.running) { running = false; return; }
      const picture = document.querySelector("#play-screen img");
      if (frame.src && picture) { picture.src = frame.src; picture.alt = frame.alt; }
      // the next request once the browser has painted this frame, and no sooner than the period allows
      requestAnimationFrame(() => setTimeout(ask, Math.max(0, PERIOD_MS - (performance.now() - askedAt))));
    },
  };
})();
</script>
""".replace("RUN_FRAMES_PER_S", str(RUN_FRAMES_PER_S))


@dataclass
class Player:
    """One user's side of the Play tab, in their own `gr.State`: made with the user's session and changed in place
    by every handler, so that one still drawing a preview (opening the tab, the start slider) sees a game that
    Start began meanwhile, and none replaces the game with a Player of its own."""

    game: ImaginedGame | None = None
    handed: ImaginedGame | None = None  # the game last handed to the page, which the page plays from then on
    run_src: str = ""  # the frame Run mode last sent the page (a PNG data URL)
    run_told_at: float = 0.0  # when Run mode last sent the status line


@dataclass(frozen=True)
class StartClip:
    """Where a game starts: a clip's latents, and what each code does (what the bundle shipped, else what it most
    often meant on the clip's labels)."""

    name: str
    latents: np.ndarray  # [T, N, D]
    meanings: CodeMeanings | None  # what each code does: the bundle's own figures, else the clip's labels
    actions: ClipActions | None = None  # the vectors of an analyzed clip a continuous model can press


class PlayTab(Tab):
    title, id, css = "Play", "play", SCREEN_CSS + PAGE_SCREEN_CSS
    head = KEYBOARD_SCRIPT + RUN_SCRIPT + PAGE_SCRIPT

    def build(self, events: PageEvents) -> None:
        shelf, clip, bundle = self.page.shelf, self.page.clip, self.page.bundle
        self.buttons_needed = max(shelf.get(name).codebook_size for name in shelf.names)
        # a button per display cluster of the continuous models, pressing the clip's transition nearest its centre
        clip_buttons_needed = max(
            (model.codebook_size for model in shelf.models.values() if model.action_kind == "continuous"), default=0
        )
        self.examples: dict[str, StartClip | None] = {}  # bundle -> its first example clip, analyzed once
        self.page_files = PageFiles()  # what a page that plays by itself fetches
        self.page_files.serve(list(shelf.models.values()))

        # one line at 1280 pixels: the game's frame, its status and the Run box all stay in view below it
        gr.Markdown(
            "Each press of a code (a button, or the key its label starts with; **Backspace** undoes) predicts one step "
            "and draws it. "
            "Without an analyzed clip, play starts from the bundle's first example."
        )
        self.player = gr.State(lambda: Player())  # this user's Player, made once per session
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
                    next_frame = gr.Button("Next frame", elem_id="play-next")  # hidden (SCREEN_CSS)
                # labelled from the start with what the default bundle ships about its codes
                default = shelf.get(shelf.default_name)
                shipped, names = shipped_code_meanings(default), default.code_names()
                self.code_buttons = []
                for first in range(0, self.buttons_needed, 2):  # two a row
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
                self.meanings_note = gr.Markdown(_meanings_note(shipped, default), elem_id="play-meanings")
                with gr.Column(visible=default.action_kind == "continuous", elem_id="play-clip-vectors") as panel:
                    self.clip_panel = panel
                    self.clip_note = gr.Markdown(NO_CLIP_VECTORS, elem_id="play-clip-note")
                    self.clip_buttons = []
                    for first in range(0, clip_buttons_needed, 2):  # two a row
                        with gr.Row():
                            self.clip_buttons += [
                                gr.Button(elem_id=f"play-clip-vector-{j}", size="sm", min_width=140, visible=False)
                                for j in range(first, min(first + 2, clip_buttons_needed))
                            ]
                    self.clip_transition = gr.Slider(
                        0,
                        MAX_FRAME_CAP - 2,
                        value=0,
                        step=1,
                        label="or any transition, from frame",
                        visible=False,
                        elem_id="play-clip-transition",
                    )
                    self.clip_pick = gr.Button(
                        "Press this transition's vector", size="sm", visible=False, elem_id="play-clip-vector-picked"
                    )
            with gr.Column(scale=2):
                # above the screen: at 1280x720 the game, the Run box and the status line are seen together
                self.run = gr.Checkbox(
                    False,
                    label="Run: keep pressing the last code (at the pace chosen under the frame; on the server up to "
                    f"{RUN_STEPS_PER_S} steps/s)",
                    elem_id="play-run",
                )
                self.status = gr.Markdown(elem_id="play-status")
                # the frame travels inside the page's update (a data URL), not as a file the page fetches after it
                self.screen = gr.HTML(
                    label=_screen_label(default),  # a bundle picked later names it for its own kind
                    show_label=True,
                    container=True,
                    js_on_load=None,
                    min_height=SCREEN_HEIGHT,
                    elem_id="play-screen",
                )
                # where the page draws its frames while it plays (the server's picture above is hidden meanwhile)
                self.page_screen = gr.HTML(
                    PAGE_SCREEN,
                    label="The world model's frame",  # short: a longer one reached over the frame's score
                    show_label=True,
                    container=True,
                    min_height=SCREEN_HEIGHT,
                    elem_id="play-page-block",
                )
                self.where = gr.Radio(
                    WHERE_CHOICES,
                    value=IN_THE_PAGE,
                    label="Where the game runs",
                    info="In this browser, every step is computed on your machine; on the server, by the studio's.",
                    elem_id="play-where",
                )
        # what scripts exchange with /step and /undo: the code as a number, the frame as a PNG file
        code_box = gr.Number(0, precision=0, visible=False)
        transition_box = gr.Number(0, precision=0, visible=False)  # /step_from_clip's: the frame a transition leaves
        self.frame_file = gr.Image(visible=False, format="png")
        self.run_frame = gr.JSON(visible=False)  # Run mode's answer to the page's script (RUN_SCRIPT)
        self.handoff = gr.JSON(visible=False)  # a game handed between the page and the server (page_play.py)

        player = self.player
        started = [
            player,
            self.screen,
            self.status,
            self.run,
            self.start_frame,
            self.meanings_note,
            *self.code_buttons,
            *self.clip_shown,
        ]
        # before Start: the frame a game would start from, as the start frame slider moves
        self.start_frame.release(
            self.show_start,
            inputs=[clip, bundle, self.start_frame, player],
            outputs=[self.screen, self.status],
            api_name=False,
            show_progress="hidden",
        )
        for began in (
            start.click(
                self.begin, inputs=[clip, bundle, self.start_frame, player], outputs=started, api_name="play_start"
            ),
            reset.click(self.begin, inputs=[clip, bundle, self.start_frame, player], outputs=started, api_name=False),
        ):
            inputs = [self.where, player, bundle, self.start_frame]
            self._to_the_page(began.then(self.hand_to_page, inputs=inputs, **self._handing))
        # the switch: the page hands its game to the server (handOver), or the server its game to the page
        self._to_the_page(
            self.where.change(
                self.switch,
                inputs=[self.where, self.handoff, player, bundle, clip],
                js=HAND_OVER_JS,
                **self._handing,
            )
        )
        for k, button in enumerate(self.code_buttons):
            button.click(
                lambda player, name, k=k: self._view(self.press(player, name, k)),
                inputs=[player, bundle],
                outputs=[self.screen, self.status],
                api_name=False,
                show_progress="hidden",
                trigger_mode="always_last",
                **ONE_STEP_AT_A_TIME,
            )
        for j, button in enumerate(self.clip_buttons):
            button.click(
                lambda player, name, j=j: self._view(self.press_representative(player, name, j)),
                inputs=[player, bundle],
                outputs=[self.screen, self.status],
                api_name=False,
                show_progress="hidden",
                trigger_mode="always_last",
                **ONE_STEP_AT_A_TIME,
            )
        self.clip_pick.click(
            lambda player, name, t: self._view(self.press_from_clip(player, name, t)),
            inputs=[player, bundle, self.clip_transition],
            outputs=[self.screen, self.status],
            api_name=False,
            show_progress="hidden",
            trigger_mode="always_last",
            **ONE_STEP_AT_A_TIME,
        )
        undo.click(
            lambda player: self._view(take_back(player)),
            inputs=player,
            outputs=[self.screen, self.status],
            api_name=False,
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        # endpoints for scripts alone: no trigger on the page
        gr.on(
            [],
            lambda player, name, code: self._as_file(self.press(player, name, code)),
            inputs=[player, bundle, code_box],
            outputs=[self.frame_file, self.status],
            api_name="step",
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        gr.on(
            [],
            lambda player, name, t: self._as_file(self.press_from_clip(player, name, t)),
            inputs=[player, bundle, transition_box],
            outputs=[self.frame_file, self.status],
            api_name="step_from_clip",
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        gr.on(
            [],
            lambda player: self._as_file(take_back(player)),
            inputs=player,
            outputs=[self.frame_file, self.status],
            api_name="undo",
            show_progress="hidden",
            **ONE_STEP_AT_A_TIME,
        )
        # Run mode: ticking the box starts the page's loop, each turn of which asks /run_step for the next frame
        self.run.change(None, inputs=self.run, js="(on) => { window.studioRun.toggle(on); }", api_name=False)
        next_frame.click(
            self.run_step,
            inputs=[player, bundle, self.run],
            outputs=[self.run_frame, self.status, self.run],
            api_name="run_step",
            show_progress="hidden",
            # beside the presses' queue, not in it: a key pressed never waits behind a turn of Run mode queued
            # before it, only behind the one stepping its game (the game's lock)
            concurrency_id="run",
            concurrency_limit=None,
        ).then(None, inputs=self.run_frame, js="(frame) => { window.studioRun.drawn(frame); }", api_name=False)
        events.follow(
            Moment.CLEARED,
            lambda e: e.then(
                lambda name: gr.update(label=_screen_label(self.page.shelf.get(name))),
                inputs=bundle,
                outputs=self.screen,
                api_name=False,
            ),
        )
        shown = [self.screen, self.status, self.run, *self.clip_shown]
        events.follow_gone(
            lambda e: e.then(self.clear, inputs=player, outputs=shown, api_name=False).then(
                None, js=END_JS, api_name=False
            )
        )

    def opened(self, select) -> None:
        # opening the tab shows where a game would start, and the start clip's range and code meanings
        select(
            self.show_start_clip,
            inputs=[self.page.clip, self.page.bundle, self.start_frame, self.player],
            outputs=[
                self.screen,
                self.status,
                self.start_frame,
                self.meanings_note,
                *self.code_buttons,
                *self.clip_shown,
            ],
            api_name=False,
            show_progress="hidden",
        )

    def show_start_clip(self, state: ClipState | None, name: str, t, player: Player) -> Updates:
        """Before Start: the start clip's frame `t`, its range on the slider, the buttons' meanings."""
        model, clip = self.page.shelf.get(name), self.start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        preview = self.show_start(state, name, t, player)
        if player.game is not None:  # a game is on screen: leave it be
            untouched = [self.start_frame, self.meanings_note, *self.code_buttons, *self.clip_shown]
            return {**preview, **dict.fromkeys(untouched, gr.skip())}
        return {
            **preview,
            self.meanings_note: _meanings_note(clip.meanings, model),
            self.start_frame: gr.Slider(0, len(clip.latents) - 1, value=t, step=1),
            **self.buttons(model, clip),
        }

    def show_start(self, state: ClipState | None, name: str, t, player: Player) -> Updates:
        """The frame a game from `t` would show first; nothing while a game is on screen (also one that Start
        began while this frame was being decoded)."""
        untouched = {self.screen: gr.skip(), self.status: gr.skip()}
        if player.game is not None:
            return untouched
        clip = self.start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        model = self.page.shelf.get(name)
        frame = ImaginedGame.start(model, clip.latents, t).frame
        if player.game is not None:
            return untouched
        return {
            self.screen: _picture(frame, f"frame {t} of {clip.name}, where a game would start"),
            self.status: f"Frame **{t}** of **{clip.name}** ({kind_words(model).picture}): press **Start** to play "
            "from it.",
        }

    def start_clip(self, state: ClipState | None, name: str) -> StartClip:
        if state is not None and state.bundle == name:
            return StartClip(
                state.name,
                state.analysis.latents,
                meanings_on_clip(state.model, state.analysis, state.labels),
                clip_actions(state.model, state.analysis.actions, state.name),
            )
        if name not in self.examples:
            self.examples[name] = _example_start(self.page.shelf.get(name))
        if self.examples[name] is None:
            raise refusal("Analyze a clip on the Clip tab first: this bundle ships no example to start from.")
        return self.examples[name]

    def begin(self, state: ClipState | None, name: str, t, player: Player) -> Updates:
        model = self.page.shelf.get(name)
        clip = self.start_clip(state, name)
        t = int(np.clip(t or 0, 0, len(clip.latents) - 1))
        player.game = game = ImaginedGame.start(model, clip.latents, t, clip.actions)
        return {
            self.player: player,  # a state set as an output is one Gradio deletes when the session closes
            self.screen: _screen(game),
            self.status: f"Started from frame **{t}** of **{clip.name}**. Press a code.",
            self.run: False,
            self.meanings_note: _meanings_note(clip.meanings, model),
            self.start_frame: gr.Slider(0, len(clip.latents) - 1, value=t, step=1),
            **self.buttons(model, clip),
        }

    def buttons(self, model: WorldModel, clip: StartClip) -> Updates:
        """A button per code, labelled with what it does; for a continuous model, the panel of the clip's vectors."""
        codes = {
            button: gr.Button(_button_label(k, model.code_names(), clip.meanings), visible=k < model.codebook_size)
            for k, button in enumerate(self.code_buttons)
        }
        return {**codes, **self.clip_vectors(model, clip.actions)}

    @property
    def clip_shown(self) -> list:
        """The panel of the vectors taken from the clip, and what it holds."""
        return [self.clip_panel, self.clip_note, *self.clip_buttons, self.clip_transition, self.clip_pick]

    def clip_vectors(self, model: WorldModel | None, actions: ClipActions | None) -> Updates:
        """The panel for `model` (None: keep it shown or hidden as it is): for each display cluster the clip uses, a
        button pressing the vector of its transition nearest the cluster's centre, and any transition of the clip to
        press; with no clip analyzed, the sentence saying they come with one."""
        panel = gr.skip() if model is None else gr.Column(visible=model.action_kind == "continuous")
        if actions is None:
            hidden = dict.fromkeys([*self.clip_buttons, self.clip_transition, self.clip_pick], gr.update(visible=False))
            return {self.clip_panel: panel, self.clip_note: NO_CLIP_VECTORS, **hidden}
        offered = dict(enumerate(actions.representatives))
        return {
            self.clip_panel: panel,
            self.clip_note: (
                f"**Vectors taken from {actions.clip}**, as the model read them off its transitions (frame t → t+1), "
                "to press beside the clusters' centres above: for each cluster the clip uses, the transition nearest "
                "its centre,"
            ),
            **{
                button: gr.Button(
                    f"frame {offered[j][1]} → {offered[j][1] + 1} (cluster {offered[j][0]})" if j in offered else "",
                    visible=j in offered,
                )
                for j, button in enumerate(self.clip_buttons)
            },
            self.clip_transition: gr.Slider(
                0,
                actions.transitions - 1,
                value=0,
                step=1,
                label="or any transition, from frame",
                visible=True,
            ),
            self.clip_pick: gr.Button(visible=True),
        }

    def press(self, player: Player, name: str, code) -> ImaginedGame:
        game = _started(player)
        model = self.page.shelf.get(name)
        try:
            game.step(model, int(code))
        except (ValueError, TypeError):
            raise refusal(f"this model has action codes 0 to {model.codebook_size - 1}") from None
        return game

    def press_representative(self, player: Player, name: str, j) -> ImaginedGame:
        """The clip's j-th representative vector (one per cluster the clip uses) pressed."""
        game = _started(player)
        representatives = game.from_clip.representatives if game.from_clip is not None else ()
        if not 0 <= int(j) < len(representatives):
            raise refusal("this game has no such vector taken from the clip: press Start again")
        return self.press_from_clip(player, name, representatives[int(j)][1])

    def press_from_clip(self, player: Player, name: str, t) -> ImaginedGame:
        """The vector the model read off transition t -> t+1 of the clip the game started from, pressed."""
        game, model = _started(player), self.page.shelf.get(name)
        if game.from_clip is None:
            if model.action_kind != "continuous":
                raise refusal(
                    f"this model acts on {_actions_word(model)}: press those; only continuous actions "
                    "are taken from a clip"
                )
            raise refusal("vectors are taken from an analyzed clip: analyze one on the Clip tab, then press Start")
        try:
            press = game.from_clip.press(int(t))
        except (ValueError, TypeError) as err:
            raise refusal(str(err) if isinstance(err, ValueError) else "give a transition as a frame number") from None
        game.step(model, press)
        return game

    def run_step(self, player: Player, name: str, on: bool) -> Updates:
        """One turn of Run mode, asked for by the page once it has drawn the last frame: the game advances by the
        steps due, and the page gets the frame only if it changed, the status a few times a second."""
        game = player.game
        if not on or game is None:
            told = "Press **Start** first, then Run." if on else gr.skip()
            return {self.run_frame: {"running": False}, self.status: told, self.run: False}
        game.run(self.page.shelf.get(name))
        src = png_data_url(game.frame)
        answer = {"running": True}
        if src != player.run_src:
            player.run_src = src
            answer |= {"src": src, "alt": f"the world model's frame after step {game.steps}"}
        status, now = gr.skip(), time.monotonic()
        if now - player.run_told_at >= RUN_STATUS_PERIOD_S:
            player.run_told_at, status = now, _status(game)
        return {self.run_frame: answer, self.status: status, self.run: gr.skip()}

    @property
    def _handing(self) -> dict:
        outputs = [self.handoff, self.player, self.screen, self.status, self.where, self.run]
        return dict(outputs=outputs, api_name=False, show_progress="hidden")

    def _to_the_page(self, handed) -> None:
        """After `handed`, the page begins the game the server handed it, if any."""
        handed.then(None, inputs=self.handoff, js=BEGIN_JS, api_name=False)

    def hand_to_page(self, where: str, player: Player, name: str, t) -> Updates:
        """After Start or Reset: the page plays the game when the switch says so."""
        if where != IN_THE_PAGE or player.game is None:
            return {self.handoff: None}
        return self._handed_to_page(player, name, f"frame {int(t or 0)}")

    def switch(self, where: str, handoff: dict | None, player: Player, name: str, state: ClipState | None) -> Updates:
        """The switch moved: the game, if any, goes on where it now says (with the vectors of the clip it started
        from: a new clip ends the game, so the clip analyzed now is the one it started from)."""
        model = self.page.shelf.get(name)
        if where == ON_THE_SERVER:
            if handoff is None:  # the page held no game: the server's, if any, is where it was
                return {self.handoff: None}
            try:
                game = game_from_page(model, handoff, self.start_clip(state, name).actions)
            except HandoverError as err:
                raise gr.Error(f"The game could not move to the server: {err}.") from None
            reason = str(handoff.get("reason") or "")[:300].replace("*", "").replace("<", "")
            fallen = f" · this browser cannot play it ({reason}), so the server does" if reason else ""
            player.game = game
            return {self.handoff: None, self.player: player, **self._view(game), self.status: _status(game) + fallen}
        if player.game is None:
            return {self.handoff: None}
        return self._handed_to_page(player, name, f"step {player.game.steps}")

    def _handed_to_page(self, player: Player, name: str, description: str) -> Updates:
        """The game, to the page, once: Start and the switch may both hand it (the switch moved while Start was
        on its way), and a second start would begin it again in the page over the presses made since."""
        if player.handed is player.game:
            return {self.handoff: None}
        try:
            start = page_start(self.page_files, self.page.shelf.get(name), player.game, description)
        except HandoverError as err:
            return {self.handoff: None, self.where: ON_THE_SERVER, self.status: f"Playing on the server: {err}."}
        player.handed = player.game
        return {self.handoff: start, self.run: False}  # the server's Run loop, if any, stops

    def clear(self, player: Player) -> Updates:
        """Another bundle was picked, or another clip analyzed: the game ends, and the vectors taken from the clip
        go with the clip."""
        player.game = player.handed = None
        return {self.screen: None, self.status: "", self.run: False, **self.clip_vectors(None, None)}

    def _view(self, game: ImaginedGame) -> Updates:
        """What the page shows of a game: its frame and its status."""
        return {self.screen: _screen(game), self.status: _status(game)}

    def _as_file(self, game: ImaginedGame) -> Updates:
        """What a script gets: the frame [H, W, 3] uint8, which Gradio hands over as a PNG file."""
        return {self.frame_file: game.frame, self.status: _status(game)}


def take_back(player: Player) -> ImaginedGame:
    game = _started(player)
    game.undo()
    return game


def _started(player: Player) -> ImaginedGame:
    """The player's game, which a press needs."""
    if player.game is None:
        raise refusal("Press Start first.")
    return player.game


def _example_start(model: WorldModel) -> StartClip | None:
    clips = example_clips(model)
    if not clips:
        return None
    analysis = analyze_clip(model, clips[0])
    return StartClip(
        clips[0].name, analysis.latents, meanings_on_clip(model, analysis, example_labels(model, clips[0].name))
    )


def _button_label(code: int, names: list[str], meanings: CodeMeanings | None) -> str:
    """'3 · code 2: moves the paddle left, 93%' (or a button model's 'RIGHT'); `names` by code (`code_names`)."""
    key = f"{CODE_KEYS[code].upper()} · " if code < len(CODE_KEYS) else ""
    return key + code_words(code, names[code] if code < len(names) else f"code {code}", meanings)


def _actions_word(model: WorldModel) -> str:
    return "the game's own buttons" if model.action_kind == "buttons" else "its latent codes"


def _meanings_note(meanings: CodeMeanings | None, model: WorldModel) -> str:
    if meanings is None and model.action_kind == "buttons":
        return "Each button is one of the game's own, as the bundle names it: the model predicts the frame after it."
    if meanings is None:
        return "What each code does is not known for this bundle: try them, or analyze a labelled clip."
    return f"Each button says what its code most often did, and how often, on {meanings.measured_on}."


def _screen_label(model: WorldModel) -> str:
    if model.has_decoder:
        return "The world model's frame"
    return "Nearest real frame"  # to the predicted state: the note above the tabs says why


def _screen(game: ImaginedGame) -> str:
    return _picture(game.frame, f"the world model's frame after step {game.steps}")


def _picture(frame: np.ndarray, description: str) -> str:
    """A frame at model size as an inline PNG: the page scales it up (SCREEN_CSS), so each step's payload stays
    a few kB (64x64 Breakout: ~2-5 kB of base64)."""
    return f'<img src="{png_data_url(frame)}" alt="{description}">'


def _status(game: ImaginedGame) -> str:
    latency = game.latency_summary()
    timing = (
        f" · step latency **{latency[0]:.1f} ms** (model, median) → up to {latency[1]:.0f} frames/s" if latency else ""
    )
    rate = game.steps_per_second()
    pace = f" · playing at **{rate:.1f} steps/s**" if rate else ""
    recent = " ".join(game.press_name(c) for c in game.codes[-12:])
    left = game.left_familiar_at
    ground = (
        " · on familiar ground"
        if left is None
        else f" · **left familiar ground at step {left}**: the frames since look unlike any the model knows"
    )
    played = f"{game.steps} step{'' if game.steps == 1 else 's'} played"
    return f"**{played}** **on the server** · last codes: {recent or '—'}{ground}{timing}{pace}"
