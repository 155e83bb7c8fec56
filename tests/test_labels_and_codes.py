"""Labels CSVs, code metrics and the action-code analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from studio import figures as F
from studio.action_codes import (
    DIFF_COLOR,
    WINDOW_COLOR,
    Window,
    action_effect_atlas,
    agreement,
    exemplars,
    marked_change,
    shipped_code_meanings,
    where_codes_differ,
    zoomed_change,
)
from studio.figures import FigureSet
from studio.labels import LabelsError, parse_labels, read_labels
from studio.metrics import best_one_to_one_accuracy, code_perplexity, confusion_matrix, normalized_mutual_information
from studio.runtime import ActionInference, WorldModel


def test_labels_parse_numbers_and_text():
    labels = parse_labels("frame,action,action_name,score\n0,2,RIGHT,1.5\n1,3,LEFT,2\n2,0,NOOP,2\n")
    assert labels.frames.tolist() == [0, 1, 2]
    assert labels.is_numeric("score") and not labels.is_numeric("action_name")
    assert labels.at("action_name", np.array([2, 0]), clip_frames=3).tolist() == ["NOOP", "RIGHT"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("action\n1\n", "needs a 'frame' column"),
        ("frame,action\n", "at least one row"),
        ("frame,action\n0,1\n1\n", "row 3 of the labels file has 1 cells"),
        ("frame,action\n0,1\n0,2\n", "repeats a frame number"),
        ("frame,action\nzero,1\n", "must hold frame numbers"),
        ("frame\n0\n", "no column besides 'frame'"),
    ],
)
def test_bad_labels_are_refused_with_a_reason(text, message):
    with pytest.raises(LabelsError, match=message):
        parse_labels(text)


def test_labels_missing_a_frame_of_the_clip_are_refused():
    labels = parse_labels("frame,action\n0,1\n1,2\n")
    with pytest.raises(LabelsError, match="no row for frame 5"):
        labels.at("action", np.array([0, 5]), clip_frames=6)


def test_labels_running_past_the_clip_are_refused_though_they_cover_its_frames():
    """Labels made for a longer clip cover a short clip's frames; every tab reads them through `Labels.at`."""
    labels = parse_labels("frame,action\n" + "".join(f"{t},1\n" for t in range(10)))
    assert labels.at("action", np.array([0, 4]), clip_frames=10).tolist() == [1, 1]
    with pytest.raises(LabelsError, match=r"run to frame 9, past the clip.s last frame, 4 \(frames count from 0\)"):
        labels.at("action", np.array([0, 4]), clip_frames=5)


def test_oversized_and_binary_label_files_are_refused(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("frame,a\n" + "0,1\n" * 100)
    with pytest.raises(LabelsError, match="the limit is"):
        read_labels(big, max_bytes=100)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(LabelsError, match="not UTF-8"):
        read_labels(binary)


def test_agreement_metrics_match_references():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 8, 2000)
    truth = np.where(rng.random(2000) < 0.8, codes % 4, rng.integers(0, 4, 2000))
    assert normalized_mutual_information(codes, truth) == pytest.approx(normalized_mutual_info_score(truth, codes))
    assert normalized_mutual_information(codes - 3, truth) == pytest.approx(normalized_mutual_info_score(truth, codes))
    assert normalized_mutual_information(np.zeros(50, int), truth[:50]) == 0.0
    assert best_one_to_one_accuracy(np.array([5, 5, 7, 7]), np.array(["a", "a", "b", "b"])) == 1.0
    assert code_perplexity(np.array([0, 1, 2, 3]), 8) == pytest.approx(4.0)
    assert code_perplexity(np.array([2, 2, 2]), 8) == pytest.approx(1.0)
    counts, code_values, truth_values = confusion_matrix(codes, truth.astype(str))
    assert (counts == contingency_matrix(codes, truth.astype(str))).all() and truth_values.tolist() == list("0123")
    assert code_values.tolist() == list(range(8))


def test_agreement_has_a_row_for_every_code():
    result = agreement(np.array([0, 0, 3, 3]), np.array(["LEFT", "LEFT", "RIGHT", "RIGHT"]), codebook_size=5)
    assert result.matrix.shape == (5, 2) and result.matrix[3, 1] == 2 and result.matrix[1].sum() == 0
    assert result.nmi == pytest.approx(1.0) and result.accuracy == 1.0


def test_exemplars_are_ordered_by_confidence():
    distances = np.array([[0.1, 0.9], [0.4, 0.5], [0.2, 2.0], [1.0, 0.1]], np.float32)
    actions = ActionInference(codes=distances.argmin(1), vectors=np.zeros((4, 2), np.float32), distances=distances)
    assert exemplars(actions, per_code=2) == {0: [2, 0], 1: [3]}


def test_action_effect_atlas_decodes_one_next_frame_per_code(tiny_bundle):
    model = WorldModel.load(tiny_bundle, device="cpu")
    frames = np.random.default_rng(1).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    effects = action_effect_atlas(model, model.encode(frames), t=3)
    assert effects.next_frames.shape == (model.codebook_size, 16, 16, 3)
    assert effects.next_frames.dtype == np.uint8 and effects.change.shape == (model.codebook_size,)
    assert len({frame.tobytes() for frame in effects.next_frames}) > 1  # the codes do different things
    assert effects.window is not None  # so there is a window where they differ


def paddles(xs: list[int]) -> np.ndarray:
    """Black 64x64 Breakout-like frames [len(xs), 64, 64, 3]: a red paddle 6 wide at column x of rows 57-58 in
    each, and the ball at (30, 30)."""
    frames = np.zeros((len(xs), 64, 64, 3), np.uint8)
    for frame, x in zip(frames, xs):
        frame[57:59, x : x + 6] = [200, 60, 60]
        frame[30, 30] = 255
    return frames


def test_the_atlas_window_holds_where_the_codes_outcomes_differ_and_where_the_paddle_was():
    current = paddles([30])[0]
    current[30, 30], current[28, 28] = 0, 255  # the ball moves under every code alike: not what tells codes apart
    outcomes = paddles([27, 33, 30])  # [3, 64, 64, 3]: left, right, still
    window = where_codes_differ(outcomes, current)
    assert window.side == 20  # the least: 5/16 of 64, room for the paddle and its move
    rows, columns = range(window.top, window.top + window.side), range(window.left, window.left + window.side)
    assert {57, 58} <= set(rows) and {27, 38} <= set(columns)  # every code's paddle
    assert not {28, 30} <= set(rows)  # not the ball
    assert where_codes_differ(paddles([30, 30]), current) is None  # codes that agree have no window


def test_a_zoomed_change_sets_frame_t_beside_each_outcome_and_boxes_what_changed():
    current, outcomes = paddles([30])[0], paddles([33, 30])
    window, scale = Window(top=44, left=24, side=20), 5
    zoomed = zoomed_change(current, outcomes, window, scale)  # [2, 100, 205, 3]
    assert zoomed.shape == (2, 100, 2 * 100 + scale, 3)
    start, after = zoomed[:, :, :100], zoomed[:, :, 105:]
    assert (start[0] == start[1]).all()  # frame t's window beside every code
    magenta = (after == DIFF_COLOR.astype(np.uint8)).all(axis=-1)  # [2, 100, 100]
    assert magenta[0].any() and not magenta[1].any()  # the moved paddle is boxed; the still one is not
    assert not (start == DIFF_COLOR.astype(np.uint8)).all(axis=-1).any()  # frame t is shown as it is
    # the paddle is enlarged 5 times and brightened (its red 200 to 255): rows 57-58 are 65-74 of the window
    assert (after[1, 65:75, 30:60] == [255, 76, 76]).all()


def test_the_window_is_outlined_in_yellow_on_the_whole_frame():
    framed = Window(top=10, left=20, side=8).framed(np.zeros((32, 32, 3), np.uint8))
    yellow = (framed == WINDOW_COLOR).all(axis=-1)
    assert yellow[9, 19:29].all() and yellow[18, 19:29].all() and yellow[9:19, 19].all() and yellow[9:19, 28].all()
    assert not yellow[10:18, 20:28].any()  # the window itself is left as it is


def test_label_columns_are_offered_named_first_then_ram_bytes_by_number():
    from studio.labels import ordered_columns

    names = ["ram_10", "score", "ram_2", "action", "action_name"]
    assert ordered_columns(names) == ["score", "action", "action_name", "ram_2", "ram_10"]
    assert ordered_columns(names, ("action_name", "action")) == ["action_name", "action", "score", "ram_2", "ram_10"]


def test_a_change_is_marked_and_each_patch_of_it_boxed():
    before = np.zeros((2, 12, 12, 3), np.uint8)
    after = before.copy()
    after[0, 2, 2] = 255  # one pixel: the ball
    after[0, 9, 4:8] = 200  # a short bar: the paddle
    marked = marked_change(before, after)
    magenta = (marked == [255, 0, 200]).all(axis=-1)  # [2, H, W]
    assert magenta[0, 2, 2] and magenta[0, 9, 4:8].all()  # the change itself
    assert magenta[0, 1, 1:4].all() and magenta[0, 8, 3:9].all()  # a box around each patch, one pixel out
    assert not magenta[0, 5].any()  # not one box around both
    assert not magenta[1].any()  # no change, no mark


def test_on_a_scrolling_screen_only_what_moved_against_the_scene_is_marked():
    scene = np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    before = scene[8:72, 8:72]
    after = scene[10:74, 5:69].copy()  # the camera went 2 pixels down and 3 left: the scene moved 2 up, 3 right
    after[30:34, 30:34] = 255  # the player
    magenta = (marked_change(before, after) == [255, 0, 200]).all(axis=-1)  # [H, W]
    assert magenta[30:34, 30:34].all()
    assert magenta.sum() <= 4 * 4 + 6 * 4  # the player and its box, not the scene


def test_play_buttons_read_what_holding_each_code_does_from_the_bundle():
    model = WorldModel.load(Path(__file__).parents[1] / "exported" / "breakout", device="cpu")
    held = FigureSet.from_manifest(model.manifest.metrics["heldout"]).detail(F.CONSISTENCY_PER_CODE)
    shipped = shipped_code_meanings(model)
    assert shipped.measured_on == "the bundle's held-out episodes, each code held"
    assert set(shipped.meanings) == {int(code) for code, figures in held.items() if figures["starts"]}
    words = {"left": "moves the paddle left", "none": "leaves the paddle still", "right": "moves the paddle right"}
    for code, (said, share) in shipped.meanings.items():
        assert said == words[held[str(code)]["direction"]] and share == held[str(code)]["consistency"]
    # a code whose commonest vertical move is up (CoinRun's jump) is called a jump, with the jump's share
    code = next(iter(shipped.meanings))
    jump = {"direction": "up", "consistency": 0.9, "starts": 40}
    model.manifest.metrics["heldout"]["code_consistency"]["vertical"] = {"per_code": {str(code): jump}}
    jumping = {
        "left": "jumps the paddle to the left",
        "none": "jumps the paddle",
        "right": "jumps the paddle to the right",
    }
    assert shipped_code_meanings(model).meanings[code] == (jumping[held[str(code)]["direction"]], 0.9)
    model.manifest.metrics.pop("heldout")
    assert shipped_code_meanings(model).measured_on == "the bundle's example clips, each code held"
    model.manifest.metrics.pop("examples")
    assert shipped_code_meanings(model) is None  # the Play tab then reads the clip's labels, if it has any


def test_examples_shipped_by_two_bundles_are_offered_once(tmp_path):
    from studio.examples import distinct_files

    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    for folder, content in ((a, b"same"), (b, b"same"), (c, b"other")):
        folder.mkdir()
        (folder / "clip_1.mp4").write_bytes(content)
    assert distinct_files([a / "clip_1.mp4", b / "clip_1.mp4", c / "clip_1.mp4"]) == [
        a / "clip_1.mp4",
        c / "clip_1.mp4",
    ]


def test_an_example_is_known_by_the_bundles_that_ship_it_by_name_and_bytes(tmp_path):
    import shutil

    from studio.examples import bundles_shipping

    exported = Path(__file__).parents[1] / "exported"
    models = {name: WorldModel.load(exported / name, device="cpu") for name in ("breakout", "breakout-jepa", "coinrun")}
    copy = shutil.copy(exported / "coinrun" / "examples" / "coinrun_1.mp4", tmp_path)  # as the page hands it over
    assert bundles_shipping(models, copy) == ["coinrun"]
    shared = shutil.copy(exported / "breakout" / "examples" / "breakout_1.mp4", tmp_path)
    assert bundles_shipping(models, shared) == ["breakout", "breakout-jepa"]  # the two Breakout bundles ship it
    renamed = shutil.copy(copy, tmp_path / "my_clip.mp4")
    other = tmp_path / "other" / "coinrun_1.mp4"
    other.parent.mkdir()
    other.write_bytes(Path(shared).read_bytes())  # a name of coinrun's, another clip's bytes
    assert bundles_shipping(models, renamed) == [] and bundles_shipping(models, other) == []
    assert bundles_shipping(models, tmp_path / "gone.mp4") == []
