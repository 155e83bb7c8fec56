"""Rollouts under action sources, the play loop, and linear probes of the latents."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from studio.montage import CAPTION_HEIGHT
from studio.play import RUN_STEPS_PER_FRAME, RUN_STEPS_PER_S, ImaginedGame
from studio.probe import ProbeConfig, ProbeError, contiguous_folds, label_kind, probe, probe_all, warm_up_probes
from studio.rollout import (
    MAX_BRANCHES,
    ActionSequenceError,
    BetweenCodes,
    Branches,
    ClipCodes,
    HeldCode,
    RandomCodes,
    TypedSequence,
    action_vectors,
    branch_sources,
    branch_video_frames,
    delta_t_psnr,
    interpolated_action,
    parse_code_sequence,
    plan_branches,
    predict_branches,
)
from studio.runtime import WorldModel, to_uint8_frames
from studio.ui.predict_tab import rollout_summary


@pytest.fixture(scope="module")
def model(tiny_bundle) -> WorldModel:
    return WorldModel.load(tiny_bundle, device="cpu")


@pytest.fixture(scope="module")
def clip(model):
    h, w = model.frame_size
    frames = np.random.default_rng(1).integers(0, 255, (12, h, w, 3), dtype=np.uint8)  # [T, H, W, 3]
    latents = model.encode(frames)  # [T, N, D]
    return frames, latents, model.infer_actions(latents).codes


def test_code_sequences_are_parsed_and_bad_ones_refused():
    assert parse_code_sequence("2 2, 3 1", 4).tolist() == [2, 2, 3, 1]
    for text, message in [
        ("", "type a sequence"),
        ("1 x", "'x' is not an action code"),
        ("1 4", "code 4 is out of range"),
        ("-1", "code -1 is out of range"),
        ("1.5", "not an action code"),
    ]:
        with pytest.raises(ActionSequenceError, match=message):
            parse_code_sequence(text, 4)


def test_action_sources_plan_every_step():
    inferred = np.array([3, 1, 0, 2])
    assert ClipCodes().codes(inferred, 2, 4, 4).tolist() == [0, 2, 2, 2]  # the last code held past the end
    assert HeldCode(1).codes(inferred, 0, 3, 4).tolist() == [1, 1, 1]
    assert TypedSequence("2 0").codes(inferred, 0, 5, 4).tolist() == [2, 0, 2, 0, 2]
    random = RandomCodes(5).codes(inferred, 0, 64, 4)
    assert random.min() >= 0 and random.max() < 4 and len(np.unique(random)) > 1
    with pytest.raises(ActionSequenceError):
        HeldCode(9).codes(inferred, 0, 3, 4)


def test_rollout_replays_the_predictor_and_compares_with_the_clip(model, clip):
    frames, latents, codes = clip
    start, steps = 7, 6  # the clip ends 4 frames after the start: the truth is shorter than the rollout
    plans = [
        ClipCodes().codes(codes, start, steps, model.codebook_size),
        HeldCode(1).codes(codes, start, steps, model.codebook_size),
    ]
    rollout = predict_branches(model, latents, frames, start, model.action_vectors(np.stack(plans)), ["clip", "hold 1"])
    h, w = model.frame_size
    assert rollout.predicted.shape == (2, steps, h, w, 3)
    assert rollout.truth.shape == (4, h, w, 3) and rollout.psnr.shape == (2, 4) and rollout.copy_psnr.shape == (4,)
    # step by step through the runtime gives the same first frame
    context = model.start_context(latents[: start + 1])[None]
    first = model.predict(context, model.action_vectors(plans[0][:1]))
    np.testing.assert_array_equal(rollout.predicted[0, 0], to_uint8_frames(model.decode(first))[0])
    assert not np.array_equal(rollout.predicted[0], rollout.predicted[1])  # the action matters
    s = -(-200 // w)  # each panel enlarged to 200 pixels wide or more: room for its caption
    video = branch_video_frames(rollout, height=s * h, gap=2)
    assert video.shape == (steps, CAPTION_HEIGHT + s * h, 3 * s * w + 4, 3)
    assert not video[4:, CAPTION_HEIGHT:, : s * w].any()  # past the clip's end the truth panel is black
    captions = video[:, :CAPTION_HEIGHT]  # white strips, each with its panel's name written in black
    assert (captions[:, :, s * w : s * w + 2] == 255).all() and (captions.min(axis=(1, 2, 3)) < 100).all()
    assert not np.array_equal(captions[3, :, : s * w], captions[4, :, : s * w])  # "step 4" gives way to "ended"


def test_branches_typed_one_per_line_become_sources():
    assert branch_sources("clip\n\n random \n2, 1 0\n") == [ClipCodes(), RandomCodes(2), TypedSequence("2, 1 0")]
    assert branch_sources("") == []
    with pytest.raises(ActionSequenceError, match=f"at most {MAX_BRANCHES - 1} extra branches"):
        branch_sources("clip\n" * MAX_BRANCHES)


def test_a_plan_stacks_every_branch_and_names_it(model, clip):
    _, _, codes = clip
    k = model.codebook_size
    plan = plan_branches(model, BetweenCodes(0, 3, 0.25), "clip\n1 0", codes, 2, 5)
    assert plan.vectors.shape == (3, 5, model.codebook.shape[1]) and plan.vectors.dtype == np.float32
    assert plan.labels == ["0.75·code 0 + 0.25·code 3", "the clip's codes", "sequence 1 0"]
    np.testing.assert_array_equal(plan.vectors[0], np.repeat(interpolated_action(model, 0, 3, 0.25)[None], 5, axis=0))
    np.testing.assert_array_equal(plan.vectors[2], model.action_vectors(np.array([1, 0, 1, 0, 1])))
    assert [HeldCode(2).label, TypedSequence("2,2  1").label, RandomCodes(7).label] == [
        "code 2 held",
        "sequence 2 2 1",
        "random codes (seed 7)",
    ]
    with pytest.raises(ActionSequenceError, match=f"branch line 2: code {k} is out of range"):
        plan_branches(model, ClipCodes(), f"random\n{k}", codes, 0, 3)
    with pytest.raises(ActionSequenceError, match=f"code {k} is out of range"):
        action_vectors(model, BetweenCodes(0, k, 0.5), codes, 0, 3)


def test_the_summary_says_from_which_step_a_branch_loses_to_the_copy_and_where_it_left_familiar_ground():
    steps = 6
    result = Branches(
        start=3,
        labels=["the clip's codes", "random codes (seed 1)"],
        predicted=np.zeros((2, steps, 1, 1, 3), np.uint8),
        latents=np.zeros((2, steps, 1, 1), np.float32),
        truth=np.zeros((steps, 1, 1, 3), np.uint8),
        psnr=np.array([[40, 39, 38, 37, 36, 35], [40, 36, 30, 29, 28, 27.0]]),  # [B, S'] dB
        copy_psnr=np.full(steps, 33.0),  # [S'] dB
    )
    text = rollout_summary(result, None, [None, None])
    assert "1: the clip's codes: **37.5 dB**, better than the copy at every step" in text
    assert "2: random codes (seed 1): **31.7 dB**, ⚠ **worse than the copy from step 3 on**" in text
    assert "**every branch** stayed on familiar ground for all 6 steps" in text
    text = rollout_summary(result, None, [None, 4])
    assert "**1: the clip's codes** stayed on familiar ground" in text
    assert "**2: random codes (seed 1)** left familiar ground at step **4**" in text
    result.psnr[0, [1, 2, 4]] = 30.0  # the clip's codes lose at steps 2, 3 and 5 only
    assert "⚠ **worse than the copy at steps 2–3, 5**" in rollout_summary(result, None)


def test_interpolation_runs_from_one_code_to_the_other(model):
    a, b = model.action_vectors(np.array([0, 3]))
    np.testing.assert_allclose(
        interpolated_action(model, 0, 3, 0.0),
        a * (np.linalg.norm(a) + np.linalg.norm(b)) / 2 / np.linalg.norm(a),
        rtol=1e-5,
    )
    middle = interpolated_action(model, 0, 3, 0.5)
    assert np.dot(middle, a) > 0 and np.dot(middle, b) > 0


def test_delta_t_psnr_needs_a_clip_longer_than_its_horizon(model, clip):
    frames, latents, codes = clip
    assert isinstance(delta_t_psnr(model, latents, frames, codes), float)
    assert delta_t_psnr(model, latents[:4], frames[:4], codes[:3]) is None


def test_play_steps_undo_and_latency(model, clip):
    _, latents, _ = clip
    game = ImaginedGame.start(model, latents, 5)
    np.testing.assert_array_equal(game.frame, to_uint8_frames(model.decode(latents[5:6]))[0])
    first = game.step(model, 1).copy()
    second = game.step(model, 2)
    assert game.steps == 2 and not np.array_equal(first, second)
    np.testing.assert_array_equal(game.undo(), first)
    assert game.steps == 1
    assert game.steps_per_second() is None  # two presses are not yet a pace
    game.step(model, 0)
    game.step(model, 1)
    assert game.steps_per_second() > 0
    median_ms, fps = game.latency_summary()
    assert median_ms > 0 and fps == pytest.approx(1000 / median_ms)
    with pytest.raises(ValueError, match="action codes must lie in"):
        game.step(model, model.codebook_size)


def test_a_game_running_on_its_own_takes_presses_from_another_thread(model, clip):
    import threading
    import time

    _, latents, _ = clip
    game = ImaginedGame.start(model, latents, 5)
    game.step(model, 1)
    stop, repeats = threading.Event(), [0]

    def run() -> None:  # what Run mode does: press the last code again, as fast as it can
        while not stop.is_set():
            game.repeat(model)
            repeats[0] += 1

    runner = threading.Thread(target=run)
    runner.start()
    try:
        for code in (2, 3, 0, 2):  # a player's presses meanwhile, and an undo
            game.step(model, code)
            seen = repeats[0]
            deadline = time.monotonic() + 10
            while repeats[0] < seen + 5 and time.monotonic() < deadline:
                time.sleep(0.001)
            assert game.codes[-5:] == [code] * 5  # the loop went on with the pressed code, never a stale one
            game.undo()
    finally:
        stop.set()
        runner.join()
    assert len(game.contexts) == len(game.frames) == game.steps - game.dropped + 1  # history aligned, steps and undos


def test_a_long_game_counts_every_step_and_remembers_where_it_left_familiar_ground(model, clip, monkeypatch):
    import studio.play

    _, latents, _ = clip
    monkeypatch.setattr(studio.play, "MAX_HISTORY", 5)  # the undo history a game keeps, made short
    reference = SimpleNamespace(latents=latents[:4], calibration=SimpleNamespace(limit=1.0))
    monkeypatch.setattr(studio.play, "reference_of", lambda model: reference)
    found = iter([0, 2, -1])  # the reference each step's frame lies near: none for the third step's
    tried_from = []

    def within(latents, references, limit, first):
        tried_from.append(first)
        return next(found)

    monkeypatch.setattr(studio.play, "reference_within", within)
    game = ImaginedGame.start(model, latents, 5)
    for _ in range(12):
        game.repeat(model)
    assert game.steps == 12 and len(game.frames) == 6  # the count goes on past the history kept
    assert game.left_familiar_at == 3  # although step 3's history is gone
    assert tried_from == [0, 0, 2]  # each search begins where the last frame was found; none after the game left


def smooth_walk(rng, steps: int, dims: int) -> np.ndarray:
    return np.cumsum(rng.normal(size=(steps, dims)), axis=0)


def test_the_warm_up_probes_a_number_and_a_category_as_the_probe_tab_does():
    latents = np.random.default_rng(0).normal(size=(16, 4, 8)).astype(np.float32)  # [T, N, D]: the warm-up's 16
    number, category = warm_up_probes(latents)
    assert (number.kind, category.kind) == ("number", "category")
    assert len(number.predicted) == len(category.predicted) == 16


def test_probe_finds_what_the_latents_encode_and_not_what_they_do_not():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(300, 4, 8))  # [T, N, D]
    flat = latents.reshape(300, -1)
    encoded = flat[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.1 * rng.normal(size=300)
    result = probe(latents, encoded, "encoded")
    assert result.kind == "number" and result.metric == "R²"
    assert result.score > 0.9 and result.baseline <= 0.0
    noise = probe(latents, rng.normal(size=300), "noise")
    assert noise.score < 0.1
    category = probe(latents, np.where(flat[:, 5] > 0, "up", "down"), "direction")
    assert category.kind == "category" and category.score > 0.85 and category.baseline < 0.7


def test_contiguous_folds_keep_neighbouring_frames_from_leaking():
    """Two independent random walks: shuffled folds would let a frame's neighbours give it away."""
    rng = np.random.default_rng(0)
    latents = smooth_walk(rng, 400, 16)
    unrelated = smooth_walk(rng, 400, 1)[:, 0]
    assert probe(latents, unrelated, "walk").score < 0.5


def test_probe_refuses_what_it_cannot_probe_and_ranks_columns():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(60, 2, 4))
    with pytest.raises(ProbeError, match="same value on every frame"):
        probe(latents, np.ones(60), "lives")
    with pytest.raises(ProbeError, match="at least 10 labelled frames"):
        probe(latents[:6], np.arange(6.0), "x")
    with pytest.raises(ProbeError, match="labels for"):
        probe(latents, np.arange(59.0), "x")
    assert label_kind(np.array([0.0, 1.0, 2.0])) == "category" and label_kind(np.linspace(0, 1, 50)) == "number"
    assert label_kind(np.array([0.0, 1.0]), "number") == "number"
    ranking = probe_all(latents, {"signal": latents[:, 0, 0] * 3, "noise": rng.normal(size=60), "lives": np.ones(60)})
    assert [r.column for r in ranking.results] == ["signal", "noise"] and "lives" in ranking.skipped
    assert ProbeConfig().folds == 5


def test_number_probes_choose_alpha_by_refitting_ridge_without_each_block_fold_for_fold():
    """Every column solved on one decomposition per fold gives what scikit-learn gives by refitting: Ridge on the
    fold's standardized training frames with each of k - 1 contiguous blocks left out in turn, at every α; the α
    of least squared error on the left-out blocks predicts the held-out fold."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    from studio.probe import RIDGE_ALPHAS

    rng = np.random.default_rng(3)
    latents = smooth_walk(rng, 90, 40) + rng.normal(size=(90, 40))  # [T, F], more features than training frames
    columns = {"a": latents[:, :4] @ rng.normal(size=4) + rng.normal(size=90), "b": rng.normal(size=90) * 50 + 7}
    ranking = probe_all(latents, columns)
    for result in ranking.results:
        label, theirs = columns[result.column], np.zeros(90)
        for train, test in KFold(5).split(latents):
            scaled = StandardScaler().fit(latents[train])
            x, y = scaled.transform(latents[train]), label[train]
            errors = [
                sum(
                    np.sum((Ridge(alpha=alpha).fit(x[kept], y[kept]).predict(x[out]) - y[out]) ** 2)
                    for kept, out in KFold(4).split(x)
                )
                for alpha in RIDGE_ALPHAS
            ]
            best = RIDGE_ALPHAS[int(np.argmin(errors))]
            theirs[test] = Ridge(alpha=best).fit(x, y).predict(scaled.transform(latents[test]))
        np.testing.assert_allclose(result.predicted, theirs, rtol=1e-6, atol=1e-6 * np.abs(theirs).max())
    assert [len(block) for block in contiguous_folds(12, 5)] == [3, 3, 2, 2, 2]
    assert [list(test) for _, test in KFold(5).split(np.zeros(12))] == [list(b) for b in contiguous_folds(12, 5)]


def test_alpha_chosen_on_left_out_blocks_is_not_fooled_by_what_drifts_within_a_moment():
    """Six episodes of latents that drift on their own (random walks, begun afresh each episode) beside three noisy
    copies of the label: leaving out single frames lets a frame's neighbours answer for it, so scikit-learn's
    RidgeCV picks a small α that fits the drift and scores below the mean; left-out blocks land on the best α."""
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from studio.probe import RIDGE_ALPHAS

    rng = np.random.default_rng(0)
    label = np.concatenate([np.sin(np.arange(50) / 3 + rng.uniform(0, 6)) for _ in range(6)])  # [300]
    drift = np.concatenate([smooth_walk(rng, 50, 60) for _ in range(6)])  # [300, 60]
    latents = np.concatenate([drift, label[:, None] + rng.normal(size=(300, 3))], axis=1)  # [300, 63]

    def r2_of(regression) -> float:
        predicted = np.zeros(300)
        for train, test in KFold(5).split(latents):
            predicted[test] = (
                make_pipeline(StandardScaler(), regression).fit(latents[train], label[train]).predict(latents[test])
            )
        return 1 - np.sum((label - predicted) ** 2) / np.sum((label - label.mean()) ** 2)

    best_single_alpha = max(r2_of(Ridge(alpha=alpha)) for alpha in RIDGE_ALPHAS)
    assert best_single_alpha > 0.4 and r2_of(RidgeCV(alphas=RIDGE_ALPHAS)) < 0.0
    assert probe(latents, label, "label").score > best_single_alpha - 0.05


def test_categories_rank_beside_numbers_by_the_share_of_the_baselines_errors_removed():
    rng = np.random.default_rng(4)
    latents = rng.normal(size=(200, 3, 4))  # [T, N, D]
    flat = latents.reshape(200, -1)
    quadrant = 2 * (flat[:, 2] > 0) + (flat[:, 3] > 0)  # 0…3: a category the latents tell
    half_told = flat[:, 0] + flat[:, 1] + 2 * rng.normal(size=200)  # a number they tell in part
    ranking = probe_all(latents, {"half": half_told, "quadrant": quadrant.astype(float), "noise": rng.normal(size=200)})
    assert [r.column for r in ranking.results] == ["quadrant", "half", "noise"]
    quadrants, half, noise = ranking.results
    assert quadrants.kind == "category" and quadrants.score > 0.7 and quadrants.baseline < 0.4
    wrong, wrong_baseline = np.mean(quadrants.predicted != quadrants.truth), 1 - quadrants.baseline
    assert quadrants.errors_removed == pytest.approx(1 - wrong / wrong_baseline)
    baseline_error = (1 - half.baseline) * np.sum((half.truth - half.truth.mean()) ** 2)  # the mean's squared error
    assert half.errors_removed == pytest.approx(1 - np.sum((half.predicted - half.truth) ** 2) / baseline_error)
    assert 0.1 < half.errors_removed < 0.5 and noise.errors_removed < 0.05
    assert quadrants.baseline_name == "majority class" and half.baseline_name == "mean"


def test_probe_progress_moves_fold_by_fold():
    rng = np.random.default_rng(5)
    latents = rng.normal(size=(60, 8))
    seen = []
    probe_all(
        latents,
        {"x": latents[:, 0], "y": rng.normal(size=60)},
        ProbeConfig(folds=3),
        lambda fraction, stage: seen.append((fraction, stage)),
    )
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1 and len(set(fractions)) >= 6
    assert any("fold 3 of 3" in stage for _, stage in seen) and "2 column(s) probed" in seen[-1][1]


def test_run_mode_advances_by_the_steps_due_since_the_page_last_asked(model, clip, monkeypatch):
    import studio.play

    _, latents, _ = clip
    game = ImaginedGame.start(model, latents, 5)
    now = [100.0]
    monkeypatch.setattr(studio.play.time, "monotonic", lambda: now[0])
    assert game.run_steps_due() == 1  # before any step: one
    game.run(model)
    assert game.steps == 1 and game.codes == [0]  # code 0 before any press
    game.step(model, 2)
    now[0] += 1.5 / RUN_STEPS_PER_S  # asked again soon: one step, never none
    assert game.run_steps_due() == 1
    now[0] += 10.0  # a page that fell behind, or a hidden tab: the game does not jump ahead
    assert game.run_steps_due() == RUN_STEPS_PER_FRAME
    game.run(model)
    assert game.steps == 2 + RUN_STEPS_PER_FRAME and game.codes[-RUN_STEPS_PER_FRAME:] == [2] * RUN_STEPS_PER_FRAME


def test_the_evaluation_probes_the_labels_a_game_names_and_measures_the_latents_rank():
    """Whole-number labels (Breakout's score, RAM positions) are probed as numbers, as R² beside each other."""
    from studio import figures as F
    from studio.evaluation import latent_figures

    rng = np.random.default_rng(0)
    positions = [rng.integers(0, 100, 300), rng.integers(0, 100, 200)]  # two episodes: where a sprite is
    latents = [np.stack([p, rng.normal(size=len(p))], axis=1)[:, None, :] * np.ones((1, 4, 1)) for p in positions]
    probed = [{"sprite_x": p, "noise": rng.integers(0, 100, len(p))} for p in positions]  # [T] each
    figures = latent_figures(latents, probed)
    probes = figures.labelled(F.LINEAR_PROBE)
    assert probes["sprite_x"] > 0.99 and probes["noise"] < 0.1
    assert 1.0 < figures.get(F.EFFECTIVE_RANK) < 2.5  # two directions, one far wider than the other
    collapsed = latent_figures([rng.normal(size=(50, 1, 1)) * np.ones((1, 4, 2))], [None])  # one direction
    assert not collapsed.labelled(F.LINEAR_PROBE) and collapsed.get(F.EFFECTIVE_RANK) < 1.5
