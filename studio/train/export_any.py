"""Export anyone's torch world model as a bundle the studio opens: `export_world_model`.

A world model is an encoder (frames -> latents [N, D] per frame), a predictor (the last C latent frames and an
action -> the next latent frame), optionally a decoder (latents -> frames), and one of three kinds of action:

- `LatentCodes`: a latent action model reading a window of L latent frames, with a codebook of K codes (Genie);
  the exporter adds the nearest-code lookup to its graph, so the studio gets the vector, the code and the
  distances the contract asks for;
- `Buttons`: the predictor takes the game's own buttons (DIAMOND, IRIS, DreamerV3): no actions graph; the studio
  reads the button of a transition off the predictor (the button whose prediction lands nearest the next frame);
- `Continuous`: a latent action model giving a vector and no code (LAOM, AdaWorld); the vectors of the example
  transitions are clustered (k-means) for display only, and the manifest says so.

Each module is traced at opset 18 with a dynamic batch axis and the same checks as the studio's own exports
(parity with the module on the given frames, every input live, the batch dynamic). The episodes become the
bundle's example clips (with the labels given), and the latent maps are fitted on them. Without a decoder, a
frame bank of real frames (and their latents) stands in for one: the studio draws a latent as the nearest real
frame and labels it so.

    from studio.train.export_any import Buttons, export_world_model
    export_world_model("exported/mine", name="mine", episodes=[frames], encoder=enc, predictor=pred, context=4,
                       actions=Buttons(["NOOP", "FIRE", "RIGHT", "LEFT"]), decoder=dec)
"""

from __future__ import annotations

import datetime
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.bundle import (
    FRAME_BANK_NAME,
    ActionSpec,
    FileSpec,
    FrameSpec,
    LatentSpec,
    Manifest,
    PredictorSpec,
    load_bundle,
    sha256_file,
    write_manifest,
)
from studio.examples import EXAMPLES_DIR
from studio.games import ACTION_COLUMN, ACTION_NAME_COLUMN
from studio.labels import FRAME_COLUMN
from studio.latent_map import write_shipped_maps
from studio.runtime import WorldModel
from studio.train.export import ExportError, check_graph, check_runs_in_the_page, export_graph
from studio.train.write_examples import csv_cell
from studio.video import write_mp4

BANK_FRAMES = 1024  # frames of the episodes a decoder-less bundle keeps, spread over them
CLIP_SIDE = 256  # example clips are enlarged (nearest neighbour) to about this many pixels a side


@dataclass
class LatentCodes:
    module: torch.nn.Module  # latents [B, L, N, D] -> action vector [B, Da], before quantisation
    codebook: torch.Tensor | np.ndarray  # [K, Da]
    window: int = 2  # L: latent frames t-L+2 .. t+1 read for the action t -> t+1


@dataclass
class Buttons:
    names: list[str]  # the game's name of each button, in the order the predictor numbers them
    encoding: str = "one_hot"  # the predictor's action: "one_hot" [B, K], or "index" [B, 1] (the index as a float)

    def vectors(self) -> np.ndarray:  # [K, Da]
        k = len(self.names)
        return np.eye(k, dtype=np.float32) if self.encoding == "one_hot" else np.arange(k, dtype=np.float32)[:, None]


@dataclass
class Continuous:
    module: torch.nn.Module  # latents [B, L, N, D] -> action vector [B, Da]
    window: int = 2
    clusters: int = 8  # k-means clusters of the example transitions' vectors, for display (codes of the atlas, Play)


def export_world_model(
    out_dir: str | Path,
    *,
    name: str,
    episodes: list[np.ndarray],
    encoder: torch.nn.Module,
    predictor: torch.nn.Module,
    context: int,
    actions: LatentCodes | Buttons | Continuous,
    decoder: torch.nn.Module | None = None,
    labels: list[dict[str, np.ndarray]] | None = None,
    description: str = "",
    license: str = "unknown",
    trained_on: dict | None = None,
    fps: float = 15.0,
    seed: int = 0,
) -> Path:
    """Write a checked bundle of the model into `out_dir`. `episodes`: consecutive frames [T, H, W, 3] uint8 at the
    model's size, one array per episode (the first checks the graphs; each becomes an example clip); `labels`:
    per episode, per-frame columns [T] (an `action` column holds the true button's index)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    episodes = [np.asarray(e) for e in episodes]
    _check_episodes(episodes, context, getattr(actions, "window", 2))
    modules = {"encoder": encoder.eval(), "predictor": predictor.eval()}
    if decoder is not None:
        modules["decoder"] = decoder.eval()
    if isinstance(actions, LatentCodes):
        modules["actions"] = NearestCode(actions.module.eval(), torch.as_tensor(actions.codebook, dtype=torch.float32))
    elif isinstance(actions, Continuous):
        modules["actions"] = actions.module.eval()
    kind = {LatentCodes: "latent_codes", Buttons: "buttons", Continuous: "continuous"}[type(actions)]
    with torch.no_grad():
        latents = [_encode(encoder, e) for e in episodes]  # [T, N, D] each
        codebook = _codebook(actions, latents, seed)  # [K, Da]
    inputs = _example_inputs(latents[0], episodes[0], context, actions, codebook)
    paths = {}
    for role, module in modules.items():
        path = out_dir / f"{role}.onnx"
        export_graph(module, inputs[role], path, role, name, kind)
        check_graph(module, inputs[role], path)
        check_runs_in_the_page(path)
        paths[role] = path
    n, d = latents[0].shape[1:]
    side = math.isqrt(n)
    h, w = episodes[0].shape[1:3]
    manifest = Manifest(
        name=name,
        description=description,
        license=license,
        trained_on=trained_on or {},
        frame=FrameSpec(height=h, width=w, resize="stretch"),
        latent=LatentSpec(tokens=n, dim=d, grid=[side, side] if side * side == n else [1, n]),
        action=ActionSpec(
            codebook_size=len(codebook),
            dim=codebook.shape[1],
            codebook=codebook.tolist(),
            window=getattr(actions, "window", 2),
            kind=kind,
            names=list(actions.names) if isinstance(actions, Buttons) else [],
            encoding=actions.encoding if isinstance(actions, Buttons) else "one_hot",
        ),
        predictor=PredictorSpec(context=context),
        frame_bank=_write_frame_bank(out_dir, episodes, latents) if decoder is None else None,
        training={
            "exported": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "exporter": "studio.train.export_any.export_world_model",
            "torch": torch.__version__,
            "platform": platform.platform(terse=True),
            **(
                {
                    "action_clusters": f"k-means of {sum(len(z) - 1 for z in latents)} example transitions' vectors, "
                    "for display only"
                }
                if kind == "continuous"
                else {}
            ),
        },
    ).with_graphs(paths)
    write_manifest(manifest, out_dir)
    load_bundle(out_dir)  # the studio's own checks must accept what was written
    _write_examples(out_dir / EXAMPLES_DIR, episodes, labels, actions, fps)
    write_shipped_maps(WorldModel.load(out_dir, device="cpu", warm_up=False))
    return out_dir


class NearestCode(torch.nn.Module):
    """A latent action model's vector, and the nearest code of its codebook with the distances to every code."""

    def __init__(self, module: torch.nn.Module, codebook: torch.Tensor):
        super().__init__()
        self.module = module
        self.register_buffer("codebook", codebook)  # [K, Da]

    def forward(self, latents):  # [B, L, N, D]
        action = self.module(latents)  # [B, Da]
        distances = torch.cdist(action, self.codebook)  # [B, K]
        return action, distances.argmin(dim=1), distances


def _check_episodes(episodes: list[np.ndarray], context: int, window: int) -> None:
    if not episodes:
        raise ExportError("episodes: give at least one episode of consecutive frames")
    need = max(context, window - 1) + 2
    for i, frames in enumerate(episodes):
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ExportError(
                f"episode {i}: frames must be uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}"
            )
        if frames.shape[1:] != episodes[0].shape[1:]:
            raise ExportError(
                f"episode {i}: frames of {frames.shape[1:3]}, the first episode's are {episodes[0].shape[1:3]}"
            )
    if len(episodes[0]) < need:
        raise ExportError(f"episode 0: {len(episodes[0])} frames; the checks need at least {need} consecutive ones")


def _frames(frames: np.ndarray) -> torch.Tensor:  # [T, H, W, 3] uint8 -> [T, 3, H, W] float in [0, 1]
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0


def _encode(encoder: torch.nn.Module, frames: np.ndarray, batch: int = 64) -> np.ndarray:
    latents = torch.cat([encoder(_frames(frames[i : i + batch])) for i in range(0, len(frames), batch)])
    if latents.ndim != 3:
        raise ExportError(f"encoder: latents must be [B, N, D], got {list(latents.shape)}")
    return latents.numpy()


def _windows(latents: np.ndarray, window: int) -> np.ndarray:
    """Every transition's window of latent frames t-L+2 .. t+1: [T-1, L, N, D] (the first frame repeated before)."""
    padded = np.concatenate([np.repeat(latents[:1], window - 2, axis=0), latents])
    return np.stack([padded[t : t + window] for t in range(len(latents) - 1)])


def _codebook(actions, latents: list[np.ndarray], seed: int) -> np.ndarray:
    """[K, Da]: the codebook of latent codes, the buttons' vectors, or display clusters of continuous actions."""
    if isinstance(actions, Buttons):
        return actions.vectors()
    if isinstance(actions, LatentCodes):
        return np.asarray(torch.as_tensor(actions.codebook, dtype=torch.float32))
    from sklearn.cluster import KMeans

    vectors = np.concatenate([actions.module(torch.from_numpy(_windows(z, actions.window))).numpy() for z in latents])
    k = min(actions.clusters, len(vectors))
    return KMeans(k, n_init=4, random_state=seed).fit(vectors).cluster_centers_.astype(np.float32)


def _example_inputs(latents: np.ndarray, frames: np.ndarray, context: int, actions, codebook: np.ndarray) -> dict:
    """Real inputs for every graph, two samples each, from the first episode's frames."""
    z = torch.from_numpy(latents)  # [T, N, D]
    window = getattr(actions, "window", 2)
    span = max(context, window - 1) + 2
    seen = torch.stack([z[span - 1 - window : span - 1], z[span - window : span]])  # [2, L, N, D]
    if isinstance(actions, Buttons):
        action = torch.from_numpy(codebook[[0, len(codebook) - 1]])  # [2, Da]: two different buttons
    else:
        with torch.no_grad():
            action = actions.module(seen)  # [2, Da]
    return {
        "encoder": (_frames(frames[:2]),),
        "actions": (seen,),
        "predictor": (torch.stack([z[span - 2 - context : span - 2], z[span - 1 - context : span - 1]]), action),
        "decoder": (z[:2],),
    }


def _write_frame_bank(out_dir: Path, episodes: list[np.ndarray], latents: list[np.ndarray]) -> FileSpec:
    frames, codes = np.concatenate(episodes), np.concatenate(latents)
    keep = np.linspace(0, len(frames) - 1, min(BANK_FRAMES, len(frames))).astype(int)
    path = out_dir / FRAME_BANK_NAME
    np.savez_compressed(path, frames=frames[keep], latents=codes[keep].astype(np.float32))
    return FileSpec(path.name, sha256_file(path))


def _write_examples(folder: Path, episodes, labels, actions, fps: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    names = actions.names if isinstance(actions, Buttons) else None
    for i, frames in enumerate(episodes):
        scale = max(1, CLIP_SIDE // max(frames.shape[1:3]))
        clip = write_mp4(
            frames.repeat(scale, axis=1).repeat(scale, axis=2), folder / f"clip_{i + 1}.mp4", fps=fps, crf=12
        )
        columns = dict(labels[i]) if labels else {}
        if names and ACTION_COLUMN in columns:
            columns[ACTION_NAME_COLUMN] = [
                names[a] if 0 <= a < len(names) else "" for a in np.asarray(columns[ACTION_COLUMN])
            ]
        if columns:
            header = [FRAME_COLUMN, *columns]
            rows = [",".join(header)] + [
                ",".join([str(t), *(csv_cell(column[t]) for column in columns.values())]) for t in range(len(frames))
            ]
            clip.with_suffix(".csv").write_text("\n".join(rows) + "\n")
