"""The parts of `studio train --videos`, `studio serve --bundles` and `studio space` that need no training: how a
folder of clips is planned (held out by file, unreadable files named, rate matched), how a budget becomes steps,
a shelf of several folders of bundles, and the Space folder of one bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from clips import moving_square_frames
from studio.cli import main
from studio.train.budget import BudgetConfig, sized_optim
from studio.train.config import OptimConfig
from studio.train.videos import FolderConfig, plan_folder
from studio.ui.state import BundleShelf
from studio.video import write_mp4


def clip(path: Path, size: int = 96, fps: float = 30.0, count: int = 24) -> Path:
    frames = moving_square_frames(count, size, size)
    frames[..., 2] = np.linspace(40, 120, size, dtype=np.uint8)[None, :, None]  # a background with a layout
    return write_mp4(frames, path, fps=fps)


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "clips"
    for index in range(4):
        clip(folder / f"clip_{index}.mp4")
    clip(folder / "clip_wide.mp4", size=144)  # another size of the same scene
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    (folder / "notes.txt").write_text("not a clip")
    return folder


def test_a_folder_is_planned_clip_by_clip_and_held_out_by_file(folder):
    plan = plan_folder(folder, FolderConfig())
    assert sorted(plan.skipped) == ["broken.mp4", "notes.txt"]  # each named, with its reason
    assert "could not" in plan.skipped["broken.mp4"] or "damaged" in plan.skipped["broken.mp4"]
    assert [c.path.name for c in plan.clips] == [f"clip_{i}.mp4" for i in range(4)] + ["clip_wide.mp4"]
    assert plan.native_size == (96, 96) and plan.native.transitions_per_second == 15.0  # the commonest size
    assert all(c.stride == 2 for c in plan.clips)  # 30 fps read at 15 transitions a second
    held = plan.heldout(FolderConfig().heldout_share)
    assert held == [False, False, False, True, True]  # whole clips, at least two, from the end


def test_too_few_readable_clips_are_refused_with_the_skipped_files_named(folder):
    for path in list(folder.glob("clip_*.mp4"))[2:]:
        path.unlink()
    with pytest.raises(ValueError, match=r"2 readable clip\(s\); at least 3 .*broken\.mp4"):
        plan_folder(folder, FolderConfig())


def test_the_budget_gives_every_stage_its_share_in_steps():
    budget = BudgetConfig()
    optim = sized_optim(OptimConfig(), minutes=6, budget=budget)
    assumed = (
        optim.autoencoder_steps * budget.autoencoder_step_seconds
        + optim.dynamics_steps * budget.dynamics_step_seconds
        + optim.decoder_steps * budget.decoder_step_seconds
    )
    shares = budget.autoencoder_share + budget.dynamics_share + budget.decoder_share
    assert 0.95 * shares * 360 <= assumed <= shares * 360
    assert optim.vq_warmup < optim.unroll_ramp < optim.dynamics_steps
    assert optim.eval_every > max(optim.dynamics_steps, optim.decoder_steps)  # judged once, when finished
    assert sized_optim(OptimConfig(), minutes=0.01).autoencoder_steps == budget.min_steps
    with pytest.raises(ValueError, match="positive number of minutes"):
        sized_optim(OptimConfig(), minutes=0)


def test_train_videos_without_an_out_folder_is_refused_in_words(tmp_path, capsys):
    assert main(["train", "--videos", str(tmp_path)]) == 2
    assert "--out DIR" in capsys.readouterr().err
    assert main(["train", "--videos", str(tmp_path / "none"), "--out", str(tmp_path / "b")]) == 2
    assert "no such folder of clips" in capsys.readouterr().err


def test_a_shelf_reads_several_folders_and_refuses_a_second_bundle_of_one_name(tmp_path, tiny_bundle):
    shipped, mine = tmp_path / "exported", tmp_path / "mine"
    shutil.copytree(tiny_bundle, shipped / "tiny")
    shutil.copytree(tiny_bundle, mine / "tiny")  # a folder of bundles, with a name already taken
    shutil.copytree(tiny_bundle, tmp_path / "sprites")  # a bundle folder itself
    shelf = BundleShelf((shipped, mine, tmp_path / "sprites"), device="cpu").load_all()
    assert shelf.names == ["sprites", "tiny"]
    assert shelf.models["tiny"].bundle.root == shipped / "tiny"  # the first folder wins
    assert list(shelf.errors.values()) == [f"a bundle named tiny is already open from {shipped}"]
    assert shelf.folder_names == "exported/, mine/, sprites/"


def test_studio_space_writes_the_bundle_alone_with_the_space_front_matter(tmp_path, tiny_bundle, capsys):
    bundle = shutil.copytree(tiny_bundle, tmp_path / "tiny")
    (bundle / "training").mkdir()  # a run's folder stays behind
    out = tmp_path / "space"
    assert main(["space", str(bundle), str(out)]) == 0
    readme = (out / "README.md").read_text()
    front = readme.split("---")[1]
    assert "\ntitle: " in front and "\nsdk: gradio\n" in front and "\napp_file: app.py\n" in front
    assert "hf upload" in readme
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "app.py", "exported", "requirements.txt", "studio"]
    assert [p.name for p in (out / "exported").iterdir()] == ["tiny"]
    assert not (out / "exported" / "tiny" / "training").exists() and not (out / "studio" / "train").exists()
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert not [line for line in requirements if "torch" in line and not line.startswith("#")]
    assert main(["space", str(bundle), str(out)]) == 2  # never over another folder
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["space", str(tmp_path / "nothing"), str(tmp_path / "space2")]) == 2
