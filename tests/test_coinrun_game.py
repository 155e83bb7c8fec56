"""CoinRun's game module on real Procgen frames: what each action asks of the player, the player's motion read
off the scene's shift (against the true positions in Procgen's saved state), the frame check, the person-like
player, and its episodes through the training data pipeline."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from studio.games import coinrun, find_game, observed_movement_class
from studio.games.episodes import play_episode
from studio.train.data import DataConfig, ensure_data, load_episodes
from studio.video import resize_frames


def test_every_action_has_a_name_and_the_movement_class_it_asks_for():
    expected = {
        "LEFT+DOWN": "left",
        "LEFT": "left",
        "LEFT+UP": "left+jump",
        "DOWN": "none",
        "NOOP": "none",
        "UP": "jump",
        "RIGHT+DOWN": "right",
        "RIGHT": "right",
        "RIGHT+UP": "right+jump",
        **{key: "none" for key in ("D", "A", "W", "S", "Q", "E")},  # keys CoinRun ignores
    }
    classes = coinrun.movement_class(np.arange(len(coinrun.ACTION_NAMES)))
    assert {name: coinrun.MOVEMENT_CLASSES[c] for name, c in zip(coinrun.ACTION_NAMES, classes)} == expected
    assert coinrun.movement_class(np.array([-1, 15])).tolist() == [-1, -1]  # the last frame's placeholder
    assert find_game("procgen:coinrun") is coinrun


def agent_position(state: bytes) -> tuple[float, float]:
    """The player's position in level units from Procgen's saved state: the entity list follows the grid's
    size (64 × 64 cells for CoinRun), and the player is its first entity, x and y its first two floats."""
    at = state.find(struct.pack("<i", 64 * 64))
    while at >= 0:
        count, x, y = struct.unpack_from("<iff", state, at + 4)
        if 1 <= count < 1000 and 0 < x < 64 and 0 < y < 64:
            return x, y
        at = state.find(struct.pack("<i", 64 * 64), at + 1)
    raise AssertionError("no player in the saved state")


@pytest.fixture(scope="module")
def played():
    """1,000 steps of mixed moves (held 1-7 steps) over several levels: frames, actions, true positions, and
    whether each step started a new level."""
    rng = np.random.default_rng(3)
    env = coinrun.open_environment(500_000)
    frame, _ = env.reset()
    frames, actions, positions, new_level = [frame], [], [agent_position(env.env.get_state()[0])], [True]
    action, hold = coinrun.NOOP, 0
    for _ in range(1000):
        if hold == 0:
            action = int(rng.choice([coinrun.RIGHT, coinrun.RIGHT_JUMP, coinrun.LEFT, coinrun.LEFT_JUMP, 4, 5, 3]))
            hold = int(rng.integers(1, 8))
        hold -= 1
        frame, _, ended = env.step(action)
        frames.append(frame)
        actions.append(action)
        positions.append(agent_position(env.env.get_state()[0]))
        new_level.append(ended)
    env.close()
    return np.stack(frames), np.array(actions), np.array(positions), np.array(new_level)


def test_the_player_motion_read_off_the_scene_matches_its_true_moves(played):
    frames, actions, positions, new_level = played
    within = ~new_level[1:]  # transitions inside a level
    true = np.diff(positions, axis=0)[within] * coinrun.PIXELS_PER_UNIT  # [M, 2] pixels, x right, y up
    measured = coinrun.player_shift(frames[:-1], frames[1:])[within]  # [M, 2]
    error = np.abs(measured - true)
    assert np.median(error[:, 0]) < 0.2 and np.median(error[:, 1]) < 0.4  # fractions of a pixel
    sideways = (coinrun.direction(measured[:, 0]) == coinrun.direction(true[:, 0])).mean()
    vertical = (coinrun.direction(measured[:, 1]) == coinrun.direction(true[:, 1])).mean()
    assert sideways > 0.8 and vertical > 0.9  # measured here: 0.85-0.87 and 0.95-0.96 a step
    # the way a left or right action sent the player, where the player moved
    asked = actions[within] // 3 - 1  # -1 left, +1 right (all moves here are below 9)
    went = coinrun.direction(measured[:, 0])
    moved = (asked != 0) & (went != 0)
    assert (went[moved] == asked[moved]).mean() > 0.8
    # over two steps, as code consistency holds a code, the recorded motion and player_motion agree
    pairs = np.stack([frames[:-2], frames[1:-1], frames[2:]], axis=1)[:200]  # [200, 3, 64, 64, 3]
    two_steps = coinrun.player_motion(pairs)  # [200, 2]
    summed = coinrun.player_shift(pairs[:, 0], pairs[:, 1]) + coinrun.player_shift(pairs[:, 1], pairs[:, 2])
    assert np.array_equal(two_steps, coinrun.direction(summed))


def test_the_frame_check_passes_every_real_frame_and_fails_what_is_not_coinrun(played):
    frames = played[0]
    assert coinrun.frame_check(frames).all()
    no_player = frames[:5].copy()
    no_player[:, coinrun.PLAYER_ROWS, coinrun.PLAYER_COLUMNS] = frames[0, 0, 0]  # the player's box painted over
    others = np.stack(
        [
            np.zeros((64, 64, 3), np.uint8),
            np.full((64, 64, 3), 128, np.uint8),
            np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8),
        ]
    )
    assert not coinrun.frame_check(np.concatenate([no_player, others])).any()


def test_the_person_like_player_runs_right_jumps_and_sometimes_waits_or_turns():
    rng = np.random.default_rng(0)
    env = coinrun.open_environment(600_000)
    episodes = [play_episode(env, coinrun.behaviour_policy(0.2, 0, 4, rng), rng, 300) for _ in range(8)]
    env.close()
    actions = np.concatenate([e.actions[:-1] for e in episodes])
    shares = np.bincount(coinrun.movement_class(actions), minlength=6) / len(actions)
    left, none, right, left_jump, jump, right_jump = shares
    assert right + right_jump > 0.3 and right_jump > 0.05  # runs right, and jumps
    assert left + left_jump > 0.15 and none > 0.15  # turns back often enough for "left" to get a code, and waits
    moved = np.concatenate([coinrun.recorded_motion(e.native, e.ram) for e in episodes])
    assert np.mean(moved == -1) > 0.12  # and turning back moves it: it gives up against the level's left wall
    assert len(set(actions.tolist())) == len(coinrun.ACTION_NAMES)  # the random share presses every action
    assert all(len(e.native) > 5 for e in episodes)


def test_running_back_into_a_wall_it_turns_right_again():
    rng = np.random.default_rng(0)
    policy = coinrun.behaviour_policy(0.0, 0, 1, rng)
    wall_on_the_left = np.zeros((64, 64, 3), np.uint8)
    wall_on_the_left[coinrun.PLAYER_ROWS, : coinrun.CENTRE - 4] = 200  # solid from the player's left to the edge
    policy.heading, policy.turn_steps = -1, 50
    for _ in range(coinrun.STUCK_STEPS):
        policy.act(wall_on_the_left, None)
    assert policy.heading == 1 and policy.turn_steps == 0


def test_coinrun_episodes_go_through_the_data_pipeline_on_levels_apart(tmp_path):
    config = DataConfig(
        game="procgen:coinrun", train_episodes=2, heldout_episodes=1, max_episode_steps=60, view_window=16
    )
    data = ensure_data(config, tmp_path)
    train, heldout = load_episodes(data / "train"), load_episodes(data / "heldout")
    assert len(train) == 2 and len(heldout) == 1
    for episode in train + heldout:
        t = len(episode.frames)
        assert episode.frames.shape == (t, 64, 64, 3) and episode.ram.shape == (t, 0)
        assert set(episode.actions[:-1].tolist()) <= set(range(15)) and episode.actions[-1] == -1
        assert coinrun.frame_check(episode.frames).all()
    assert train[0].views.shape == train[0].frames.shape  # perturbed views of the 64×64 native frames
    with np.load(data / "heldout" / "episode_10000.npz") as shard:
        assert np.array_equal(shard["native"], shard["frames"])  # CoinRun's native frames are the 64×64 ones
    first, other = train[0].frames, heldout[0].frames
    assert len(first) != len(other) or not np.array_equal(first, other)  # another level
    assert json.loads((data / "data.json").read_text())["action_names"] == list(coinrun.ACTION_NAMES)


def test_a_screen_recording_is_the_games_own_finer_drawing_of_the_player_at_the_centre():
    rng = np.random.default_rng(0)
    frames = np.stack(list(coinrun.screen_recording(60, coinrun.behaviour_policy(0.3, 0, 4, rng), rng)))
    assert frames.shape == (60, 512, 512, 3) and frames.dtype == np.uint8
    seen = resize_frames(frames, (64, 64), "stretch")  # as the studio reads an upload of it
    assert coinrun.frame_check(seen).mean() > 0.9
    enlarged = seen.repeat(8, axis=1).repeat(8, axis=2)  # the 64×64 reading drawn back at 512
    assert np.abs(frames.astype(int) - enlarged).mean() > 2  # finer than the frames (them enlarged: 0)
    assert coinrun.recorded_motion(seen, np.zeros((60, 0), np.uint8)).tolist().count(1) > 10  # the player runs


def test_the_move_the_frames_show_is_read_as_a_movement_class(played):
    frame = played[0][10]  # [64, 64, 3] a real frame
    scene_left = np.roll(frame, -2, axis=1)  # the scene went left: the player went right
    scene_down = np.roll(frame, 3, axis=0)  # the scene went down: the player went up, a jump
    both = np.roll(scene_left, 3, axis=0)
    before = np.stack([frame] * 4)
    after = np.stack([frame, scene_left, scene_down, both])
    classes = observed_movement_class(coinrun, before, after)
    assert [coinrun.MOVEMENT_CLASSES[c] for c in classes] == ["none", "right", "jump", "right+jump"]
