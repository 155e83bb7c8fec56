"""The world model as a game: each action pressed advances the predictor one step and decodes it. A press is a code
of the model (a continuous model's display cluster centre), or a vector read off the clip the game started from."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from studio.clip_actions import ClipActions
from studio.familiarity import reference_within
from studio.reference import reference_of
from studio.runtime import WorldModel, to_uint8_frames

MAX_HISTORY = 2000  # steps kept for undo; older ones are dropped
PACE_WINDOW = 20  # steps over which the pace of play is measured
LATENCY_WINDOW = 50  # steps over which the step latency is summarised
IDLE_S = 2.0  # a pause this long ends a run of steps: the pace is not measured across it
# Run mode (a game pressing its last code on its own) is paced by the page that shows it: the page asks for the next
# frame once it has drawn the last, at most RUN_FRAMES_PER_S times a second, and each answer advances the game by
# the steps due since the previous one at RUN_STEPS_PER_S, at most RUN_STEPS_PER_FRAME. A page that falls behind
# (a busy machine, a hidden browser tab) slows its game down instead of piling frames up, and a closed page stops it.
RUN_FRAMES_PER_S = 20
RUN_STEPS_PER_S = 40
RUN_STEPS_PER_FRAME = 4


@dataclass
class ImaginedGame:
    """One player's game, imagined by the world model: the latent context after every step so far, so that undo
    is a pop."""

    contexts: list[np.ndarray]  # each [C, N, D]; contexts[0] is the start, contexts[-1] the present
    frames: list[np.ndarray]  # each [H, W, 3] uint8, the decoded present frame after each step
    codes: list[int] = field(default_factory=list)  # what was pressed at each step: a code, or a press of from_clip's
    from_clip: ClipActions | None = None  # the vectors read off the start clip that can be pressed, if any
    # whether each frame is on familiar ground; once a step is not, the ones after it are not judged (None): the step
    # it left at is all the status says, and undoing past it drops them
    familiar: list[bool | None] = field(default_factory=lambda: [True])
    nearby: int = 0  # the reference latent the last familiar frame lay near, tried first for the next
    dropped: int = 0  # the oldest steps, whose history went to keep MAX_HISTORY (they cannot be undone)
    dropped_unfamiliar_at: int | None = None  # the first step among them whose frame was unfamiliar
    # predictor + decoder time of each of the last steps, and the monotonic time of each, for the pace of play
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    pressed_at: deque[float] = field(default_factory=lambda: deque(maxlen=PACE_WINDOW))
    # a game in Run mode is pressed by the player while it steps on its own: two requests at once
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def start(
        cls, model: WorldModel, latents: np.ndarray, t: int, from_clip: ClipActions | None = None
    ) -> ImaginedGame:
        """Start from frame t of a clip's latents [T, N, D], with its C-frame history as the context; `from_clip`:
        the clip's vectors, pressed beside the model's codes."""
        t = int(np.clip(t, 0, len(latents) - 1))
        context = model.start_context(latents[: t + 1])  # [C, N, D]
        frame = to_uint8_frames(model.decode(context[-1:]))[0]  # [H, W, 3]
        return cls(contexts=[context], frames=[frame], from_clip=from_clip)

    @property
    def steps(self) -> int:
        return self.dropped + len(self.codes)

    @property
    def frame(self) -> np.ndarray:
        return self.frames[-1]

    def step(self, model: WorldModel, code: int) -> np.ndarray:
        """Press `code` (a code of the model, or a press of `from_clip`'s): predict the next latents, decode them,
        and return the new frame [H, W, 3] uint8."""
        with self.lock:
            return self._advance(model, int(code))

    def action(self, model: WorldModel, code: int) -> np.ndarray:
        """The action vector [1, Da] a press applies; refuses a press that is neither a code nor the clip's."""
        if self.from_clip is not None and code >= self.from_clip.first_press:
            return self.from_clip.vector(code)[None]
        return model.action_vectors(np.asarray([code]))

    def press_name(self, code: int) -> str:
        """How the status lists a press: a code's number, or the clip's transition it took its vector from."""
        if self.from_clip is not None and code >= self.from_clip.first_press:
            return self.from_clip.press_name(code)
        return str(code)

    def repeat(self, model: WorldModel) -> np.ndarray:
        """Press the last code again (code 0 before any press): what a game running on its own does. The code is
        read under the same lock as the step, so a press from another thread is never overtaken by a stale one."""
        with self.lock:
            return self._advance(model, self.codes[-1] if self.codes else 0)

    def run(self, model: WorldModel) -> np.ndarray:
        """What Run mode does each time its page asks for a frame: press the last code again for every step due
        since the last step (at least one), and return the frame [H, W, 3] uint8 it ends on."""
        for _ in range(self.run_steps_due()):
            frame = self.repeat(model)
        return frame

    def run_steps_due(self) -> int:
        """Steps owed at RUN_STEPS_PER_S since the last step: 1 to RUN_STEPS_PER_FRAME."""
        with self.lock:
            last = self.pressed_at[-1] if self.pressed_at else None
        owed = 1 if last is None else int((time.monotonic() - last) * RUN_STEPS_PER_S)
        return int(np.clip(owed, 1, RUN_STEPS_PER_FRAME))

    def _advance(self, model: WorldModel, code: int) -> np.ndarray:
        action = self.action(model, code)  # [1, Da]
        began = time.perf_counter()
        context = self.contexts[-1]  # [C, N, D]
        latents_next = model.next_latents(context[None], action)  # [1, N, D]
        frame = to_uint8_frames(model.decode(latents_next))[0]  # [H, W, 3]
        self.latencies_ms.append(1000.0 * (time.perf_counter() - began))
        self.pressed_at.append(time.monotonic())
        self.contexts.append(np.concatenate([context[1:], latents_next]))
        self.frames.append(frame)
        self.codes.append(code)
        self.familiar.append(self._judged(model, latents_next))
        if len(self.codes) > MAX_HISTORY:
            if self.familiar[0] is False and self.dropped_unfamiliar_at is None:
                self.dropped_unfamiliar_at = self.dropped
            del self.contexts[0], self.frames[0], self.codes[0], self.familiar[0]
            self.dropped += 1
        return frame

    def _judged(self, model: WorldModel, latents: np.ndarray) -> bool | None:
        """Whether latents [1, N, D] are familiar to the model (always, for a bundle that cannot judge); None once
        the game has left familiar ground."""
        reference = reference_of(model)
        if reference is None:
            return True
        # left already: the last frame was judged unfamiliar, or not judged (no scan of the history each step)
        if self.dropped_unfamiliar_at is not None or self.familiar[-1] is not True:
            return None
        near = reference_within(latents[0], reference.latents, reference.calibration.limit, self.nearby)
        if near >= 0:
            self.nearby = near
        return near >= 0

    def undo(self) -> np.ndarray:
        """Take back the last step (nothing happens at the start)."""
        with self.lock:
            if self.codes:
                self.contexts.pop()
                self.frames.pop()
                self.codes.pop()
                self.familiar.pop()
            return self.frame

    @property
    def left_familiar_at(self) -> int | None:
        """The step at which the game first left familiar ground (frames unlike any the model knows), or None."""
        if self.dropped_unfamiliar_at is not None:
            return self.dropped_unfamiliar_at
        return next((self.dropped + i for i, known in enumerate(self.familiar) if known is False), None)

    def steps_per_second(self) -> float | None:
        """The pace of play over the last steps (wall clock between presses), None when play has paused."""
        with self.lock:  # a copy: the other thread of a running game may be appending
            times = list(self.pressed_at)
        if len(times) < 3 or time.monotonic() - times[-1] > IDLE_S:
            return None
        gaps = np.diff(times)  # [n-1] seconds between presses
        pauses = np.flatnonzero(gaps > IDLE_S)
        if len(pauses):
            gaps = gaps[pauses[-1] + 1 :]
        return float(len(gaps) / gaps.sum()) if len(gaps) >= 2 else None

    def latency_summary(self) -> tuple[float, float] | None:
        """(median step latency in ms, the frames per second it allows) over the last steps; None before any."""
        with self.lock:
            latencies = list(self.latencies_ms)
        if not latencies:
            return None
        median = float(np.median(latencies))
        return median, 1000.0 / max(median, 1e-6)
