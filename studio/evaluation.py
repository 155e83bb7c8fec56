"""How a bundle is judged (docs/architecture.md), through its exported ONNX graphs: what the studio runs.

Figures, on held-out episodes or clips:
- reconstruction PSNR, over whole frames and over sprite pixels (those that differ from the median
  background: paddle, ball, broken bricks), since most of a game frame never changes;
- next-frame PSNR at t=1 and t=4 of an autoregressive rollout under the LAM-inferred actions, beside the
  decoded-copy baseline decoder(encoder(x[s])) taken as the prediction of x[s+t];
- ΔtPSNR at t=4 (Genie's controllability): PSNR under inferred actions minus under uniformly random codes;
- code ↔ true action: NMI, best one-to-one accuracy, perplexity and codes in use; NMI with the movement
  class each action asks for (`studio.games`: Breakout's left / none / right, CoinRun's × jump); and, where
  the game tells how the player moved (Breakout's RAM, CoinRun's frames), the ceiling the data allows: NMI
  between true action and the player's motion;
- teacher-forced PSNR at t=16 and t=32 (the rollout under the inferred codes) beside the copy baseline;
- for a game the studio knows (`studio.behaviour`): code consistency per code, and the share of frames of
  1,000-step rollouts (random codes held 10 steps, 10 starts) that pass the game's frame check; for a game
  that judges its moving sprites (`Game.sprite_checks`: Breakout's ball and paddle), their share on the real
  frames and over the same rollouts, and the tracked sprite kept at step `horizon` under the inferred codes;
- tolerance, where the episodes carry their source frames: reconstruction against the clean frame of the
  source frames cut, upscaled and re-encoded (`studio.perturb.TOLERANCE_FORMS`), with no screen detection;
  and on held-out episodes of a game whose window draws a finer picture than its frames (CoinRun's 512×512),
  reconstruction of a screen recording of it, an H.264 clip read as the studio reads an upload.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from studio import figures as F
from studio.behaviour import code_consistency, rollout_frame_check
from studio.bundle import load_bundle, write_manifest
from studio.examples import example_clips
from studio.figures import FigureSet
from studio.games import ACTION_COLUMN, Game, find_game
from studio.games.atari import RAM_BYTES, ram_column
from studio.games.sprites import median_background, sprite_mask
from studio.labels import read_labels
from studio.metrics import (
    best_one_to_one_accuracy,
    code_perplexity,
    effective_rank,
    normalized_mutual_information,
    psnr,
)
from studio.perturb import TOLERANCE_FORMS
from studio.probe import ProbeConfig, probe_all
from studio.reference import behaviour_settings, reference_of
from studio.rollout import DELTA_T_HORIZON
from studio.runtime import WorldModel, to_uint8_frames
from studio.video import read_clip, resize_frames, write_mp4

BACKGROUND_SAMPLES = 200  # frames of each episode the median background is taken over
LONG_HORIZONS = F.LONG_STEPS  # teacher-forced steps, judged from the starts with 32 frames ahead
LONG_STARTS = 400  # of those starts, at most this many (spread over the episodes)
CONSISTENCY_STARTS = 400  # start frames each code is held from
STABILITY_STARTS, STABILITY_STEPS, STABILITY_HOLD = 10, 1000, 10  # long rollouts: starts, steps, steps a code is held
TOLERANCE_FRAMES = 400  # held-out source frames the tolerance figures are measured on
SCREEN_RECORDING_FRAMES, SCREEN_RECORDING_CRF = 400, 18  # a screen recording's frames, and its H.264 quality
PROBE_FRAMES = 3000  # frames, spread over the episodes, the latents' rank and linear probes are measured on


@dataclass
class EpisodeData:
    """One held-out episode or clip: frames, and where known the true actions and the player's motion."""

    frames: np.ndarray  # [T, H, W, 3] uint8
    actions: np.ndarray | None = None  # [T] int, action[t] moves frame t to t+1; -1 unknown
    player_motion: np.ndarray | None = None  # [T-1] float, -1 / 0 / +1 as the game tells it, NaN unknown
    native: np.ndarray | None = None  # [T, h, w, 3] uint8: the source frames, for the tolerance figures
    probed: dict[str, np.ndarray] | None = None  # the game's PROBED_LABELS, [T] each, where the RAM tells them

    @classmethod
    def of(
        cls,
        frames: np.ndarray,
        actions: np.ndarray,
        ram: np.ndarray,
        game: Game | None,
        native: np.ndarray | None = None,
    ) -> EpisodeData:
        """An episode shard's contents (frames, actions [T] with -1 unknown, RAM [T, R], source frames) as the
        evaluation sees them: actions only when any is known, the player's motion where the studio knows the game."""
        probed = None
        if game is not None and game.PROBED_LABELS and ram.shape[1]:
            labels = game.frame_labels(frames, actions, ram)
            probed = {name: labels[name] for name in game.PROBED_LABELS}
        return cls(
            frames=frames,
            actions=actions if (actions >= 0).any() else None,
            player_motion=game.recorded_motion(frames, ram) if game is not None else None,
            native=native,
            probed=probed,
        )


def evaluate(
    model: WorldModel,
    episodes: list[EpisodeData],
    seed: int = 0,
    max_starts: int = 4000,
    game: Game | None = None,
    stability_steps: int = STABILITY_STEPS,
    horizon: int = DELTA_T_HORIZON,
) -> FigureSet:
    """All the figures a bundle is judged by, over the episodes; each a mean over frames or start points, the
    short-horizon ones at steps 1..`horizon`. For a game the studio knows, also code consistency and its frame
    check, on real frames and over `stability_steps`-step rollouts. A bundle that draws no pixels is judged in
    latents only (no figure measured on frames is recorded for it)."""
    pixels = model.has_decoder
    rng = np.random.default_rng(seed)
    judges_familiarity = reference_of(model) is not None  # long rollouts judged by familiarity, game or none
    background = median_background([e.frames for e in episodes], BACKGROUND_SAMPLES)  # [3, H, W]
    recon, recon_sprite, codes, truths, motions = [], [], [], [], []
    short = ShortRollouts(horizon)
    long = {f"{kind}_{t}": [] for kind in ("model", "copy") for t in LONG_HORIZONS}
    real_checks, contexts, context_frames, context_backgrounds, latents = [], [], [], [], []
    real_sprites: dict[str, list[np.ndarray]] = {}  # the game's sprite checks on the real frames
    kept = []  # the game's tracked sprite kept `horizon` steps ahead, per start (NaN: the truth shows none)
    starts_per_episode = max(1, max_starts // len(episodes))
    for episode in episodes:
        x = model.as_model_frames(episode.frames)  # [T, 3, H, W]
        z = model.encode(x)  # [T, N, D]
        latents.append(z)
        decoded = model.decode(z) if pixels else None  # [T, 3, H, W]
        mask = sprite_mask(x, background)  # [T, H, W]
        if pixels:
            recon.append(psnr(decoded, x))
            recon_sprite.append(masked_psnr(decoded, x, mask))
        inferred = model.infer_actions(z)
        codes.append(inferred.codes)
        if episode.actions is not None:
            truths.append(episode.actions[:-1])
            if episode.player_motion is not None:
                motions.append(episode.player_motion)
        starts = np.arange(model.context - 1, len(x) - horizon)
        if len(starts) == 0:
            continue
        starts = np.sort(rng.choice(starts, size=min(starts_per_episode, len(starts)), replace=False))
        predicted_at_h = short.measure(model, z, x, decoded, mask, inferred.codes, starts, rng)  # [S, 3, H, W]
        long_starts = starts[starts < len(x) - max(LONG_HORIZONS)][: max(1, LONG_STARTS // len(episodes))]
        if pixels and len(long_starts):
            _long_rollout_figures(model, z, x, decoded, inferred.codes, long_starts, long)
        own_background = median_background([episode.frames], BACKGROUND_SAMPLES)  # [3, H, W]: sprites judged on it
        if pixels and game is not None:
            real_checks.append(game.frame_check(episode.frames))
            for check, judged in game.sprite_checks(episode.frames, own_background).items():
                real_sprites.setdefault(check, []).append(judged)
            # the tracked sprite in the predictions `horizon` steps ahead under the inferred codes, against the truth
            truth = episode.frames[starts + horizon]  # [S, H, W, 3]
            kept.append(game.sprite_kept(to_uint8_frames(predicted_at_h), truth, own_background))
        if pixels and (game is not None or judges_familiarity):
            contexts.append(np.stack([z[s - model.context + 1 : s + 1] for s in starts]))  # [S, C, N, D]
            context_frames.append(decoded[starts])  # [S, 3, H, W]
            context_backgrounds.append(own_background)
    codes_all = np.concatenate(codes)
    out = FigureSet()
    if pixels:
        out.set(F.RECONSTRUCTION_PSNR, _mean(recon))
        out.set(F.RECONSTRUCTION_SPRITE_PSNR, _mean(recon_sprite))
        for t in LONG_HORIZONS:
            out.set(F.TEACHER_FORCED_PSNR.at(t), _mean(long[f"model_{t}"]))
            out.set(F.TEACHER_FORCED_COPY_PSNR.at(t), _mean(long[f"copy_{t}"]))
    short.write(out)
    out.set(F.CODEBOOK_PERPLEXITY, code_perplexity(codes_all, model.codebook_size))
    out.set(F.CODES_USED, int(len(np.unique(codes_all))))
    out = out | latent_figures(latents, [e.probed for e in episodes])
    if contexts and game is not None:
        usage = np.bincount(codes_all, minlength=model.codebook_size) / len(codes_all)  # [K]
        all_contexts, all_frames = np.concatenate(contexts), np.concatenate(context_frames)
        pick = rng.choice(len(all_contexts), size=min(CONSISTENCY_STARTS, len(all_contexts)), replace=False)
        consistency = code_consistency(model, game, all_contexts[pick], all_frames[pick], usage)
        out.set(F.FRAME_CHECK_REAL, float(np.concatenate(real_checks).mean()))
        out = out | FigureSet.from_manifest({F.CONSISTENCY: consistency})
        if "live_ball" in real_sprites:
            out.set(F.LIVE_BALL_REAL, float(np.concatenate(real_sprites["live_ball"]).mean()))
        kept_all = np.concatenate(kept)
        if not np.isnan(kept_all).all():
            out.set(F.BALL_KEPT.at(horizon), float(np.nanmean(kept_all)))
    if contexts:
        middles = [c[len(c) // 2] for c in contexts]  # one start from each episode, spread over the episodes
        every = max(1, len(middles) // STABILITY_STARTS)
        spread = middles[::every][:STABILITY_STARTS]
        backgrounds = np.stack(context_backgrounds[::every][:STABILITY_STARTS])  # [S, 3, H, W]
        checks, sprites = rollout_frame_check(
            model, game, np.stack(spread), stability_steps, STABILITY_HOLD, rng, backgrounds
        )
        out = out | FigureSet.from_manifest({F.ROLLOUT_CHECKS: checks})
        for check, share in sprites.items():
            out.set(F.SPRITE_ROLLOUTS[check], share)
    natives = [e.native for e in episodes if e.native is not None]
    if pixels and natives:
        out = out | tolerance(model, np.concatenate(natives)[:TOLERANCE_FRAMES])
    if truths:
        truth = np.concatenate(truths)
        known = truth >= 0
        out.set(F.CODE_ACTION_NMI, normalized_mutual_information(codes_all[known], truth[known]))
        out.set(F.CODE_ACTION_ACCURACY, best_one_to_one_accuracy(codes_all[known], truth[known]))
        if game is not None:
            movement = game.movement_class(truth[known])
            out.set(F.CODE_MOVEMENT_NMI, normalized_mutual_information(codes_all[known], movement))
            out.set(F.CODE_MOVEMENT_ACCURACY, best_one_to_one_accuracy(codes_all[known], movement))
        if motions and len(motions) == len(truths):
            motion = np.concatenate(motions)
            told = known & ~np.isnan(motion)
            ceiling = normalized_mutual_information(truth[told], motion[told].astype(np.int64))
            out.set(F.MOTION_NMI_CEILING, ceiling)
            out.set(F.NMI_SHARE_OF_CEILING, out.get(F.CODE_ACTION_NMI) / ceiling if ceiling > 0 else None)
    measured_on = {
        "episodes": len(episodes),
        "frames": int(sum(len(e.frames) for e in episodes)),
        "transitions": int(len(codes_all)),
        "rollout_starts": short.starts,
        "horizon": horizon,
    }
    return out | FigureSet.from_manifest({F.MEASURED_ON: measured_on})


def latent_figures(latents: list[np.ndarray], probed: list[dict[str, np.ndarray] | None]) -> FigureSet:
    """What the latents carry, on at most PROBE_FRAMES frames spread over the episodes (latents [T, N, D] each):
    their effective rank, and the held-out R² of a linear probe for each label the game names (where every
    episode has it), on contiguous folds (0: no better than the labels' mean)."""
    frames = np.concatenate(latents)  # [T, N, D]
    pick = np.arange(0, len(frames), max(1, len(frames) // PROBE_FRAMES))[:PROBE_FRAMES]
    out = FigureSet()
    out.set(F.EFFECTIVE_RANK, effective_rank(frames[pick]))
    if probed and all(p is not None for p in probed):
        columns = {name: np.concatenate([p[name] for p in probed])[pick].astype(np.float64) for name in probed[0]}
        ranking = probe_all(frames[pick], columns, ProbeConfig(kind="number"))
        for result in sorted(ranking.results, key=lambda r: r.column):
            out.set(F.LINEAR_PROBE.of(result.column), result.score)
    return out


class ShortRollouts:
    """The short-horizon figures, gathered episode by episode: rollouts of 1..`horizon` steps under the clip's
    inferred codes and under random codes, decoded and judged against the true frames and the copy baseline
    (the decoded start frame), and in latents against copying the start frame's latents."""

    def __init__(self, horizon: int):
        self.horizon = horizon
        self.steps = (1, horizon) if horizon > 1 else (1,)  # the steps judged in pixels: decoding is costly
        self.parts: dict[str, list[np.ndarray]] = {}
        self.starts = 0

    def measure(self, model, z, x, decoded, mask, codes, starts, rng) -> np.ndarray | None:
        """-> the decoded predictions at step `horizon` under the inferred codes [S, 3, H, W] (None without a
        decoder). z [T, N, D], x and decoded [T, 3, H, W], mask [T, H, W], codes [T-1], starts [S]"""
        c, h = model.context, self.horizon
        context = np.stack([z[s - c + 1 : s + 1] for s in starts])  # [S, C, N, D]
        steps = np.stack([codes[s : s + h] for s in starts])  # [S, h]
        random_steps = rng.integers(0, model.codebook_size, size=steps.shape)  # [S, h]
        both = model.rollout(
            np.concatenate([context, context]), model.action_vectors(np.concatenate([steps, random_steps]))
        )  # [2S, h, N, D]
        count = len(starts)
        self.starts += count
        for step in range(1, h + 1):  # in latents: the predictor's error over copying's
            truth = z[starts + step]  # [S, N, D]
            error = ((both[:count, step - 1] - truth) ** 2).mean(axis=(1, 2))  # [S]
            copying = ((z[starts] - truth) ** 2).mean(axis=(1, 2))  # [S]
            self._add(f"latent_error_{step}", error)
            self._add(f"latent_copy_{step}", copying)
        if decoded is None:  # a bundle that draws no pixels: judged in latents only
            return None
        inferred_at_h = None
        for step in self.steps:
            target, target_mask = x[starts + step], mask[starts + step]  # [S, 3, H, W], [S, H, W]
            predicted = model.decode(both[:, step - 1])  # [2S, 3, H, W]
            copy = decoded[starts]
            moving = target_mask | mask[starts]
            self._add(f"model_{step}", psnr(predicted[:count], target))
            self._add(f"copy_{step}", psnr(copy, target))
            self._add(f"model_{step}_sprite", masked_psnr(predicted[:count], target, moving))
            self._add(f"copy_{step}_sprite", masked_psnr(copy, target, moving))
            if step == h:
                self._add(f"random_{step}", psnr(predicted[count:], target))
                inferred_at_h = predicted[:count]
        return inferred_at_h

    def write(self, out: FigureSet) -> None:
        h, mean = self.horizon, self._mean
        for step in range(1, h + 1):  # a ratio of means: frames where copying is exact weigh nothing
            copying = mean(f"latent_copy_{step}")
            out.set(F.LATENT_ERROR_VS_COPY.at(step), mean(f"latent_error_{step}") / copying if copying > 0 else None)
        if f"model_{h}" not in self.parts:
            return
        for step in self.steps:
            out.set(F.NEXT_FRAME_PSNR.at(step), mean(f"model_{step}"))
            out.set(F.NEXT_FRAME_SPRITE_PSNR.at(step), mean(f"model_{step}_sprite"))
            out.set(F.COPY_BASELINE_PSNR.at(step), mean(f"copy_{step}"))
            out.set(F.COPY_BASELINE_SPRITE_PSNR.at(step), mean(f"copy_{step}_sprite"))
        out.set(F.RANDOM_CODES_PSNR.at(h), mean(f"random_{h}"))
        out.set(F.DELTA_T_PSNR.at(h), mean(f"model_{h}") - mean(f"random_{h}"))

    def _add(self, name: str, values: np.ndarray) -> None:
        self.parts.setdefault(name, []).append(values)

    def _mean(self, name: str) -> float:
        return _mean(self.parts.get(name, []))


def _long_rollout_figures(model, z, x, decoded, codes, starts, out) -> None:
    """Teacher-forced: the rollout under the clip's own inferred codes, judged at the long horizons."""
    c, horizon = model.context, max(LONG_HORIZONS)
    context = np.stack([z[s - c + 1 : s + 1] for s in starts])  # [S, C, N, D]
    steps = np.stack([codes[s : s + horizon] for s in starts])  # [S, 32]
    predicted = model.rollout(context, model.action_vectors(steps))  # [S, 32, N, D]
    for t in LONG_HORIZONS:
        out[f"model_{t}"].append(psnr(model.decode(predicted[:, t - 1]), x[starts + t]))
        out[f"copy_{t}"].append(psnr(decoded[starts], x[starts + t]))


def tolerance(model: WorldModel, native: np.ndarray) -> FigureSet:
    """Reconstruction PSNR against the clean model frame of source frames [T, h, w, 3] in each form of
    `TOLERANCE_FORMS`, resized to the model's size as the studio does (no screen detection)."""
    size, mode = model.frame_size, model.manifest.frame.resize
    clean = model.as_model_frames(resize_frames(native, size, mode))  # [T, 3, H, W]
    out = FigureSet({F.TOLERANCE_FRAMES: len(native)})
    out.set(F.TOLERANCE["clean"], float(psnr(model.decode(model.encode(clean)), clean).mean()))
    for name, form in TOLERANCE_FORMS.items():
        seen = model.as_model_frames(resize_frames(form(native), size, mode))
        out.set(F.TOLERANCE[name], float(psnr(model.decode(model.encode(seen)), clean).mean()))
    return out


def screen_recording(model: WorldModel, game: Game, folder: Path) -> FigureSet:
    """Reconstruction PSNR of the game as a person records its window (`Game.screen_recording`, played as the
    bundle's reference plays: `behaviour_settings`), written as an H.264 clip in `folder` and read back as the
    studio reads an upload, against the frames read; no figure for a game whose window draws nothing finer than
    its frames."""
    rng, behaviour = np.random.default_rng(0), behaviour_settings(model)
    policy = game.behaviour_policy(rng=rng, **behaviour) if behaviour else None
    recording = game.screen_recording(SCREEN_RECORDING_FRAMES, policy, rng)
    if recording is None:
        return FigureSet()
    fps = game.NATIVE_FPS / game.FRAME_SKIP
    path = write_mp4(recording, folder / "screen_recording.mp4", fps=fps, crf=SCREEN_RECORDING_CRF)
    size, mode = model.frame_size, model.manifest.frame.resize
    clip = read_clip(path, max_frames=SCREEN_RECORDING_FRAMES, size=size, resize=mode, spread=False)
    x = model.as_model_frames(clip.frames)  # [T, 3, H, W]
    out = FigureSet()
    out.set(F.TOLERANCE["screen_recording"], float(psnr(model.decode(model.encode(x)), x).mean()))
    return out


def masked_psnr(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-frame PSNR over the masked pixels only; frames with no masked pixel are left out."""
    squared = ((prediction.astype(np.float64) - target) ** 2).mean(axis=1)  # [T, H, W]
    counts = mask.reshape(len(mask), -1).sum(axis=1)  # [T]
    keep = counts > 0
    mse = (squared * mask).reshape(len(mask), -1).sum(axis=1)[keep] / counts[keep]
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def _mean(parts: list[np.ndarray]) -> float:
    values = np.concatenate(parts) if parts else np.zeros(0)
    return float(values.mean()) if len(values) else float("nan")


def format_table(figures: FigureSet) -> str:
    """The figures as an aligned text table: each named figure by its name and unit, then the measurement's
    details by key."""
    rows = [(f"{figure.name} ({figure.unit})", figure.format(value)) for figure, value in figures.figures()]
    named = {figure.key for figure, _ in figures.figures()}
    for key, value in figures.values.items():
        if key not in named and not isinstance(value, (list, dict)):
            rows.append((key, f"{value:.4f}" if isinstance(value, float) else str(value)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def episodes_from_shards(folder: str | Path, game: Game | None) -> list[EpisodeData]:
    """Held-out episode shards written by `studio train-data` (frames, actions, RAM)."""
    episodes, native_frames = [], 0
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as shard:  # source frames are large: only as many as the tolerance figures use
            native = shard["native"] if "native" in shard.files and native_frames < TOLERANCE_FRAMES else None
            native_frames += 0 if native is None else len(native)
            episodes.append(EpisodeData.of(shard["frames"], shard["actions"], shard["ram"], game, native))
    if not episodes:
        raise ValueError(f"no episode shards (.npz) in {Path(folder).name}")
    return episodes


def episodes_from_examples(model: WorldModel, game: Game | None) -> list[EpisodeData]:
    """The bundle's example clips, with the true actions their labels give and the player's motion as the game
    tells it (from the RAM columns of the labels where there are, else from the clip's frames)."""
    episodes = []
    for path in example_clips(model):
        clip = read_clip(
            path, max_frames=100_000, size=model.frame_size, resize=model.manifest.frame.resize, spread=False
        )
        labels_path = path.with_suffix(".csv")
        labels = read_labels(labels_path) if labels_path.is_file() else None
        actions = motion = probed = None
        if labels is not None and ACTION_COLUMN in labels.columns:
            actions = labels.at(ACTION_COLUMN, clip.indices, clip.source_frames).astype(np.int64)
        if game is not None:
            motion = game.recorded_motion(clip.frames, _ram_of(labels, clip))
            if game.PROBED_LABELS and labels is not None and set(game.PROBED_LABELS) <= set(labels.columns):
                probed = {name: labels.at(name, clip.indices, clip.source_frames) for name in game.PROBED_LABELS}
        episodes.append(EpisodeData(clip.frames, actions, motion, probed=probed))
    if not episodes:
        raise ValueError("the bundle ships no example clips")
    return episodes


def _ram_of(labels, clip) -> np.ndarray:
    """The console RAM [T, 128] the labels carry for the clip's frames, or [T, 0] when they carry none."""
    columns = [ram_column(i) for i in range(RAM_BYTES)]
    if labels is None or not all(c in labels.columns for c in columns):
        return np.zeros((len(clip.indices), 0), np.uint8)
    return np.stack([labels.at(c, clip.indices, clip.source_frames) for c in columns], axis=1).astype(np.uint8)


def evaluate_bundle(bundle_dir: str | Path, episodes: str | Path | None = None, write: bool = False) -> FigureSet:
    """Judge a bundle on held-out shards (`episodes`) or on its example clips; optionally record the figures
    in its manifest under `metrics.heldout` or `metrics.examples`."""
    model = WorldModel.load(bundle_dir, device="cpu")
    game = find_game(model.manifest.trained_on.get("source"))
    data = episodes_from_shards(episodes, game) if episodes else episodes_from_examples(model, game)
    figures = evaluate(model, data, game=game)
    if episodes and game is not None:
        with tempfile.TemporaryDirectory() as folder:
            figures = figures | screen_recording(model, game, Path(folder))
    figures.values[f"{F.MEASURED_ON}.source"] = "held-out episodes" if episodes else "the bundle's example clips"
    if write:
        key = "heldout" if episodes else "examples"
        # the manifest as it is now, not as it was when the evaluation began: another may have written meanwhile
        manifest = load_bundle(bundle_dir, check_graphs=False).manifest
        write_manifest(replace(manifest, metrics={**manifest.metrics, key: figures.to_manifest()}), bundle_dir)
    return figures
