"""The Breakout frame check and paddle finder on frames drawn from the layout they describe."""

from __future__ import annotations

import numpy as np

from studio.games import breakout


def breakout_frame(paddle_left: int = 20) -> np.ndarray:
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[breakout.TOP_BAR_ROWS] = 142
    frame[breakout.WALL_ROWS, breakout.LEFT_WALL] = 142
    frame[breakout.WALL_ROWS, breakout.RIGHT_WALL] = 142
    frame[17:29, 3:61] = (200, 72, 72)  # bricks
    frame[46:48, 30:32] = (200, 72, 72)  # the ball
    frame[58, paddle_left : paddle_left + 6] = (200, 72, 72)
    return frame


def test_frame_check_passes_the_game_and_fails_what_is_not():
    frames = np.stack(
        [
            breakout_frame(),
            np.zeros((64, 64, 3), np.uint8),
            np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8),
        ]
    )
    no_paddle = breakout_frame()
    no_paddle[breakout.PADDLE_ROWS] = 0
    lit_playfield = breakout_frame()
    lit_playfield[35:45, 10:40] = 200
    assert breakout.frame_check(np.concatenate([frames, no_paddle[None], lit_playfield[None]])).tolist() == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_paddle_finder_and_its_direction():
    x = breakout.player_column(np.stack([breakout_frame(20), breakout_frame(24), breakout_frame(24)]))
    assert abs(x[0] - 22.5) < 0.01 and abs(x[1] - 26.5) < 0.01
    empty = breakout.player_column(np.zeros((1, 64, 64, 3), np.uint8))
    assert np.isnan(empty[0])
    way = breakout.player_direction(np.array([x[0], x[1], x[1], x[0]]), np.array([x[1], x[0], x[2], empty[0]]))
    assert way[:3].tolist() == [1.0, -1.0, 0.0] and np.isnan(way[3])


def test_named_labels_read_the_paddle_ball_and_score_from_the_ram_of_a_real_game():
    """The score column is the sum of the game's own rewards at every frame (the RAM keeps it in decimal digits)."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(breakout.ENV_ID, frameskip=4, repeat_action_probability=0.0)
    frame, _ = env.reset(seed=3)
    policy = breakout.TrackingPolicy(0.2, 10, 2, np.random.default_rng(0))
    ram, rams, score, scores = env.unwrapped.ale.getRAM().copy(), [], 0.0, []
    for _ in range(1500):  # about 20 points: the tens digit changes too
        frame, reward, terminated, truncated, _ = env.step(policy.act(frame, ram))
        ram, score = env.unwrapped.ale.getRAM().copy(), score + reward
        rams.append(ram)
        scores.append(score)
        if terminated or truncated:
            break
    env.close()
    rams = np.stack(rams)  # [T, 128]
    labels = breakout.frame_labels(np.zeros((len(rams), 64, 64, 3), np.uint8), np.zeros(len(rams), int), rams)
    assert max(scores) >= 10
    assert labels["score"].tolist() == scores
    assert labels["paddle_x"].tolist() == rams[:, breakout.PADDLE_X].tolist()
    assert list(labels)[:4] == ["paddle_x", "ball_x", "ball_y", "score"] and len(labels) == 4 + 128
