"""`studio analyze` on clips as people share them, with the shipped bundle: the screen is found, the stride
matches the rate the model learnt, and another game is flagged unfamiliar."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import clip_forms
from studio.analysis import analyze_clip, save_analysis_csv
from studio.cli import main
from studio.runtime import WorldModel

BUNDLE = clip_forms.REPO / "exported" / "breakout"


@pytest.fixture(scope="module")
def breakout() -> np.ndarray:
    return clip_forms.atari_frames("ALE/Breakout-v5", steps=24, seed=5)


def analyze(clip, tmp_path, capsys, *extra) -> tuple[int, dict, str]:
    out = tmp_path / "result.npz"
    code = main(["analyze", str(clip), "--bundle", str(BUNDLE), "--out", str(out), "--device", "cpu", *extra])
    captured = capsys.readouterr()
    if code != 0:
        return code, {}, captured.err
    with np.load(out) as result:
        return code, {key: result[key] for key in result.files}, captured.out


def test_an_emulator_window_is_found_and_judged_familiar(breakout, tmp_path, capsys):
    clip = clip_forms.write_video(clip_forms.emulator_window(breakout), tmp_path / "window.mp4")
    code, result, printed = analyze(clip, tmp_path, capsys)
    assert code == 0 and list(result["crop"]) == [50, 26, 420, 320]
    assert bool(result["familiar"]) and len(result["familiarity"]) == len(result["latents"])
    assert np.nanmean(result["psnr"]) > 40  # the screen as the model knows it (10.6 dB read whole)
    assert "game screen found at top 50, left 26" in printed


def test_another_game_is_read_whole_and_flagged(tmp_path, capsys):
    pong = clip_forms.atari_frames("ALE/Pong-v5", steps=24, seed=2)
    code, result, printed = analyze(clip_forms.write_video(pong, tmp_path / "pong.mp4"), tmp_path, capsys)
    assert code == 0 and list(result["crop"]) == [0, 0, 210, 160]
    assert not bool(result["familiar"]) and (result["familiarity"] < 0).all()
    assert "no game screen" in printed and "unlike the Breakout frames" in printed


def test_a_60_fps_capture_is_read_at_the_learnt_rate(tmp_path, capsys):
    frames = clip_forms.atari_frames("ALE/Breakout-v5", steps=40, seed=6, frameskip=1)
    code, result, printed = analyze(clip_forms.write_video(frames, tmp_path / "c60.mp4", fps=60), tmp_path, capsys)
    assert code == 0 and int(result["stride"]) == 4 and len(result["latents"]) == 10
    code, result, _ = analyze(tmp_path / "c60.mp4", tmp_path, capsys, "--stride", "1")
    assert int(result["stride"]) == 1 and len(result["latents"]) == 40


def test_crop_none_and_a_given_box(breakout, tmp_path, capsys):
    clip = clip_forms.write_video(clip_forms.cut_rows(breakout, 1, 1), tmp_path / "cut.mp4")  # 208×160
    _, whole, _ = analyze(clip, tmp_path, capsys, "--crop", "none")
    _, given, _ = analyze(clip, tmp_path, capsys, "--crop=-1,0,210,160")
    assert list(whole["crop"]) == [0, 0, 208, 160] and list(given["crop"]) == [-1, 0, 210, 160]
    assert np.nanmean(given["psnr"]) > np.nanmean(whole["psnr"]) + 8


@pytest.mark.parametrize(
    "box, message", [("500,0,100,100", "outside the 160×208 frame"), ("1,2,3", "four whole numbers")]
)
def test_a_bad_box_gets_a_clear_message(breakout, tmp_path, capsys, box, message):
    clip = clip_forms.write_video(clip_forms.cut_rows(breakout, 1, 1), tmp_path / "cut.mp4")
    code, _, err = analyze(clip, tmp_path, capsys, "--crop", box)
    assert code == 2 and message in err and "Traceback" not in err


def test_the_csv_records_crop_stride_and_familiarity(breakout, tmp_path):
    clip = clip_forms.write_video(clip_forms.letterboxed(breakout, scale=3.0), tmp_path / "letterbox.mp4")
    model = WorldModel.load(BUNDLE, device="cpu")
    analysis = analyze_clip(model, clip)
    with open(save_analysis_csv(analysis, tmp_path / "frames.csv")) as table:
        rows = list(csv.DictReader(table))
    assert len(rows) == len(breakout)
    first = rows[0]
    assert [
        int(first[k]) for k in ("crop_top", "crop_left", "crop_height", "crop_width")
    ] == analysis.vouching.crop.as_list()
    assert first["stride"] == "1" and first["clip_familiar"] == "1" and float(first["familiarity"]) > 0
