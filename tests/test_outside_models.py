"""World models from PyPI (the `outside` extra), each trained a few steps on freshly played Breakout with its own
code, exported with the public exporter and opened in the studio: a held-out clip analyzed, the buttons read off
the predictor, a rollout decoded, a label probed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.analysis import analyze_clip
from studio.probe import probe
from studio.runtime import WorldModel
from studio.train.data import DataConfig, generate_episodes
from studio.train.outside import patch_transformer_breakout, rssm_breakout
from studio.train.outside.breakout_windows import ACTION_NAMES, Windows, read_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def breakout(tmp_path_factory) -> Path:
    """Two short training episodes and one held-out episode of Breakout, played by the studio's player."""
    folder = tmp_path_factory.mktemp("breakout")
    generate_episodes(DataConfig(train_episodes=2, heldout_episodes=1, max_episode_steps=120, seed=3), folder)
    return folder


def opens_in_the_studio(out: Path, tokens: int, dim: int) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == 3 and manifest["action"]["kind"] == "buttons"
    assert manifest["action"]["names"] == ACTION_NAMES
    model = WorldModel.load(out, device="cpu")
    assert model.code_names() == ACTION_NAMES and model.has_decoder
    clip = sorted((out / "examples").glob("*.mp4"))[0]
    analysis = analyze_clip(model, clip)
    assert analysis.latents.shape[1:] == (tokens, dim)
    codes = analysis.actions.codes  # each transition's button, read off the predictor
    assert codes.min() >= 0 and codes.max() < len(ACTION_NAMES)
    context = model.start_context(analysis.latents[:8])[None]  # [1, C, N, D]
    right, left = model.action_vectors([[2, 2, 2]]), model.action_vectors([[3, 3, 3]])
    future = model.rollout(np.concatenate([context, context]), np.concatenate([right, left]))  # [2, 3, N, D]
    assert not np.array_equal(future[0], future[1])  # the button matters
    frames = model.decode(future[0])
    assert frames.shape == (3, 3, 64, 64) and np.isfinite(frames).all()
    paddle = np.loadtxt(clip.with_suffix(".csv"), delimiter=",", skiprows=1, usecols=_column(clip, "paddle_x"))
    result = probe(analysis.latents, paddle[: len(analysis.latents)], "paddle_x")
    assert np.isfinite(result.score)


def _column(clip: Path, name: str) -> int:
    return clip.with_suffix(".csv").read_text().splitlines()[0].split(",").index(name)


def test_an_rssm_from_pypi_trains_on_breakout_and_opens_in_the_studio(breakout, tmp_path):
    torch.manual_seed(0)
    config = rssm_breakout.RSSMConfig(
        deter_dim=32, embed_dim=24, num_categoricals=16, num_classes=16, hidden_dim=32, steps=40, batch_size=4
    )
    agent = rssm_breakout.build(config)
    rssm_breakout.add_episodes(agent, read_split(breakout, "train"))
    losses = rssm_breakout.train(agent, config, log=lambda line: None)
    assert len(losses) == 40 and all(np.isfinite(losses))
    out = rssm_breakout.export(agent, config, read_split(breakout, "heldout"), tmp_path / "rssm", "rssm", losses)
    opens_in_the_studio(out, tokens=1, dim=24)


def test_a_patch_transformer_from_pypi_trains_on_breakout_and_opens_in_the_studio(breakout, tmp_path):
    torch.manual_seed(0)
    config = patch_transformer_breakout.PatchTransformerConfig(dim=32, depth=1, heads=2, dim_head=16, steps=3)
    model = patch_transformer_breakout.build(config)
    losses = patch_transformer_breakout.train(
        model, Windows(read_split(breakout, "train"), config.context + 1), config, log=lambda line: None
    )
    assert len(losses) == 3 and all(np.isfinite(losses))
    heldout = read_split(breakout, "heldout")
    out = patch_transformer_breakout.export(model, config, heldout, tmp_path / "patches", "patches", losses)
    opens_in_the_studio(out, tokens=config.side**2, dim=config.patch_size**2 * 3)
