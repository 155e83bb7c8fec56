"""A bundle's reference: what the studio judges a clip against, and the command that computes it.

The manifest's `reference` section (`studio.bundle.ReferenceSpec`) gives the game's native frame size and
rate, and names a file in the bundle holding a reference image of its training frames at native size
(their median, which the screen finder registers clips to) and reference latents with the familiarity
calibration measured against them on held-out frames. `studio reference BUNDLE` computes all of it from
fresh episodes of the bundle's game (never seen in training) and writes it into the bundle; the graphs and
their hashes are left as they are.
"""

from __future__ import annotations

import dataclasses
import json
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.bundle import (
    VIDEOS_SOURCE,
    BundleError,
    Manifest,
    NativeSpec,
    ReferenceSpec,
    read_manifest,
    sha256_file,
    write_manifest,
)
from studio.familiarity import Calibration, calibrate, nearest_distances
from studio.games import find_game
from studio.games.atari import NATIVE_FPS as ATARI_FPS
from studio.games.atari import NATIVE_SIZE as ATARI_SIZE
from studio.games.atari import AtariEnvironment
from studio.games.episodes import play_episode
from studio.metrics import psnr
from studio.runtime import WorldModel
from studio.screen import MIN_MATCH, sample_positions, whole_frame_match
from studio.video import resize_frames

REFERENCE_FILE = "reference.npz"
REFERENCE_LATENTS = 512  # latents kept in the bundle (float16: 2 MB at 64×32)
EPISODES = 12  # fresh episodes played: the first half give the reference, the rest calibrate it
EPISODE_STEPS = 600
SEED = 900_000  # far from the seeds training uses (0.., 10,000..)


@dataclass(frozen=True)
class Reference:
    """A bundle's reference, loaded: what screen finding, the stride and familiarity need."""

    native: NativeSpec
    image: np.ndarray  # [H0, W0, 3] uint8, the median training frame at native size
    latents: np.ndarray  # [M, N, D] float32
    calibration: Calibration
    screen_match: float | None = None  # the lowest match of the game's own clips to `image` (ReferenceSpec)

    @property
    def native_size(self) -> tuple[int, int]:
        return self.native.height, self.native.width

    @property
    def screen_has_a_layout(self) -> bool:
        """Whether the game's own clips match the reference image well enough for a screen to be found by it."""
        return self.screen_match is None or self.screen_match >= MIN_MATCH

    def stride_for(self, fps: float) -> int:
        """The stride that gives a clip of `fps` frames a second the model's transitions per second: the
        nearest whole number of source frames per transition (60 fps -> 4, 30 -> 2, 15 -> 1)."""
        return stride_for(fps, self.native.transitions_per_second)


def stride_for(fps: float, transitions_per_second: float) -> int:
    """Source frames per transition: the nearest whole number to fps / transitions per second, at least 1."""
    if not fps or fps <= 0 or transitions_per_second <= 0:
        return 1
    return max(1, round(fps / transitions_per_second))


def load_reference(model: WorldModel) -> Reference | None:
    """The bundle's reference, or None when its manifest has none. Raises BundleError for a reference file
    that is missing, outside the bundle, changed since it was written, or unreadable."""
    spec = model.manifest.reference
    if spec is None:
        return None
    root = model.bundle.root
    path = (root / spec.file).resolve()
    if Path(spec.file).is_absolute() or not path.is_relative_to(root) or not path.is_file():
        raise BundleError(f"{spec.file}: the reference file must be a file inside the bundle folder")
    if sha256_file(path) != spec.sha256:
        raise BundleError(f"{spec.file}: sha256 mismatch for the reference file: the file was changed")
    try:
        with np.load(path, allow_pickle=False) as data:
            image, latents = data["image"], data["latents"].astype(np.float32)
        calibration = Calibration(**spec.familiarity)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise BundleError(f"{spec.file}: unreadable reference ({err})") from None
    if image.shape != (spec.native.height, spec.native.width, 3) or latents.shape[1:] != (
        model.manifest.latent.tokens,
        model.manifest.latent.dim,
    ):
        raise BundleError(f"{spec.file}: the reference image or latents do not fit the manifest's sizes")
    return Reference(spec.native, image, latents, calibration, spec.screen_match)


_LOADED: weakref.WeakKeyDictionary[WorldModel, Reference | None] = weakref.WeakKeyDictionary()


def reference_of(model: WorldModel) -> Reference | None:
    """`load_reference`, once per loaded model."""
    if model not in _LOADED:
        _LOADED[model] = load_reference(model)
    return _LOADED[model]


def game_name(manifest: Manifest) -> str:
    """The game a bundle learnt, as a person names it: 'procgen:coinrun' -> 'CoinRun', 'ALE/Pong-v5' -> 'Pong';
    a bundle learnt from a folder of clips by its own name."""
    source = str(manifest.trained_on.get("source", "")) or manifest.name
    if source == VIDEOS_SOURCE:
        return manifest.name
    known = find_game(source)
    return known.TITLE if known else source.split("/")[-1].split("-")[0] or manifest.name


def build_reference(
    model: WorldModel, episodes: list[np.ndarray], native: NativeSpec, seed: int = 0
) -> tuple[Reference, dict]:
    """From native frames of episodes never trained on ([T, H0, W0, 3] uint8 each): the median image, the
    reference latents (from the first half of the episodes) and the calibration (on the other half)."""
    if len(episodes) < 2:
        raise ValueError("a reference needs at least two episodes: one to take latents from, one to calibrate on")
    rng = np.random.default_rng(seed)
    every = np.concatenate([e[:: max(1, len(e) // 100)] for e in episodes])  # [~100 per episode, H0, W0, 3]
    image = np.median(every, axis=0).round().astype(np.uint8)  # [H0, W0, 3]
    half = len(episodes) // 2
    to_model = lambda frames: resize_frames(frames, model.frame_size, model.manifest.frame.resize)  # noqa: E731
    source = np.concatenate([to_model(e) for e in episodes[:half]])  # [Ts, H, W, 3]
    picked = np.sort(rng.choice(len(source), size=min(REFERENCE_LATENTS, len(source)), replace=False))
    latents = model.encode(source[picked]).astype(np.float16)  # [M, N, D], stored as float16
    heldout = np.concatenate([to_model(e) for e in episodes[half:]])  # [Th, H, W, 3]
    z = model.encode(heldout)
    distances = nearest_distances(z, latents.astype(np.float32))
    quality = psnr(model.decode(z), model.as_model_frames(heldout))
    calibration = calibrate(distances, quality)
    screen_match = min(whole_frame_match(e[sample_positions(len(e))], image) for e in episodes[half:])
    measured_on = {
        "episodes": len(episodes),
        "reference_frames": int(len(picked)),
        "calibration_frames": int(len(heldout)),
        "seed": seed,
    }
    return Reference(native, image, latents.astype(np.float32), calibration, round(screen_match, 4)), measured_on


def write_reference(bundle_dir: str | Path, reference: Reference, measured_on: dict) -> Path:
    """Save the reference file into the bundle and its section into the manifest (graphs untouched)."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / REFERENCE_FILE
    with open(path, "wb") as handle:
        np.savez(handle, image=reference.image, latents=reference.latents.astype(np.float16))
    spec = ReferenceSpec(
        file=REFERENCE_FILE,
        sha256=sha256_file(path),
        native=reference.native,
        familiarity=reference.calibration.to_json(),
        measured_on=measured_on,
        screen_match=reference.screen_match,
    )
    manifest = dataclasses.replace(read_manifest(bundle_dir), reference=spec)
    return write_manifest(manifest, bundle_dir)


def play_fresh(
    game: str, episodes: int = EPISODES, steps: int = EPISODE_STEPS, seed: int = SEED, behaviour: dict | None = None
) -> list[np.ndarray]:
    """Native frames [T, h, w, 3] of `episodes` fresh episodes of a game (one the studio knows, or any Atari
    game), played by the game's behaviour policy with the training config's `behaviour` settings (epsilon,
    aim_offset, random_hold) where the studio knows the game and the bundle ships its config, else at random."""
    known = find_game(game)
    env = known.open_environment(seed) if known else AtariEnvironment(game, seed)
    rng = np.random.default_rng(seed)
    played = []
    for _ in range(episodes):
        policy = known.behaviour_policy(rng=rng, **behaviour) if known and behaviour else None
        played.append(play_episode(env, policy, rng, steps - 1).native)
    env.close()
    return played


def behaviour_settings(model: WorldModel) -> dict | None:
    """The behaviour policy's settings (epsilon, aim_offset, random_hold) in the training config the bundle ships,
    so that fresh play looks like its training data; None when it ships none."""
    config = model.bundle.root / "config.json"
    data = json.loads(config.read_text()).get("data", {}) if config.is_file() else {}
    keys = ("epsilon", "aim_offset", "random_hold")
    return {key: data[key] for key in keys} if all(key in data for key in keys) else None


def compute_reference(bundle_dir: str | Path, episodes: int = EPISODES) -> tuple[Path, Reference, dict]:
    """`studio reference BUNDLE`: play fresh episodes of the bundle's game, build its reference, write it."""
    model = WorldModel.load(bundle_dir, device="cpu")
    trained_on = model.manifest.trained_on
    game = trained_on.get("source", "")
    known = find_game(game)
    if known is None and not game.startswith("ALE/"):
        raise ValueError(
            f"the reference is computed from fresh episodes of the bundle's game; this bundle was trained on "
            f"{game or 'an unknown source'}, which the studio cannot play"
        )
    height, width = known.NATIVE_SIZE if known else ATARI_SIZE
    fps = known.NATIVE_FPS if known else ATARI_FPS
    native = NativeSpec(height=height, width=width, fps=fps, frame_skip=int(trained_on.get("frame_skip", 4)))
    began = time.perf_counter()
    played = play_fresh(game, episodes, behaviour=behaviour_settings(model))
    reference, measured_on = build_reference(model, played, native)
    measured_on = {
        **measured_on,
        "source": f"fresh {game} episodes (seeds {SEED}+), never trained on",
        "seconds": round(time.perf_counter() - began, 1),
    }
    return write_reference(bundle_dir, reference, measured_on), reference, measured_on
