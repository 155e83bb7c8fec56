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
  1,000-step rollouts (random codes held 10 steps, 10 starts) that pass the game's frame check;
- tolerance, where the episodes carry their source frames: reconstruction against the clean frame of the
  source frames cut, upscaled and re-encoded (`studio.perturb.TOLERANCE_FORMS`), with no screen detection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from studio.behaviour import code_consistency, rollout_frame_check
from studio.bundle import write_manifest
from studio.examples import example_clips
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
from studio.rollout import DELTA_T_HORIZON as HORIZON
from studio.runtime import WorldModel
from studio.video import read_clip, resize_frames

BACKGROUND_SAMPLES = 200  # frames of each episode the median background is taken over
LONG_HORIZONS = (16, 32)  # teacher-forced steps, judged from the starts with 32 frames ahead
LONG_STARTS = 400  # of those starts, at most this many (spread over the episodes)
CONSISTENCY_STARTS = 400  # start frames each code is held from
STABILITY_STARTS, STABILITY_STEPS, STABILITY_HOLD = 10, 1000, 10  # long rollouts: starts, steps, steps a code is held
TOLERANCE_FRAMES = 400  # held-out source frames the tolerance figures are measured on
PROBE_FRAMES = 3000  # frames, spread over the episodes, the latents' rank and linear probes are measured on
RANK_KEY, PROBES_KEY = "latent_effective_rank", "linear_probe_r2"  # where latent_figures writes its figures


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
) -> dict:
    """All the figures a bundle is judged by, over the episodes; each a mean over frames or start points. For a
    game the studio knows, also code consistency and its frame check, on real frames and over
    `stability_steps`-step rollouts."""
    rng = np.random.default_rng(seed)
    background = median_background([e.frames for e in episodes], BACKGROUND_SAMPLES)  # [3, H, W]
    recon, recon_sprite, codes, truths, motions = [], [], [], [], []
    rollout = {
        key: []
        for key in (
            "model_1",
            "model_4",
            "copy_1",
            "copy_4",
            "random_4",
            "model_1_sprite",
            "model_4_sprite",
            "copy_1_sprite",
            "copy_4_sprite",
        )
    }
    long = {f"{kind}_{t}": [] for kind in ("model", "copy") for t in LONG_HORIZONS}
    real_checks, contexts, context_frames, latents = [], [], [], []
    starts_per_episode = max(1, max_starts // len(episodes))
    for episode in episodes:
        x = model.as_model_frames(episode.frames)  # [T, 3, H, W]
        z = model.encode(x)  # [T, N, D]
        latents.append(z)
        decoded = model.decode(z)  # [T, 3, H, W]
        mask = sprite_mask(x, background)  # [T, H, W]
        recon.append(psnr(decoded, x))
        recon_sprite.append(masked_psnr(decoded, x, mask))
        inferred = model.infer_actions(z)
        codes.append(inferred.codes)
        if episode.actions is not None:
            truths.append(episode.actions[:-1])
            if episode.player_motion is not None:
                motions.append(episode.player_motion)
        starts = np.arange(model.context - 1, len(x) - HORIZON)
        if len(starts) == 0:
            continue
        starts = np.sort(rng.choice(starts, size=min(starts_per_episode, len(starts)), replace=False))
        _rollout_figures(model, z, x, decoded, mask, inferred.codes, starts, rng, rollout)
        long_starts = starts[starts < len(x) - max(LONG_HORIZONS)][: max(1, LONG_STARTS // len(episodes))]
        if len(long_starts):
            _long_rollout_figures(model, z, x, decoded, inferred.codes, long_starts, long)
        if game is not None:
            real_checks.append(game.frame_check(episode.frames))
            contexts.append(np.stack([z[s - model.context + 1 : s + 1] for s in starts]))  # [S, C, N, D]
            context_frames.append(decoded[starts])  # [S, 3, H, W]
    codes_all = np.concatenate(codes)
    figures = {
        "reconstruction_psnr_db": _mean(recon),
        "reconstruction_sprite_psnr_db": _mean(recon_sprite),
        "next_frame_psnr_db": {"t1": _mean(rollout["model_1"]), "t4": _mean(rollout["model_4"])},
        "next_frame_sprite_psnr_db": {"t1": _mean(rollout["model_1_sprite"]), "t4": _mean(rollout["model_4_sprite"])},
        "decoded_copy_baseline_psnr_db": {"t1": _mean(rollout["copy_1"]), "t4": _mean(rollout["copy_4"])},
        "decoded_copy_baseline_sprite_psnr_db": {
            "t1": _mean(rollout["copy_1_sprite"]),
            "t4": _mean(rollout["copy_4_sprite"]),
        },
        "random_codes_psnr_db": {"t4": _mean(rollout["random_4"])},
        "delta_t_psnr_db": {"t4": _mean(rollout["model_4"]) - _mean(rollout["random_4"])},
        "codebook_perplexity": code_perplexity(codes_all, model.codebook_size),
        "codes_used": int(len(np.unique(codes_all))),
        "teacher_forced_psnr_db": {f"t{t}": _mean(long[f"model_{t}"]) for t in LONG_HORIZONS},
        "teacher_forced_copy_baseline_psnr_db": {f"t{t}": _mean(long[f"copy_{t}"]) for t in LONG_HORIZONS},
    }
    figures |= latent_figures(latents, [e.probed for e in episodes])
    if contexts:
        usage = np.bincount(codes_all, minlength=model.codebook_size) / len(codes_all)  # [K]
        all_contexts, all_frames = np.concatenate(contexts), np.concatenate(context_frames)
        pick = rng.choice(len(all_contexts), size=min(CONSISTENCY_STARTS, len(all_contexts)), replace=False)
        figures["code_consistency"] = code_consistency(model, game, all_contexts[pick], all_frames[pick], usage)
        middles = [c[len(c) // 2] for c in contexts]  # one start from each episode, spread over the episodes
        spread = middles[:: max(1, len(middles) // STABILITY_STARTS)][:STABILITY_STARTS]
        figures["frame_check"] = {
            "real_frames": float(np.concatenate(real_checks).mean()),
            "rollouts": rollout_frame_check(model, game, np.stack(spread), stability_steps, STABILITY_HOLD, rng),
        }
    natives = [e.native for e in episodes if e.native is not None]
    if natives:
        figures["tolerance_psnr_db"] = tolerance(model, np.concatenate(natives)[:TOLERANCE_FRAMES])
    if truths:
        truth = np.concatenate(truths)
        known = truth >= 0
        figures["code_action_nmi"] = normalized_mutual_information(codes_all[known], truth[known])
        figures["code_action_accuracy"] = best_one_to_one_accuracy(codes_all[known], truth[known])
        if game is not None:
            movement = game.movement_class(truth[known])
            figures["code_movement_nmi"] = normalized_mutual_information(codes_all[known], movement)
            figures["code_movement_accuracy"] = best_one_to_one_accuracy(codes_all[known], movement)
        if motions and len(motions) == len(truths):
            motion = np.concatenate(motions)
            told = known & ~np.isnan(motion)
            ceiling = normalized_mutual_information(truth[told], motion[told].astype(np.int64))
            figures["action_motion_nmi_ceiling"] = ceiling
            figures["code_nmi_share_of_ceiling"] = figures["code_action_nmi"] / ceiling if ceiling > 0 else 0.0
    figures["measured_on"] = {
        "episodes": len(episodes),
        "frames": int(sum(len(e.frames) for e in episodes)),
        "transitions": int(len(codes_all)),
        "rollout_starts": int(sum(len(part) for part in rollout["model_1"])),
        "horizon": HORIZON,
    }
    return figures


def latent_figures(latents: list[np.ndarray], probed: list[dict[str, np.ndarray] | None]) -> dict:
    """What the latents carry, on at most PROBE_FRAMES frames spread over the episodes (latents [T, N, D] each):
    their effective rank, and the held-out R² of a linear probe for each label the game names (where every
    episode has it), on contiguous folds (0: no better than the labels' mean)."""
    frames = np.concatenate(latents)  # [T, N, D]
    pick = np.arange(0, len(frames), max(1, len(frames) // PROBE_FRAMES))[:PROBE_FRAMES]
    figures = {RANK_KEY: effective_rank(frames[pick])}
    if probed and all(p is not None for p in probed):
        columns = {name: np.concatenate([p[name] for p in probed])[pick].astype(np.float64) for name in probed[0]}
        ranking = probe_all(frames[pick], columns, ProbeConfig(kind="number"))
        figures[PROBES_KEY] = {r.column: r.score for r in sorted(ranking.results, key=lambda r: r.column)}
    return figures


def _rollout_figures(model, z, x, decoded, mask, codes, starts, rng, out) -> None:
    c = model.context
    context = np.stack([z[s - c + 1 : s + 1] for s in starts])  # [S, C, N, D]
    steps = np.stack([codes[s : s + HORIZON] for s in starts])  # [S, 4]
    random_steps = rng.integers(0, model.codebook_size, size=steps.shape)  # [S, 4]
    both = model.rollout(
        np.concatenate([context, context]),
        model.action_vectors(np.concatenate([steps, random_steps])),
    )  # [2S, 4, N, D]
    s_count = len(starts)
    for step in (1, HORIZON):
        target, target_mask = x[starts + step], mask[starts + step]  # [S, 3, H, W], [S, H, W]
        predicted = model.decode(both[:, step - 1])  # [2S, 3, H, W]
        copy = decoded[starts]
        out[f"model_{step}"].append(psnr(predicted[:s_count], target))
        out[f"copy_{step}"].append(psnr(copy, target))
        out[f"model_{step}_sprite"].append(masked_psnr(predicted[:s_count], target, target_mask | mask[starts]))
        out[f"copy_{step}_sprite"].append(masked_psnr(copy, target, target_mask | mask[starts]))
        if step == HORIZON:
            out["random_4"].append(psnr(predicted[s_count:], target))


def _long_rollout_figures(model, z, x, decoded, codes, starts, out) -> None:
    """Teacher-forced: the rollout under the clip's own inferred codes, judged at the long horizons."""
    c, horizon = model.context, max(LONG_HORIZONS)
    context = np.stack([z[s - c + 1 : s + 1] for s in starts])  # [S, C, N, D]
    steps = np.stack([codes[s : s + horizon] for s in starts])  # [S, 32]
    predicted = model.rollout(context, model.action_vectors(steps))  # [S, 32, N, D]
    for t in LONG_HORIZONS:
        out[f"model_{t}"].append(psnr(model.decode(predicted[:, t - 1]), x[starts + t]))
        out[f"copy_{t}"].append(psnr(decoded[starts], x[starts + t]))


def tolerance(model: WorldModel, native: np.ndarray) -> dict:
    """Reconstruction PSNR against the clean model frame of source frames [T, h, w, 3] in each form of
    `TOLERANCE_FORMS`, resized to the model's size as the studio does (no screen detection)."""
    size, mode = model.frame_size, model.manifest.frame.resize
    clean = model.as_model_frames(resize_frames(native, size, mode))  # [T, 3, H, W]
    figures = {"clean": float(psnr(model.decode(model.encode(clean)), clean).mean())}
    for name, form in TOLERANCE_FORMS.items():
        seen = model.as_model_frames(resize_frames(form(native), size, mode))
        figures[name] = float(psnr(model.decode(model.encode(seen)), clean).mean())
    figures["frames"] = len(native)
    return figures


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


def format_table(figures: dict) -> str:
    """The figures as an aligned two-column text table."""
    rows = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            rows.append((prefix, f"{value:.4f}" if isinstance(value, float) else str(value)))

    walk("", figures)
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


def evaluate_bundle(bundle_dir: str | Path, episodes: str | Path | None = None, write: bool = False) -> dict:
    """Judge a bundle on held-out shards (`episodes`) or on its example clips; optionally record the figures
    in its manifest under `metrics.heldout` or `metrics.examples`."""
    model = WorldModel.load(bundle_dir, device="cpu")
    game = find_game(model.manifest.trained_on.get("source"))
    data = episodes_from_shards(episodes, game) if episodes else episodes_from_examples(model, game)
    figures = evaluate(model, data, game=game)
    figures["measured_on"]["source"] = "held-out episodes" if episodes else "the bundle's example clips"
    if write:
        key = "heldout" if episodes else "examples"
        manifest = model.manifest
        write_manifest(replace(manifest, metrics={**manifest.metrics, key: figures}), bundle_dir)
    return figures
