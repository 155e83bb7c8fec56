"""What the action codes mean: exemplar transitions, the action-effect atlas, agreement with true actions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_dilation, find_objects, label

from studio.figures import CONSISTENCY_PER_CODE, CONSISTENCY_VERTICAL_PER_CODE, MEASURED_SETS, measured_sets
from studio.games import JUMP_WORDS, MOTION_WORDS, find_game
from studio.metrics import best_one_to_one_accuracy, confusion_matrix, normalized_mutual_information
from studio.montage import side_by_side
from studio.runtime import ActionInference, WorldModel, to_uint8_frames

DIFF_COLOR = np.array([255, 0, 200], np.float32)  # magenta: where a code changed the frame
FULL_MARK = 0.25  # a change of this much (of the brightest channel's range) is drawn in full magenta
BOXED_CHANGE = 0.1  # changes above this are boxed; below, the decoder's own noise between two decodes
# A scrolling game's camera follows the player, so between two frames everything moves. The change is marked
# after following the camera: the shift of at most CAMERA_REACH pixels that best lines the two frames up, if it
# leaves at most CAMERA_GAIN of the unshifted difference (a game with a still screen keeps the shift 0). The
# camera moves by fractions of a pixel too (CoinRun: 0.7 a step sideways, up to 8 falling), so once it has
# moved, each pixel is compared with the nearest match within one pixel of where the shift put it.
CAMERA_REACH = 8
CAMERA_GAIN = 0.7
# The atlas magnifies the window of the frame where the codes' outcomes differ most, a square at least this share
# of the frame's shorter side: 20 pixels of a 64-pixel frame, room for Breakout's paddle and its move in a step.
WINDOW_SHARE = 5 / 16
WINDOW_COLOR = np.array([255, 210, 0], np.uint8)  # yellow: where the magnified window lies in the whole frame
MAX_BRIGHTENING = 4.0  # a dim window (Breakout's dark red paddle on black) is brightened up to this factor


def exemplars(actions: ActionInference, per_code: int = 4) -> dict[int, list[int]]:
    """For each code used, up to `per_code` transitions t (t -> t+1) inferred as it, most confident first.

    Confidence is the margin between the nearest code's distance and the second nearest's.
    """
    ordered = np.sort(actions.distances, axis=1)  # [T-1, K]
    margin = ordered[:, 1] - ordered[:, 0] if ordered.shape[1] > 1 else -ordered[:, 0]  # [T-1]
    chosen = {}
    for code in np.unique(actions.codes):
        transitions = np.flatnonzero(actions.codes == code)
        chosen[int(code)] = transitions[np.argsort(-margin[transitions])][:per_code].tolist()
    return chosen


@dataclass(frozen=True)
class Window:
    """A square of a frame: rows top .. top + side - 1, columns left .. left + side - 1."""

    top: int
    left: int
    side: int

    def of(self, frames: np.ndarray) -> np.ndarray:
        """[..., H, W, 3] -> [..., side, side, 3]"""
        return frames[..., self.top : self.top + self.side, self.left : self.left + self.side, :]

    def framed(self, frame: np.ndarray) -> np.ndarray:
        """`frame` [H, W, 3] uint8 with a one-pixel yellow outline around the window, just outside it where the
        frame leaves room."""
        framed = frame.copy()
        height, width = frame.shape[:2]
        top, left = max(self.top - 1, 0), max(self.left - 1, 0)
        bottom, right = min(self.top + self.side, height - 1), min(self.left + self.side, width - 1)
        framed[[top, bottom], left : right + 1] = WINDOW_COLOR
        framed[top : bottom + 1, [left, right]] = WINDOW_COLOR
        return framed


@dataclass(frozen=True)
class ActionEffects:
    """From one frame, the decoded next frame under each of the K codes."""

    current: np.ndarray  # [H, W, 3] uint8, the decoded current frame
    next_frames: np.ndarray  # [K, H, W, 3] uint8
    change: np.ndarray  # [K] mean absolute change from the current frame, in [0, 1]
    window: Window | None  # where the codes' outcomes differ most (where_codes_differ); None where they agree

    def zoomed(self, size: int) -> np.ndarray:
        """Each code's outcome in the window beside the current frame's, each enlarged by the whole factor that
        brings it nearest `size` pixels: zoomed_change. Needs a window."""
        return zoomed_change(self.current, self.next_frames, self.window, max(1, round(size / self.window.side)))


def action_effect_atlas(model: WorldModel, latents: np.ndarray, t: int) -> ActionEffects:
    """Predict one step from frame t (with its C-frame history) under every code, and decode."""
    k = model.codebook_size
    context = model.start_context(latents[: t + 1])  # [C, N, D]
    contexts = np.repeat(context[None], k, axis=0)  # [K, C, N, D]
    predicted = model.predict(contexts, model.codebook)  # [K, N, D]
    decoded = model.decode(np.concatenate([latents[t : t + 1], predicted]))  # [1+K, 3, H, W]
    current, next_frames = decoded[0], decoded[1:]
    pictures = to_uint8_frames(decoded)  # [1+K, H, W, 3]
    return ActionEffects(
        current=pictures[0],
        next_frames=pictures[1:],
        change=np.abs(next_frames - current[None]).mean(axis=(1, 2, 3)),
        window=where_codes_differ(pictures[1:], pictures[0]),
    )


def where_codes_differ(outcomes: np.ndarray, current: np.ndarray) -> Window | None:
    """The window of the outcomes [K, H, W, 3] uint8 where they differ most from one another: around the patch
    holding the most spread (each pixel's range over the codes, brightest channel, above the decoder's noise
    BOXED_CHANGE), with what changed there from the current frame [H, W, 3] (where the paddle was), a little
    room about it; a square of at least WINDOW_SHARE of the frame's shorter side and at most half of it. None
    when the outcomes differ nowhere: no code does anything visible that another does not."""
    height, width = outcomes.shape[1:3]
    spread = (outcomes.max(axis=0).astype(np.float32) - outcomes.min(axis=0)).max(axis=-1) / 255.0  # [H, W]
    if not (spread > BOXED_CHANGE).any():
        return None
    changed = np.abs(outcomes.astype(np.float32) - current[None]).max(axis=(0, -1)) / 255.0  # [H, W]
    # pixels of change two apart belong together: a paddle drawn in pieces, the place it left and where it went
    patches, _ = label(binary_dilation((spread > BOXED_CHANGE) | (changed > BOXED_CHANGE), iterations=2))
    held = np.bincount(patches.ravel(), weights=np.where(spread > BOXED_CHANGE, spread, 0.0).ravel())  # [patches + 1]
    rows, columns = find_objects(patches)[int(held[1:].argmax())]
    shorter = min(height, width)
    side = int(
        np.clip(max(rows.stop - rows.start, columns.stop - columns.start) + 4, WINDOW_SHARE * shorter, shorter // 2)
    )
    centre_row, centre_column = (rows.start + rows.stop) / 2, (columns.start + columns.stop) / 2
    return Window(
        top=int(np.clip(round(centre_row - side / 2), 0, height - side)),
        left=int(np.clip(round(centre_column - side / 2), 0, width - side)),
        side=side,
    )


def zoomed_change(current: np.ndarray, outcomes: np.ndarray, window: Window, scale: int) -> np.ndarray:
    """For each outcome [K, H, W, 3] uint8: the current frame's window [H, W, 3] beside the outcome's, each enlarged
    `scale` times (nearest neighbour), both brightened alike (at most MAX_BRIGHTENING times, the same for every
    code, so that the codes compare), each patch of the outcome that changed from the current frame boxed in
    magenta -> [K, s * side, 2 * s * side + s, 3] uint8."""
    before = window.of(current).astype(np.float32)  # [side, side, 3]
    after = window.of(outcomes).astype(np.float32)  # [K, side, side, 3]
    brightest = np.percentile(np.concatenate([before[None], after]).max(axis=-1), 99.5)
    gain = float(np.clip(255.0 / max(brightest, 1.0), 1.0, MAX_BRIGHTENING))

    def enlarged(window_pixels: np.ndarray) -> np.ndarray:  # [..., side, side, 3] -> [..., s * side, s * side, 3]
        bright = np.clip(window_pixels * gain, 0, 255).astype(np.uint8)
        return bright.repeat(scale, axis=-3).repeat(scale, axis=-2)

    changed = np.abs(after - before[None]).max(axis=-1) / 255.0 > BOXED_CHANGE  # [K, side, side]
    shown = enlarged(after)  # [K, s * side, s * side, 3]
    for picture, mask in zip(shown, changed):
        box_patches(picture, mask, scale, thickness=max(1, scale // 3))
    start = np.broadcast_to(enlarged(before), shown.shape)
    return side_by_side([start, shown], gap=scale)


def marked_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """`after` [..., H, W, 3] uint8 with what changed from `before` (same shape, or one frame) drawn in magenta,
    in proportion to the change, each patch of it framed by a magenta box one pixel outside, so that a change of
    a pixel or two can be found at a glance. The camera is followed first (`followed_camera`)."""
    before = np.broadcast_to(before, after.shape).reshape(-1, *after.shape[-3:])  # [P, H, W, 3]
    followed = np.stack([followed_camera(b, a) for b, a in zip(before, after.reshape(before.shape))])
    difference = np.abs(after.astype(np.float32) - followed.reshape(after.shape)).max(axis=-1) / 255.0  # [..., H, W]
    strength = np.clip(difference / FULL_MARK, 0.0, 1.0)[..., None]  # [..., H, W, 1]
    marked = (after * (1 - strength) + DIFF_COLOR * strength).astype(np.uint8)  # [..., H, W, 3]
    changed = difference > BOXED_CHANGE  # [..., H, W]
    flat_marked, flat_changed = marked.reshape(-1, *marked.shape[-3:]), changed.reshape(-1, *changed.shape[-2:])
    for picture, mask in zip(flat_marked, flat_changed):
        box_patches(picture, mask)
    return marked


def box_patches(picture: np.ndarray, mask: np.ndarray, scale: int = 1, thickness: int = 1) -> None:
    """Frame each patch (8-connected) of `mask` [h, w] bool in magenta on `picture` [s * h, s * w, 3], the mask
    enlarged `scale` times: a box `thickness` pixels wide just outside the patch, within the picture. One box per
    patch: the paddle's and the ball's apart."""
    height, width = picture.shape[:2]
    for rows, columns in find_objects(label(mask, structure=np.ones((3, 3)))[0]):
        top, bottom = max(rows.start * scale - thickness, 0), min(rows.stop * scale + thickness, height) - 1
        left, right = max(columns.start * scale - thickness, 0), min(columns.stop * scale + thickness, width) - 1
        for line in range(thickness):
            picture[[min(top + line, bottom), max(bottom - line, top)], left : right + 1] = DIFF_COLOR
            picture[top : bottom + 1, [min(left + line, right), max(right - line, left)]] = DIFF_COLOR


def followed_camera(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """`before` [H, W, 3] moved by the camera's shift to `after` (float32 [H, W, 3]), each pixel the nearest to
    `after`'s within one pixel; where the shift brings in what `before` did not show, `after` itself (new ground
    is not a change the action made)."""
    a, b = before.astype(np.float32), after.astype(np.float32)
    height, width = a.shape[:2]
    r = min(CAMERA_REACH, min(height, width) // 4)  # the inner part stays at least half the frame
    if r < 1:
        return a
    inner = b[r : height - r, r : width - r]  # [H - 2r, W - 2r, 3]

    def error(dy: int, dx: int) -> float:  # mean difference of the inner part when the scene moved by (dy, dx)
        return float(np.abs(inner - a[r - dy : height - r - dy, r - dx : width - r - dx]).mean())

    still = error(0, 0)
    dy, dx = min(((y, x) for y in range(-r, r + 1) for x in range(-r, r + 1)), key=lambda d: error(*d))
    if not error(dy, dx) < CAMERA_GAIN * still:  # a still screen, or nothing changed
        return a
    moved = b.copy()  # moved(p) = before(p - d) wherever p - d lies in the frame
    rows, columns = slice(max(dy, 0), height + min(dy, 0)), slice(max(dx, 0), width + min(dx, 0))
    moved[rows, columns] = a[max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)]
    padded = np.pad(moved, ((1, 1), (1, 1), (0, 0)), mode="edge")  # [H + 2, W + 2, 3]
    nearby = np.stack([padded[y : y + height, x : x + width] for y in range(3) for x in range(3)])  # [9, H, W, 3]
    nearest = np.abs(nearby - b[None]).sum(axis=-1).argmin(axis=0)  # [H, W]
    return np.take_along_axis(nearby, nearest[None, ..., None], axis=0)[0]


@dataclass(frozen=True)
class Agreement:
    """Codes against true actions on the same transitions."""

    matrix: np.ndarray  # [K, L] counts, code × true action
    actions: list[str]  # [L] names of the true actions
    nmi: float
    accuracy: float  # best one-to-one matching of codes to actions
    transitions: int


def agreement(codes: np.ndarray, true_actions: np.ndarray, codebook_size: int) -> Agreement:
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) != len(true_actions):
        raise ValueError(f"{len(codes)} codes but {len(true_actions)} true actions")
    matrix, used_codes, values = confusion_matrix(codes, true_actions)
    full = np.zeros((codebook_size, matrix.shape[1]), np.int64)  # a row for every code, used or not
    full[used_codes] = matrix
    return Agreement(
        matrix=full,
        actions=[_name(v) for v in values],
        nmi=normalized_mutual_information(codes, true_actions),
        accuracy=best_one_to_one_accuracy(codes, true_actions),
        transitions=len(codes),
    )


def _name(value) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def code_meanings(agreement: Agreement) -> dict[int, tuple[str, float]]:
    """For each code used, the true action it most often coincides with and the share of its transitions."""
    meanings = {}
    for code, row in enumerate(agreement.matrix):
        if row.sum():
            meanings[code] = (agreement.actions[int(row.argmax())], float(row.max() / row.sum()))
    return meanings


@dataclass(frozen=True)
class CodeMeanings:
    """What each code most often did, and where that was measured."""

    meanings: dict[int, tuple[str, float]]  # code -> (what it did, in words; the share of its starts or transitions)
    measured_on: str


def shipped_code_meanings(model: WorldModel) -> CodeMeanings | None:
    """What holding each code does to the player in the model's own rollouts, what a Play button does, as
    `studio evaluate` measured it (`code_consistency`) and wrote it in the bundle's manifest: on the held-out
    episodes first, else on the example clips. A code whose commonest vertical move is up (CoinRun's jump) is
    called a jump, with the share of starts it jumped from; any other by its move sideways. None when the
    manifest has neither."""
    game = find_game(model.manifest.trained_on.get("source"))
    player = game.PLAYER_NAME if game is not None else "player"
    for name, figures in measured_sets(model.manifest.metrics).items():
        held = figures.detail(CONSISTENCY_PER_CODE)
        if held:
            vertical = figures.detail(CONSISTENCY_VERTICAL_PER_CODE) or {}
            return CodeMeanings(
                {int(code): _meaning(f, vertical.get(code), player) for code, f in held.items() if f.get("starts")},
                f"the bundle's {MEASURED_SETS.get(name, name)}, each code held",
            )
    return None


def _meaning(sideways: dict, vertical: dict | None, player: str) -> tuple[str, float]:
    """(what holding a code does, the share of starts it did it from), from its per-code consistency figures."""
    if vertical is not None and vertical.get("direction") == "up":
        return JUMP_WORDS[sideways["direction"]].format(player=player), vertical["consistency"]
    return MOTION_WORDS[sideways["direction"]].format(player=player), sideways["consistency"]
