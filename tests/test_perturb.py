"""Perturbations of native frames: the tolerance forms and the random training views."""

from __future__ import annotations

import numpy as np

from studio.perturb import TOLERANCE_FORMS, Perturbation, perturbed_views, reencode_h264
from studio.video import resize_frames


def native_frames(count: int = 6) -> np.ndarray:
    frames = np.zeros((count, 210, 160, 3), np.uint8)
    frames[:, 30:40] = 142
    for i in range(count):
        frames[i, 180:184, 40 + 4 * i : 56 + 4 * i] = (200, 72, 72)
    return frames


def test_tolerance_forms_keep_the_picture():
    frames = native_frames()
    clean = resize_frames(frames, (64, 64)).astype(np.float32)
    for name, form in TOLERANCE_FORMS.items():
        seen = resize_frames(form(frames), (64, 64)).astype(np.float32)
        assert seen.shape == clean.shape, name
        assert np.abs(seen - clean).mean() < 12, name  # changed, yet the same picture


def test_h264_round_trip_is_close_and_keeps_the_count():
    frames = native_frames()
    out = reencode_h264(frames, crf=18)
    assert out.shape == frames.shape and np.abs(out.astype(int) - frames).mean() < 4


def test_views_share_one_perturbation_per_window_and_are_reproducible():
    frames = native_frames(8)
    first = perturbed_views(frames, (64, 64), window=4, rng=np.random.default_rng(3))
    again = perturbed_views(frames, (64, 64), window=4, rng=np.random.default_rng(3))
    assert first.shape == (8, 64, 64, 3) and first.dtype == np.uint8 and np.array_equal(first, again)
    rng = np.random.default_rng(0)
    draws = [Perturbation.draw(rng, 210, 160) for _ in range(200)]
    assert {d.codec for d in draws} == {"none", "jpeg", "h264"}
