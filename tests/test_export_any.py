"""The public exporter: a world model written elsewhere, of each action kind, with or without a decoder, becomes a
bundle the studio loads, analyzes a clip with, reads actions off and rolls forward."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio import figures as F
from studio.analysis import analyze_clip
from studio.bundle import BundleError, load_bundle
from studio.clip_actions import clip_actions
from studio.evaluation import evaluate_bundle
from studio.play import ImaginedGame
from studio.runtime import WorldModel, to_uint8_frames
from studio.train.export_any import Buttons, Continuous, LatentCodes, export_world_model

SIZE, TOKENS, DIM, CONTEXT = 16, 4, 8, 2
BUTTONS = ["NOOP", "RIGHT", "LEFT"]


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, DIM, 8, stride=8)

    def forward(self, frames):  # [B, 3, 16, 16] -> [B, 4, 8]
        return self.conv(frames).flatten(2).transpose(1, 2)


class Predictor(torch.nn.Module):
    """The last latent frame moved by a learnt function of the context's motion and the action."""

    def __init__(self, action_dim: int):
        super().__init__()
        self.motion = torch.nn.Linear(DIM, DIM)
        self.action = torch.nn.Linear(action_dim, TOKENS * DIM)

    def forward(self, context, action):  # [B, C, N, D], [B, Da] -> [B, N, D]
        last = context[:, -1]
        return last + self.motion(last - context[:, -2]) + self.action(action).view(-1, TOKENS, DIM)


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(TOKENS * DIM, 3 * SIZE * SIZE)

    def forward(self, latents):  # [B, N, D] -> [B, 3, 16, 16]
        return torch.sigmoid(self.linear(latents.flatten(1))).view(-1, 3, SIZE, SIZE)


class ActionModel(torch.nn.Module):
    def __init__(self, action_dim: int):
        super().__init__()
        self.linear = torch.nn.Linear(TOKENS * DIM, action_dim)

    def forward(self, latents):  # [B, L, N, D] -> [B, Da]
        return self.linear((latents[:, -1] - latents[:, -2]).flatten(1))


def sprite_game(steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16×16 game: a bright square moved by NOOP / RIGHT / LEFT over a textured floor."""
    rng = np.random.default_rng(seed)
    floor = rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)
    frames, actions, x = [], rng.integers(0, 3, steps), 6
    for action in actions:
        frame = floor.copy()
        frame[6:10, x : x + 4] = (250, 200, 40)
        frames.append(frame)
        x = int(np.clip(x + (0, 1, -1)[action], 0, SIZE - 4))
    return np.stack(frames), actions


@pytest.fixture(scope="module")
def episodes():
    return [sprite_game(40, seed) for seed in range(2)]


def kinds():
    torch.manual_seed(0)
    return {
        "latent_codes": dict(actions=LatentCodes(ActionModel(3), torch.randn(5, 3)), decoder=Decoder()),
        "buttons": dict(actions=Buttons(BUTTONS), decoder=Decoder()),
        "continuous": dict(actions=Continuous(ActionModel(2), clusters=4), decoder=Decoder()),
        "buttons_no_decoder": dict(actions=Buttons(BUTTONS, encoding="index"), decoder=None),
    }


@pytest.mark.parametrize("kind", list(kinds()))
def test_every_kind_exports_loads_and_analyzes_a_clip(kind, episodes, tmp_path):
    spec = kinds()[kind]
    action_dim = {"latent_codes": 3, "buttons": 3, "continuous": 2, "buttons_no_decoder": 1}[kind]
    torch.manual_seed(1)
    out = export_world_model(
        tmp_path / kind,
        name=kind,
        episodes=[frames for frames, _ in episodes],
        encoder=Encoder(),
        predictor=Predictor(action_dim),
        context=CONTEXT,
        labels=[{"action": actions} for _, actions in episodes],
        description="a test model",
        **spec,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == 3 and manifest["action"]["kind"] == kind.removesuffix("_no_decoder")
    model = WorldModel.load(out, device="cpu")
    assert model.has_decoder == (spec["decoder"] is not None)
    assert ("actions" in model.sessions) == (kind in ("latent_codes", "continuous"))
    clip = sorted((out / "examples").glob("*.mp4"))[0]
    assert "action_name" in clip.with_suffix(".csv").read_text().splitlines()[0] or "buttons" not in kind
    analysis = analyze_clip(model, clip)
    assert analysis.latents.shape[1:] == (TOKENS, DIM)
    # Play takes vectors from the clip for a model of continuous actions only: the others' codes are their actions
    assert (clip_actions(model, analysis.actions, clip.name) is None) == (kind != "continuous")
    codes = analysis.actions.codes
    assert codes.min() >= 0 and codes.max() < model.codebook_size
    context = model.start_context(analysis.latents[:5])[None]  # [1, C, N, D]
    future = model.rollout(context, model.action_vectors([[0, 1, 2, 0]]))  # [1, 4, N, D]
    frames = model.decode(future[0])
    assert frames.shape == (4, 3, SIZE, SIZE)
    if not model.has_decoder:  # the nearest real frames of the bank stand in for decoded ones
        bank = model.frame_bank.frames.transpose(0, 3, 1, 2) / 255.0
        assert all(np.abs(bank - frame).max(axis=(1, 2, 3)).min() < 1e-6 for frame in frames)
    figures = evaluate_bundle(out)  # on its example clips: judged in latents only when it draws no pixels
    assert figures.get(F.LATENT_ERROR_VS_COPY.at(1)) > 0 and figures.get(F.CODES_USED) >= 1
    assert (figures.get(F.RECONSTRUCTION_PSNR) is None) == (not model.has_decoder)


def test_buttons_are_read_off_by_the_predictor(episodes, tmp_path):
    """A transition made by the model's own predictor under button b is read as b."""
    torch.manual_seed(2)
    out = export_world_model(
        tmp_path / "b",
        name="b",
        episodes=[episodes[0][0]],
        encoder=Encoder(),
        predictor=Predictor(3),
        context=CONTEXT,
        actions=Buttons(BUTTONS),
    )
    model = WorldModel.load(out, device="cpu")
    assert model.code_names() == BUTTONS
    start = model.encode(episodes[0][0][:CONTEXT])  # [C, N, D]
    pressed = np.array([1, 2, 2, 0, 1, 0])
    latents = np.concatenate([start, model.rollout(start[None], model.action_vectors(pressed[None]))[0]])
    read = model.infer_actions(latents)
    assert np.array_equal(read.codes[CONTEXT - 1 :], pressed)


def test_play_offers_a_continuous_models_vectors_taken_from_the_clip(episodes, tmp_path):
    """For each display cluster the clip uses, the transition of that cluster nearest its centre; pressed, the
    predictor steps with that transition's own vector, and any other transition of the clip can be pressed too."""
    torch.manual_seed(3)
    out = export_world_model(
        tmp_path / "c",
        name="c",
        episodes=[frames for frames, _ in episodes],
        encoder=Encoder(),
        predictor=Predictor(2),
        context=CONTEXT,
        actions=Continuous(ActionModel(2), clusters=4),
        decoder=Decoder(),
    )
    model = WorldModel.load(out, device="cpu")
    clip = sorted((out / "examples").glob("*.mp4"))[0]
    analysis = analyze_clip(model, clip)
    read = analysis.actions
    offered = clip_actions(model, read, clip.name)
    assert offered.clip == clip.name and np.array_equal(offered.vectors, read.vectors)
    assert [k for k, _ in offered.representatives] == sorted(set(read.codes.tolist()))
    for k, t in offered.representatives:
        assert read.codes[t] == k and read.distances[t, k] == read.distances[read.codes == k, k].min()

    start = 5
    game = ImaginedGame.start(model, analysis.latents, start, offered)
    context = model.start_context(analysis.latents[: start + 1])  # [C, N, D]
    for t in (offered.representatives[0][1], offered.transitions - 1):  # a representative, then the last transition
        frame = game.step(model, offered.press(t))
        want = model.predict(context[None], read.vectors[t][None])  # [1, N, D]
        assert np.array_equal(game.contexts[-1][-1], want[0])  # the transition's own vector, not its cluster's centre
        assert np.array_equal(frame, to_uint8_frames(model.decode(want))[0])
        assert not np.array_equal(frame, game.frames[-2])  # the step changed the frame
        assert game.press_name(game.codes[-1]) == f"{t}→{t + 1}"
        context = game.contexts[-1]
    cluster = offered.representatives[0][0]
    centre = model.predict(game.contexts[0][None], model.codebook[cluster][None])  # [1, N, D]
    assert not np.array_equal(game.contexts[1][-1], centre[0])  # a centre would have moved it elsewhere
    game.step(model, 1)  # the centres stay pressable beside the clip's vectors
    assert game.press_name(game.codes[-1]) == "1"
    with pytest.raises(ValueError, match=f"transitions leave frames 0 to {offered.transitions - 1}"):
        offered.press(offered.transitions)


def test_a_model_that_breaks_the_shapes_is_refused_in_a_sentence(episodes, tmp_path):
    class Flat(torch.nn.Module):
        def forward(self, frames):  # [B, 3, H, W] -> [B, 768]: not latent tokens
            return frames.flatten(1)

    with pytest.raises(Exception, match=r"encoder: latents must be \[B, N, D\]"):
        export_world_model(
            tmp_path / "flat",
            name="flat",
            episodes=[episodes[0][0]],
            encoder=Flat(),
            predictor=Predictor(3),
            context=CONTEXT,
            actions=Buttons(BUTTONS),
        )


def test_a_bundle_of_buttons_must_name_each_button(episodes, tmp_path):
    out = export_world_model(
        tmp_path / "named",
        name="named",
        episodes=[episodes[0][0]],
        encoder=Encoder(),
        predictor=Predictor(3),
        context=CONTEXT,
        actions=Buttons(BUTTONS),
    )
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["action"]["names"] = ["NOOP"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="must name each of the 3 buttons"):
        load_bundle(out)
