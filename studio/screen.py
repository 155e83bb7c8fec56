"""Finding the game's screen in a clip: the box that reproduces the frames a bundle was trained on.

A clip as people share it holds the game's screen somewhere inside it: behind black bars, inside an
emulator window, rescaled, or with a few rows cut by an encoder. Cropping black borders is not enough
(a game's own screen has black margins), so the box is judged against what the bundle knows: a reference
image of its training frames at their native size (their median). The clip's frames are registered to it
over position and scale:

1. rows: the mean intensity of each clip row, compared (normalised cross-correlation, so bars and window
   frames beside the screen only add a constant) with the reference's row means area-resampled to every
   candidate (top, height), first at a coarse scale, then in source pixels around the best;
2. columns: the same within the rows found;
3. the box in 2D: coordinate steps of one source pixel on each side, scoring the crop resized to the native
   size against the reference.

A box may overhang the frame a little (the rows an encoder cut): `crop_frames` fills what the clip lacks
from the reference, so what is there lands where it belongs. A box that scores no better than the whole
frame is the whole frame; one that scores below `MIN_MATCH` is no screen at all.

This needs a game whose screen keeps one layout (Breakout's walls, bricks and score bar: its own clips match
the reference at 0.99 or more). A game that scrolls through generated levels (CoinRun) has no such layout:
its own clips match their median frame at 0.57-0.83, and a search would cut a piece of its screen that
happens to match better. A bundle's reference records how well its game's own clips match
(`whole_frame_match` on fresh episodes); below `MIN_MATCH` the studio does not search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

MIN_MATCH = 0.8  # correlation of the found screen with the reference below which no screen is found
MAX_OVERHANG = 0.125  # share of the box's height or width that may lie outside the frame (rows cut)
COARSE_ROWS = 120  # the clip's profile is searched at about this many rows first,
COARSE_BINS = 60  # against the reference's profile in this many bins
CANDIDATES = 4  # placements of rows, and of columns, kept from the 1D search for the 2D match to judge
MIN_SCREEN_SHARE = 0.15  # the screen spans at least this share of the frame's height and width
WHOLE_FRAME_TOLERANCE = 2.0  # the whole frame is kept unless a box leaves less than 1/this of its mismatch
SAMPLE_FRAMES = 9  # frames, spread over the clip, the screen is found from


class ScreenError(ValueError):
    """A crop box that cannot be used; the message says why, in words meant for the user."""


@dataclass(frozen=True)
class ScreenBox:
    """Where the game's screen is in a clip's frames, in source pixels; may overhang the frame a little."""

    top: int
    left: int
    height: int
    width: int

    def as_list(self) -> list[int]:
        return [self.top, self.left, self.height, self.width]

    def __str__(self) -> str:
        return ",".join(str(v) for v in self.as_list())

    def is_whole(self, frame_size: tuple[int, int]) -> bool:
        return self.as_list() == [0, 0, *frame_size]


@dataclass(frozen=True)
class ScreenSearch:
    """The outcome of looking for the screen: the box (None: not found, the clip is read whole) and how well
    the crop matches the reference (correlation in [-1, 1])."""

    box: ScreenBox | None
    match: float
    frame_size: tuple[int, int]  # (height, width) of the clip's frames

    @property
    def found(self) -> bool:
        return self.box is not None

    def note(self) -> str:
        h, w = self.frame_size
        if self.box is None:
            return (
                f"no game screen like this model's was found in the {w}×{h} frames (best match "
                f"{self.match:.2f}); the clip is analyzed whole"
            )
        if self.box.is_whole(self.frame_size):
            return f"the game screen fills the {w}×{h} frames (match {self.match:.2f})"
        return (
            f"game screen found at top {self.box.top}, left {self.box.left}, {self.box.width}×{self.box.height} "
            f"in the {w}×{h} frames (match {self.match:.2f})"
        )


def parse_box(text: str, frame_size: tuple[int, int] | None = None) -> ScreenBox | None | str:
    """'auto' -> 'auto', 'none' or '' -> None, 'TOP,LEFT,HEIGHT,WIDTH' -> a box (checked against the frame
    when its size is known). Raises ScreenError with a message for anything else."""
    text = (text or "").strip().lower()
    if text == "auto":
        return "auto"
    if text in ("", "none"):
        return None
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ScreenError(f"a crop box is four whole numbers TOP,LEFT,HEIGHT,WIDTH (or 'auto' or 'none'), got {text!r}")
    box = ScreenBox(*values)
    if frame_size is not None:
        check_box(box, frame_size)
    return box


def check_box(box: ScreenBox, frame_size: tuple[int, int]) -> None:
    """Refuse, with a message, a box of no size or one lying (beyond a small overhang) outside the frame."""
    h, w = frame_size
    if box.height < 2 or box.width < 2:
        raise ScreenError(f"the crop box {box} has no area: its height and width must be at least 2 pixels")
    over_h, over_w = int(MAX_OVERHANG * box.height), int(MAX_OVERHANG * box.width)
    if (
        box.top < -over_h
        or box.left < -over_w
        or box.top + box.height > h + over_h
        or box.left + box.width > w + over_w
    ):
        raise ScreenError(
            f"the crop box {box} (top, left, height, width) lies outside the {w}×{h} frame: it must stay "
            f"within rows 0–{h} and columns 0–{w}, give or take {MAX_OVERHANG:.0%} of its size"
        )


def sample_positions(count: int, samples: int = SAMPLE_FRAMES) -> np.ndarray:
    """[S] frame indices spread evenly over a clip of `count` frames."""
    return np.unique(np.linspace(0, max(count - 1, 0), min(samples, max(count, 1))).round().astype(np.int64))


def whole_frame_match(frames: np.ndarray, reference: np.ndarray) -> float:
    """How well frames [S, h, w, 3] uint8 (spread over a clip) match the reference [H0, W0, 3] uint8 whole."""
    image = _mean_image(frames)
    return _match(image, _gray(reference), ScreenBox(0, 0, *image.shape))


def find_screen(frames: np.ndarray, reference: np.ndarray) -> ScreenSearch:
    """Register frames [S, h, w, 3] uint8 (spread over a clip) to the reference [H0, W0, 3] uint8."""
    image = _mean_image(frames)
    ref = _gray(reference)  # [H0, W0]
    h, w = image.shape
    candidates = []
    for top, height in _register_1d(image.mean(axis=1), ref.mean(axis=1), h):
        rows = image[max(top, 0) : min(top + height, h)]
        for left, width in _register_1d(rows.mean(axis=0), ref.mean(axis=0), w):
            box = ScreenBox(top, left, height, width)
            candidates.append((_match(image, ref, box), box))
    match, box = max(candidates, key=lambda c: c[0])
    box = _whole_factor(image, ref, _refine(image, ref, box))
    match = _match(image, ref, box)
    whole = ScreenBox(0, 0, h, w)
    whole_match = _match(image, ref, whole)
    if 1 - whole_match <= WHOLE_FRAME_TOLERANCE * (1 - match):
        box, match = whole, whole_match
    return ScreenSearch(box if match >= MIN_MATCH else None, match, (h, w))


@dataclass(frozen=True)
class ScreenCrop:
    """How a clip's frames become the game's screen: the box, the size it is resized to first (H, W), and
    the reference image that fills what the clip lacks (black when None)."""

    box: ScreenBox
    size: tuple[int, int]
    fill: np.ndarray | None = None

    @classmethod
    def for_model(
        cls, box: ScreenBox, native: tuple[int, int], model: tuple[int, int], fill: np.ndarray | None = None
    ) -> ScreenCrop:
        """Through the size the box is a whole multiple of, so a nearest-neighbour upscale is undone exactly:
        the model's frame size when the box is a multiple of it and not of the native size (a clip made from
        frames at the model's size, as a bundle's examples are), else the game's native size."""

        def multiple(of: tuple[int, int]) -> bool:
            return box.height % of[0] == 0 and box.width % of[1] == 0 and box.height // of[0] == box.width // of[1]

        size = model if multiple(model) and not multiple(native) else native
        return cls(box, size, fill)

    def to_screen(self, frames: np.ndarray) -> np.ndarray:
        return crop_frames(frames, self.box, self.size, self.fill)


def crop_frames(
    frames: np.ndarray, box: ScreenBox, native: tuple[int, int], fill: np.ndarray | None = None
) -> np.ndarray:
    """[T, h, w, 3] uint8 -> [T, H0, W0, 3]: the box resized to `native` (H0, W0) with PIL's area filter.
    Resizing to the game's native size first, and from there to the model's as training did, undoes a
    nearest-neighbour upscale exactly, which resizing the box straight to the model's size does not. Where
    the box overhangs the frame, `fill` (the reference image, any size) stands in, so the clip's pixels
    land where they belong; black without it."""
    t, h, w = frames.shape[:3]
    size = native[::-1]  # PIL's (W, H)
    if box.as_list() == [0, 0, *native] and (h, w) == native:
        return np.ascontiguousarray(frames)
    inside = box.top >= 0 and box.left >= 0 and box.top + box.height <= h and box.left + box.width <= w
    out = np.empty((t, *native, 3), np.uint8)
    if inside:
        region = (box.left, box.top, box.left + box.width, box.top + box.height)
        for i in range(t):
            out[i] = np.asarray(Image.fromarray(frames[i]).resize(size, Image.BOX, box=region))
        return out
    if fill is None:
        canvas = np.zeros((box.height, box.width, 3), np.uint8)
    else:
        canvas = np.asarray(Image.fromarray(fill).resize((box.width, box.height), Image.BOX)).copy()
    y0, x0 = max(box.top, 0), max(box.left, 0)
    y1, x1 = min(box.top + box.height, h), min(box.left + box.width, w)
    for i in range(t):
        canvas[y0 - box.top : y1 - box.top, x0 - box.left : x1 - box.left] = frames[i, y0:y1, x0:x1]
        out[i] = np.asarray(Image.fromarray(canvas).resize(size, Image.BOX))
    return out


def _mean_image(frames: np.ndarray) -> np.ndarray:
    """Frames [S, h, w, 3] uint8 -> their mean [h, w] in gray: the sprites fade out, the layout stays."""
    return _gray(np.asarray(frames).sum(axis=0, dtype=np.uint16) / len(frames))


def _gray(image: np.ndarray) -> np.ndarray:
    """[h, w, 3] -> [h, w] float32 luma."""
    return np.asarray(image, np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)


def _register_1d(profile: np.ndarray, ref_profile: np.ndarray, length: int) -> list[tuple[int, int]]:
    """The best few (start, size) in source pixels where `profile` [length] matches `ref_profile` [L0]
    area-resampled to `size`: searched coarse (about COARSE_ROWS bins), each refined in source pixels."""
    factor = max(1, -(-length // COARSE_ROWS))
    coarse = profile[: length // factor * factor].reshape(-1, factor).mean(axis=1)  # [length / factor]
    n = len(coarse)
    sizes = np.arange(max(2, int(MIN_SCREEN_SHARE * n)), int(n * (1 + 2 * MAX_OVERHANG)) + 1)
    starts, sizes = _placements(n, sizes)
    score = _placement_scores(coarse, _area_resample(ref_profile, COARSE_BINS), starts, sizes)
    found = []
    for i in np.argsort(-score):
        if len(found) == CANDIDATES or not np.isfinite(score[i]):
            break
        if any(abs(starts[i] - s) <= 2 and abs(sizes[i] - z) <= 2 for s, z in found):
            continue  # a neighbour of one already kept
        found.append((int(starts[i]), int(sizes[i])))
    refined = []
    for start, size in found:
        fine_sizes = np.arange(max(2, (size - 1) * factor), (size + 1) * factor + 1)
        fine_starts, fine_sizes = _placements(
            length, fine_sizes, np.arange((start - 2) * factor, (start + 2) * factor + 1)
        )
        fine = _placement_scores(profile, ref_profile, fine_starts, fine_sizes)
        best = int(np.argmax(fine))
        refined.append((int(fine_starts[best]), int(fine_sizes[best])))
    return refined or [(0, length)]


def _area_resample(profile: np.ndarray, bins: int) -> np.ndarray:
    """[L] -> [min(L, bins)] means over equal spans."""
    if len(profile) <= bins:
        return profile
    cumulative = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
    edges = np.linspace(0, len(profile), bins + 1)
    return np.diff(np.interp(edges, np.arange(len(profile) + 1), cumulative)) / np.diff(edges)


def _placements(n: int, sizes: np.ndarray, starts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All allowed (start [P], size [P]) pairs: every start (or the given ones) overhanging [0, n) by at most
    MAX_OVERHANG of the size."""
    starts = np.arange(-int(MAX_OVERHANG * sizes.max()), n + 1) if starts is None else starts
    start, size = np.meshgrid(starts, sizes, indexing="ij")
    over = (MAX_OVERHANG * size).astype(np.int64)
    allowed = (start >= -over) & (start + size <= n + over)
    return start[allowed], size[allowed]


def _placement_scores(
    profile: np.ndarray, ref_profile: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """[P] normalised cross-correlation of the profile [n], area-averaged over the bins of each placement,
    with the reference profile [bins], over the bins inside [0, n)."""
    n, bins = len(profile), len(ref_profile)
    cumulative = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])  # [n + 1]
    edges = starts[:, None] + np.arange(bins + 1)[None] * (sizes[:, None] / bins)  # [P, bins + 1]
    inside = (edges[:, :-1] >= 0) & (edges[:, 1:] <= n)  # [P, bins]
    edges = np.clip(edges, 0, n)
    sums = np.interp(edges, np.arange(n + 1), cumulative)
    means = np.diff(sums, axis=1) / np.maximum(np.diff(edges, axis=1), 1e-9)  # [P, bins]
    return _masked_ncc(means, np.broadcast_to(ref_profile - ref_profile.mean(), means.shape), inside)


def _masked_ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise normalised cross-correlation of a and b [S, L] over the positions where mask is True."""
    weight = mask.astype(np.float64)
    count = np.maximum(weight.sum(axis=1, keepdims=True), 1.0)
    a = a - (a * weight).sum(axis=1, keepdims=True) / count
    b = b - (b * weight).sum(axis=1, keepdims=True) / count
    num = (a * b * weight).sum(axis=1)
    den = np.sqrt((a * a * weight).sum(axis=1) * (b * b * weight).sum(axis=1))
    # a placement that keeps too little of the reference inside the frame cannot be judged
    return np.where(weight.mean(axis=1) > 1 - 2 * MAX_OVERHANG, num / np.maximum(den, 1e-9), -np.inf)


def _match(image: np.ndarray, ref: np.ndarray, box: ScreenBox) -> float:
    """Correlation of the clip image [h, w] cropped to the box and resized to the reference's size [H0, W0],
    with the reference, over the part of the box inside the frame."""
    h, w = image.shape
    if box.height < 2 or box.width < 2:
        return -1.0
    y0, x0, y1, x1 = max(box.top, 0), max(box.left, 0), min(box.top + box.height, h), min(box.left + box.width, w)
    if (y0, x0, y1, x1) == (box.top, box.left, box.top + box.height, box.left + box.width):
        source, region = image, (x0, y0, x1, y1)
    else:  # PIL resizes regions inside an image only: the overhang becomes zeros, outside the mask below
        source, region = np.zeros((box.height, box.width), np.float32), None
        source[y0 - box.top : y1 - box.top, x0 - box.left : x1 - box.left] = image[y0:y1, x0:x1]
    crop = np.asarray(Image.fromarray(source, mode="F").resize(ref.shape[::-1], Image.BOX, box=region), np.float64)
    rows = (np.arange(ref.shape[0]) + 0.5) * box.height / ref.shape[0] + box.top
    cols = (np.arange(ref.shape[1]) + 0.5) * box.width / ref.shape[1] + box.left
    mask = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None]  # [H0, W0]
    if mask.mean() < 1 - 2 * MAX_OVERHANG:
        return -1.0
    a, b = crop[mask] - crop[mask].mean(), ref[mask] - ref[mask].mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-9))


def _whole_factor(image: np.ndarray, ref: np.ndarray, box: ScreenBox) -> ScreenBox:
    """A box within a pixel or two of a whole multiple of the reference's size (a nearest-neighbour upscale,
    as emulators and screen recorders scale) is taken at that multiple when it matches as well: the native
    step of `crop_frames` then undoes the upscale exactly."""
    factor = round(box.height / ref.shape[0])
    height, width = factor * ref.shape[0], factor * ref.shape[1]
    if (
        factor < 1
        or abs(box.height - height) > 2
        or abs(box.width - width) > 2
        or (height, width) == (box.height, box.width)
    ):
        return box
    best, best_match = box, _match(image, ref, box) - 0.002  # the whole multiple wins a near tie
    for top in range(box.top - 2, box.top + 3):
        for left in range(box.left - 2, box.left + 3):
            candidate = ScreenBox(top, left, height, width)
            match = _match(image, ref, candidate)
            if match > best_match:
                best, best_match = candidate, match
    return best


def _refine(image: np.ndarray, ref: np.ndarray, box: ScreenBox, rounds: int = 4) -> ScreenBox:
    """Coordinate steps of one source pixel on each side of the box while the match improves."""
    best, best_match = box, _match(image, ref, box)
    for _ in range(rounds):
        improved = False
        for side in range(4):
            for step in (-1, 1):
                top, left, bottom, right = best.top, best.left, best.top + best.height, best.left + best.width
                edges = [top, left, bottom, right]
                edges[side] += step
                candidate = ScreenBox(edges[0], edges[1], edges[2] - edges[0], edges[3] - edges[1])
                match = _match(image, ref, candidate)
                if match > best_match + 1e-6:
                    best, best_match, improved = candidate, match, True
        if not improved:
            break
    return best


def draw_box(frame: np.ndarray, box: ScreenBox, width: int = 480) -> np.ndarray:
    """A source frame [h, w, 3] uint8 with the box drawn on it in magenta, scaled to `width` pixels (at most
    4x up, so a tiny clip stays visible), [h', width', 3]."""
    h, w = frame.shape[:2]
    scale = min(width / w, 4.0)
    image = Image.fromarray(frame).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    top, left = box.top * scale, box.left * scale
    bottom, right = (box.top + box.height) * scale - 1, (box.left + box.width) * scale - 1
    for inset in range(2):  # two pixels thick, clipped to the picture where the box overhangs it
        draw.rectangle(
            [
                max(left + inset, 0),
                max(top + inset, 0),
                min(right - inset, image.width - 1),
                min(bottom - inset, image.height - 1),
            ],
            outline=(255, 0, 255),
        )
    return np.asarray(image)
