"""Finding the game screen in clips as people share them, against a reference of emulator frames."""

from __future__ import annotations

import numpy as np
import pytest

import clip_forms
from studio.screen import ScreenBox, ScreenError, check_box, crop_frames, find_screen, parse_box, sample_positions
from studio.video import resize_frames

NATIVE = (210, 160)


@pytest.fixture(scope="module")
def breakout() -> np.ndarray:
    return clip_forms.atari_frames("ALE/Breakout-v5", steps=40, seed=3)  # [T, 210, 160, 3]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The median of other Breakout frames than the clips', as `studio reference` makes it."""
    frames = np.concatenate([clip_forms.atari_frames("ALE/Breakout-v5", steps=60, seed=s) for s in (11, 12)])
    return np.median(frames, axis=0).astype(np.uint8)


def screen_of(frames: np.ndarray, reference: np.ndarray):
    return find_screen(frames[sample_positions(len(frames))], reference)


def native_error(frames: np.ndarray, box: ScreenBox, reference: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error (0-255) of the cropped frames at 64×64 against the emulator frames resized as in training."""
    cropped = resize_frames(crop_frames(frames, box, NATIVE, fill=reference), (64, 64)).astype(np.float64)
    return float(np.abs(cropped - resize_frames(truth, (64, 64)).astype(np.float64)).mean())


@pytest.mark.parametrize(
    "form, expected",
    [
        ("native", (0, 0, 210, 160)),
        ("two rows cut", (-1, 0, 210, 160)),
        ("ten rows cut top and bottom", (-10, 0, 210, 160)),
        ("2x nearest upscale", (0, 0, 420, 320)),
        ("letterboxed 720p", (45, 400, 630, 480)),
        ("emulator window", (50, 26, 420, 320)),
    ],
)
def test_the_screen_is_found_where_the_form_put_it(breakout, reference, form, expected):
    frames = {
        "native": lambda f: f,
        "two rows cut": lambda f: clip_forms.cut_rows(f, 1, 1),
        "ten rows cut top and bottom": lambda f: clip_forms.cut_rows(f, 10, 10),
        "2x nearest upscale": lambda f: clip_forms.resized(f, 420, 320, nearest=True),
        "letterboxed 720p": lambda f: clip_forms.letterboxed(f, scale=3.0),
        "emulator window": lambda f: clip_forms.emulator_window(f, scale=2),
    }[form](breakout)
    search = screen_of(frames, reference)
    assert search.found and search.match > 0.95
    top, left, height, width = search.box.as_list()
    # within one source pixel of each side (letterboxing rounds the scaled screen's size)
    assert (
        np.abs(
            np.array([top, left, top + height, left + width])
            - np.array([expected[0], expected[1], expected[0] + expected[2], expected[1] + expected[3]])
        ).max()
        <= 1
    )
    if form != "letterboxed 720p":  # bilinear scaling blurs; the others keep every pixel
        assert native_error(frames, search.box, reference, breakout) < 1.0


def test_odd_sizes_keep_the_whole_frame(breakout, reference):
    frames = clip_forms.resized(breakout, 211, 159)
    search = screen_of(frames, reference)
    assert search.box == ScreenBox(0, 0, 211, 159)


def test_another_game_has_no_breakout_screen(reference):
    pong = clip_forms.atari_frames("ALE/Pong-v5", steps=20, seed=1)
    search = screen_of(pong, reference)
    assert not search.found
    assert "no game screen" in search.note() and "analyzed whole" in search.note()


def test_the_cut_rows_are_filled_from_the_reference(breakout, reference):
    cut = clip_forms.cut_rows(breakout, 1, 1)  # [T, 208, 160, 3]
    box = ScreenBox(-1, 0, 210, 160)
    wrong = resize_frames(cut, (64, 64)).astype(np.float64)
    truth = resize_frames(breakout, (64, 64)).astype(np.float64)
    assert native_error(cut, box, reference, breakout) < np.abs(wrong - truth).mean() / 4


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,2,3,4,5"])
def test_a_malformed_box_is_refused(text):
    with pytest.raises(ScreenError, match="four whole numbers"):
        parse_box(text)


@pytest.mark.parametrize("box", [(300, 0, 100, 100), (0, 0, 1, 50), (-50, 0, 210, 160), (0, 100, 210, 160)])
def test_a_box_outside_the_frame_is_refused(box):
    with pytest.raises(ScreenError, match="outside the 160×210 frame|no area"):
        check_box(ScreenBox(*box), (210, 160))


def test_boxes_parse():
    assert parse_box("auto") == "auto"
    assert parse_box("none") is None and parse_box("") is None
    assert parse_box(" -1, 0, 210,160 ", (208, 160)) == ScreenBox(-1, 0, 210, 160)
