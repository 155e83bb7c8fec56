"""Breakout's sprite figures (`studio.games.breakout`: live ball, paddle drawn, smeared field, ball kept),
calibrated on real emulator frames box-filtered to 64×64 and shown to fail what is not a ball or a paddle."""

from __future__ import annotations

import numpy as np
import pytest

from studio.games import breakout
from studio.games.episodes import play_episode
from studio.games.sprites import median_background
from studio.video import resize_frames


@pytest.fixture(scope="module")
def played():
    """A real episode of the ball-tracking player: 64×64 frames, their RAM and the clip's median background."""
    env = breakout.open_environment(11)
    episode = play_episode(env, breakout.TrackingPolicy(0.5, 20, 2, np.random.default_rng(4)), None, 600)
    env.close()
    frames = resize_frames(episode.native, (64, 64), "stretch")  # [T, 64, 64, 3]
    return frames, episode.ram, median_background([frames], 200)


def test_a_real_ball_is_found_where_the_ram_says_and_moves_as_a_ball(played):
    frames, ram, background = played
    centres = breakout.ball_positions(frames, background)  # [T, 2]
    both = ~np.isnan(centres[1:, 0]) & ~np.isnan(centres[:-1, 0])
    live = breakout.live_ball(frames, background)
    assert both.mean() > 0.4  # the player keeps a ball in play most of the time
    assert live[both].mean() >= 0.98  # a ball shown in two frames in a row has moved as a ball does
    assert not live[~both].any()
    found = ~np.isnan(centres[:, 0])
    column_of_ram = np.corrcoef(centres[found, 1], ram[found, breakout.BALL_X].astype(float))[0, 1]
    row_of_ram = np.corrcoef(centres[found, 0], ram[found, breakout.BALL_Y].astype(float))[0, 1]
    assert column_of_ram > 0.98 and row_of_ram > 0.98


def test_real_frames_draw_one_paddle_and_no_smear(played):
    frames, _, background = played
    assert breakout.paddle_drawn(frames).all()
    assert not breakout.field_smeared(frames, background).any()


def test_what_is_not_a_ball_or_a_paddle_is_refused(played):
    frames, _, background = played
    centres = breakout.ball_positions(frames, background)
    t = int(np.flatnonzero(~np.isnan(centres[:, 0]))[0])
    blob = frames[t].copy()
    blob[40:43, 20:23] = (200, 72, 72)  # a 3×3 blob: 9 pixels, not a ball, and a smear
    faint = frames[t].copy()
    faint[40:44, 20:24] = 15  # off the background by 45 summed: not a pixel of anything
    wide = frames[t].copy()
    wide[58, 10:40] = (200, 72, 72)  # a bar along the bottom
    two = frames[t].copy()
    two[58, 45:50] = (200, 72, 72)  # a second paddle
    judged = np.stack([frames[t], blob, faint, wide, two])
    assert np.isnan(breakout.ball_positions(blob[None], background)[0, 0])
    assert breakout.field_smeared(judged, background).tolist() == [False, True, False, False, False]
    assert breakout.paddle_drawn(judged).tolist() == [True, True, True, False, False]
    still = np.stack([frames[t], frames[t]])
    assert not breakout.live_ball(still, background).any()  # a ball that does not move is not live


def test_a_ball_is_kept_where_the_prediction_shows_it_near_the_true_one(played):
    frames, _, background = played
    centres = breakout.ball_positions(frames, background)
    with_ball = np.flatnonzero(~np.isnan(centres[:, 0]))[:20]
    truth = frames[with_ball]
    ball = breakout.open_field_off_background(truth, background)  # [T, H, W]: the ball's pixels
    erased = np.where(ball[..., None], 0, truth).astype(np.uint8)  # the open field is black behind the ball
    moved = np.stack([np.roll(b, 10 if c < 32 else -10, axis=1) for b, c in zip(ball, centres[with_ball, 1])])
    far = np.where(moved[..., None], np.uint8(200), erased)  # the ball drawn 10 pixels to the side
    assert np.array_equal(breakout.ball_kept(truth, truth, background), np.ones(len(truth)))
    assert not np.nansum(breakout.ball_kept(erased, truth, background))
    assert not np.nansum(breakout.ball_kept(far, truth, background))
    no_ball = np.flatnonzero(np.isnan(centres[:, 0]))[:3]
    assert np.isnan(breakout.ball_kept(frames[no_ball], frames[no_ball], background)).all()
