"""How a bundle is judged (docs/architecture.md), through its exported ONNX graphs: what the studio runs.

Figures, on held-out episodes or clips:
- reconstruction PSNR, over whole frames and over sprite pixels (those that differ from the median
  background: paddle, ball, broken bricks), since most of a game frame never changes;
- next-frame PSNR at t=1 and t=4 of an autoregressive rollout under the LAM-inferred actions, beside the
  decoded-copy baseline decoder(encoder(x[s])) taken as the prediction of x[s+t];
- ΔtPSNR at t=4 (Genie's controllability): PSNR under inferred actions minus under uniformly random codes;
- code ↔ true action: NMI, best one-to-one accuracy, perplexity and codes in use; and, where the game's RAM
  says how the player moved (`studio.games`), the ceiling the data allows: NMI between true action and
  player motion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from studio.bundle import write_manifest
from studio.examples import example_clips
from studio.games import ACTION_COLUMN, Game, find_game, player_motion, ram_column
from studio.games.sprites import median_background, sprite_mask
from studio.labels import read_labels
from studio.metrics import best_one_to_one_accuracy, code_perplexity, normalized_mutual_information, psnr
from studio.rollout import DELTA_T_HORIZON as HORIZON
from studio.runtime import WorldModel
from studio.video import read_clip

BACKGROUND_SAMPLES = 200  # frames of each episode the median background is taken over


@dataclass
class EpisodeData:
    """One held-out episode or clip: frames, and where known the true actions and the RAM."""

    frames: np.ndarray  # [T, H, W, 3] uint8
    actions: np.ndarray | None = None  # [T] int, action[t] moves frame t to t+1; -1 unknown
    player_motion: np.ndarray | None = None  # [T-1] int, -1 / 0 / +1 from the RAM

    @classmethod
    def of(cls, frames: np.ndarray, actions: np.ndarray, ram: np.ndarray, game: Game | None) -> EpisodeData:
        """An episode shard's contents (frames, actions [T] with -1 unknown, RAM [T, R]) as the evaluation sees
        them: actions only when any is known, the player's motion where the game's RAM says it."""
        has_ram = game is not None and ram.shape[1] == game.RAM_BYTES
        return cls(
            frames=frames,
            actions=actions if (actions >= 0).any() else None,
            player_motion=player_motion(ram[:, game.PLAYER_X]) if has_ram else None,
        )


def evaluate(model: WorldModel, episodes: list[EpisodeData], seed: int = 0, max_starts: int = 4000) -> dict:
    """All the figures a bundle is judged by, over the episodes; each a mean over frames or start points."""
    rng = np.random.default_rng(seed)
    background = median_background([e.frames for e in episodes], BACKGROUND_SAMPLES)  # [3, H, W]
    recon, recon_sprite, codes, truths, motions = [], [], [], [], []
    rollout = {key: [] for key in ("model_1", "model_4", "copy_1", "copy_4", "random_4",
                                    "model_1_sprite", "model_4_sprite", "copy_1_sprite", "copy_4_sprite")}
    starts_per_episode = max(1, max_starts // len(episodes))
    for episode in episodes:
        x = model.as_model_frames(episode.frames)  # [T, 3, H, W]
        z = model.encode(x)  # [T, N, D]
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
    codes_all = np.concatenate(codes)
    figures = {
        "reconstruction_psnr_db": _mean(recon),
        "reconstruction_sprite_psnr_db": _mean(recon_sprite),
        "next_frame_psnr_db": {"t1": _mean(rollout["model_1"]), "t4": _mean(rollout["model_4"])},
        "next_frame_sprite_psnr_db": {"t1": _mean(rollout["model_1_sprite"]), "t4": _mean(rollout["model_4_sprite"])},
        "decoded_copy_baseline_psnr_db": {"t1": _mean(rollout["copy_1"]), "t4": _mean(rollout["copy_4"])},
        "decoded_copy_baseline_sprite_psnr_db": {"t1": _mean(rollout["copy_1_sprite"]), "t4": _mean(rollout["copy_4_sprite"])},
        "random_codes_psnr_db": {"t4": _mean(rollout["random_4"])},
        "delta_t_psnr_db": {"t4": _mean(rollout["model_4"]) - _mean(rollout["random_4"])},
        "codebook_perplexity": code_perplexity(codes_all, model.codebook_size),
        "codes_used": int(len(np.unique(codes_all))),
    }
    if truths:
        truth = np.concatenate(truths)
        known = truth >= 0
        figures["code_action_nmi"] = normalized_mutual_information(codes_all[known], truth[known])
        figures["code_action_accuracy"] = best_one_to_one_accuracy(codes_all[known], truth[known])
        if motions:
            motion = np.concatenate(motions)[known]
            ceiling = normalized_mutual_information(truth[known], motion)
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
    episodes = []
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as shard:
            episodes.append(EpisodeData.of(shard["frames"], shard["actions"], shard["ram"], game))
    if not episodes:
        raise ValueError(f"no episode shards (.npz) in {Path(folder).name}")
    return episodes


def episodes_from_examples(model: WorldModel, game: Game | None) -> list[EpisodeData]:
    """The bundle's example clips, with the true actions and player motion their labels give."""
    episodes = []
    for path in example_clips(model):
        clip = read_clip(path, max_frames=100_000, size=model.frame_size, resize=model.manifest.frame.resize,
                         spread=False)
        labels_path = path.with_suffix(".csv")
        actions = motion = None
        if labels_path.is_file():
            labels = read_labels(labels_path)
            if ACTION_COLUMN in labels.columns:
                actions = labels.at(ACTION_COLUMN, clip.indices).astype(np.int64)
            if game is not None and ram_column(game.PLAYER_X) in labels.columns:
                motion = player_motion(labels.at(ram_column(game.PLAYER_X), clip.indices))
        episodes.append(EpisodeData(clip.frames, actions, motion))
    if not episodes:
        raise ValueError("the bundle ships no example clips")
    return episodes


def evaluate_bundle(bundle_dir: str | Path, episodes: str | Path | None = None, write: bool = False) -> dict:
    """Judge a bundle on held-out shards (`episodes`) or on its example clips; optionally record the figures
    in its manifest under `metrics.heldout` or `metrics.examples`."""
    model = WorldModel.load(bundle_dir, device="cpu")
    game = find_game(model.manifest.trained_on.get("source"))
    data = episodes_from_shards(episodes, game) if episodes else episodes_from_examples(model, game)
    figures = evaluate(model, data)
    figures["measured_on"]["source"] = "held-out episodes" if episodes else "the bundle's example clips"
    if write:
        key = "heldout" if episodes else "examples"
        manifest = model.manifest
        write_manifest(replace(manifest, metrics={**manifest.metrics, key: figures}), bundle_dir)
    return figures
