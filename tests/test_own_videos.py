"""`studio train --videos`: a bundle from a folder of a scene no shipped bundle knows, stopped by Ctrl-C and
resumed by the same command, then judged on a clip of the scene it never saw and on a Breakout clip.

The folder holds clips of a sprite bouncing over a textured background in two containers (mp4, mkv) and two
sizes (128×128, 192×192), and one broken file. The run's budget is one minute of the default recipe, which on
2 shared cores takes several (this test is slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from studio.analysis import analyze_clip, reconstruct
from studio.bundle import VIDEOS_SOURCE
from studio.figures import (
    CODES_USED,
    DELTA_T_PSNR,
    FAMILIAR_ROLLOUTS,
    FRAME_CHECK_REAL,
    NEXT_FRAME_PSNR,
    RECONSTRUCTION_PSNR,
    FigureSet,
)
from studio.rollout import DELTA_T_HORIZON
from studio.runtime import WorldModel

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "exported" / "breakout"
FPS = 30.0
SCENE_FRAMES = 80  # 40 transitions at the 15 a second the recipe learns at

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHIPPED.is_dir(), reason="no default bundle shipped")]


def scene_frames(seed: int, size: int) -> np.ndarray:
    """A red-and-yellow sprite bouncing over a fixed wavy texture: [T, size, size, 3] uint8."""
    y, x = np.mgrid[0:size, 0:size] / size  # [S, S] each, in [0, 1)
    texture = np.stack(
        [
            0.35 + 0.25 * np.sin(2 * np.pi * (3 * x + y)),
            0.45 + 0.2 * np.sin(2 * np.pi * 4 * y) * np.cos(2 * np.pi * 2 * x),
            0.55 + 0.25 * np.cos(2 * np.pi * (x - 2 * y)),
        ],
        axis=-1,
    )  # [S, S, 3]
    rng = np.random.default_rng(seed)
    position, velocity = rng.uniform(0.2, 0.7, 2), rng.uniform(0.015, 0.03, 2) * rng.choice([-1, 1], 2)
    side = size // 6
    frames = np.empty((SCENE_FRAMES, size, size, 3), np.uint8)
    for t in range(SCENE_FRAMES):
        frame = texture.copy()
        top, left = (position * (size - side)).astype(int)
        frame[top : top + side, left : left + side] = (0.9, 0.15, 0.1)
        frame[top + side // 3 : top + 2 * side // 3, left + side // 3 : left + 2 * side // 3] = (1.0, 0.9, 0.2)
        frames[t] = (frame * 255).round().astype(np.uint8)
        position += velocity
        bounced = (position < 0) | (position > 1)
        velocity[bounced] *= -1
        position = position.clip(0, 1)
    return frames


def write_clip(frames: np.ndarray, path: Path) -> Path:
    """H.264 in the container the suffix names (.mp4, .mkv)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("my_clips")
    for index in range(5):
        write_clip(scene_frames(index, 128), folder / f"scene_{index}.mp4")
    for index in range(5, 7):
        write_clip(scene_frames(index, 192), folder / f"scene_{index}.mkv")
    (folder / "scene_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return folder


def train_command(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "studio.cli", "train", "--videos", str(folder), "--out", str(out), "--minutes", "1"]


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory) -> tuple[Path, str]:
    """The bundle, trained by a run stopped with SIGINT after its first checkpoint and resumed by the same
    command; and what that second run printed."""
    out = tmp_path_factory.mktemp("bundles") / "sprites"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    checkpoint = out / "training" / "run" / "checkpoint.pt"
    first = subprocess.Popen(  # Ctrl-C's signal reaches it even when these tests run in the background
        train_command(folder, out),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 600
    while not checkpoint.is_file() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert checkpoint.is_file(), first.communicate()[0]
    first.send_signal(signal.SIGINT)
    printed, _ = first.communicate(timeout=120)
    assert first.returncode == 130, printed
    assert "the same command resumes" in printed and "Traceback" not in printed
    assert "scene_broken.mp4" in printed  # named, and skipped
    second = subprocess.run(train_command(folder, out), env=env, capture_output=True, text=True, timeout=1800)
    assert second.returncode == 0, second.stdout + second.stderr
    return out, second.stdout + second.stderr


def test_a_stopped_run_resumes_from_its_checkpoint(trained):
    _, printed = trained
    assert "resuming at autoencoder step" in printed or "resuming at dynamics step" in printed


def test_the_bundle_knows_its_scene_and_says_where_it_came_from(trained, folder):
    out, _ = trained
    manifest = json.loads((out / "manifest.json").read_text())
    trained_on = manifest["trained_on"]
    assert trained_on["source"] == VIDEOS_SOURCE and trained_on["clips"] == 7 and trained_on["heldout_episodes"] == 2
    assert "scene_broken.mp4" in trained_on["clips_skipped"]
    assert "breakout" not in (out / "config.json").read_text().lower()  # no game's fact reached the run
    figures = FigureSet.from_manifest(manifest["metrics"]["heldout"])
    horizon = DELTA_T_HORIZON
    for figure in (RECONSTRUCTION_PSNR, NEXT_FRAME_PSNR.at(1), DELTA_T_PSNR.at(horizon), CODES_USED, FAMILIAR_ROLLOUTS):
        assert figures.get(figure) is not None, figure.key
    assert figures.get(FRAME_CHECK_REAL) is None  # a game's frame check: no game here
    assert manifest["reference"]["native"]["fps"] == FPS and manifest["reference"]["native"]["frame_skip"] == 2
    assert sorted(p.suffix for p in (out / "examples").iterdir()) == [".mp4"] * 2  # no labels: none are known


def test_an_unseen_clip_of_the_scene_is_familiar_and_better_reconstructed_than_by_a_shipped_bundle(trained, tmp_path):
    out, _ = trained
    unseen = write_clip(scene_frames(99, 160), tmp_path / "unseen.mp4")  # another size again
    own = WorldModel.load(out, device="cpu")
    analysis = analyze_clip(own, unseen)
    assert analysis.vouching.familiar, analysis.vouching.warning
    assert analysis.clip.stride == 2  # 30 fps read at the 15 transitions a second the model learnt
    shipped = WorldModel.load(SHIPPED, device="cpu")
    own_psnr = reconstruct(own, analysis).psnr.mean()
    shipped_psnr = reconstruct(shipped, analyze_clip(shipped, unseen)).psnr.mean()
    assert own_psnr > shipped_psnr + 3.0, (own_psnr, shipped_psnr)


def test_a_breakout_clip_is_unfamiliar_to_the_new_bundle(trained):
    out, _ = trained
    analysis = analyze_clip(WorldModel.load(out, device="cpu"), sorted((SHIPPED / "examples").glob("*.mp4"))[0])
    assert not analysis.vouching.familiar
    assert "sprites" in analysis.vouching.warning  # the bundle's own name stands for its game
