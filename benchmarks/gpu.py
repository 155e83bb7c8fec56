"""`studio bench --suite gpu`: every shipped bundle's four graphs on onnxruntime's CUDA provider beside the CPU,
checked to agree, and the speed on the GPU of a play step, an analysis of 1,800 frames and one training step.

On a machine without a GPU it says why in one line and measures nothing (README, "Checking the GPU path").
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks.harness import Report, measure, row, versus
from studio.analysis import analyze_clip, reconstruct
from studio.bundle import find_bundles
from studio.play import ImaginedGame
from studio.runtime import CUDA, WorldModel, cuda_libraries_missing, cuda_works

SUITE = "gpu"
AGREEMENT_BATCH = 16  # samples each graph is fed on both providers
# The largest difference allowed between a graph's outputs on CUDA and on the CPU, as a share of the CPU output's
# largest magnitude. onnxruntime's CUDA provider multiplies in TF32 by default (10 bits of mantissa, about 1e-3
# relative per product); the graphs are 10 to 20 layers deep.
GRAPH_AGREEMENT = 1e-2
CODES_AGREEMENT = 0.99  # the share of a clip's transitions that must get the same code on both
PSNR_AGREEMENT_DB = 0.1  # the largest difference of a clip's mean reconstruction PSNR between the two
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


class GpuDisagreement(RuntimeError):
    """A graph whose outputs on CUDA and on the CPU differ beyond the bounds above; the message names it."""


def why_no_gpu() -> str | None:
    """None when onnxruntime's CUDA provider starts here, else the reason it does not, in a few words."""
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider (the studio's GPU path needs the onnxruntime-gpu package)"
    if cuda_works():
        return None
    if not Path("/dev/nvidiactl").exists() and shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU found"
    missing = cuda_libraries_missing()
    if missing:
        return (
            f"onnxruntime's CUDA provider did not start: {', '.join(missing)} not found "
            "(pip install -e '.[gpu]' installs them)"
        )
    return "onnxruntime's CUDA provider did not start"


@dataclass(frozen=True)
class Agreement:
    """How one bundle's graphs answered on CUDA against the CPU."""

    graph_errors: dict[str, float]  # role -> largest |CUDA - CPU| / largest |CPU| over its outputs
    codes_agree: float  # share of the example clip's transitions given the same code
    psnr_difference_db: float  # |CUDA - CPU| of the clip's mean reconstruction PSNR

    def failures(self) -> list[str]:
        errors = self.graph_errors.items()
        failed = [f"{role} differs by {e:.2g} of its range" for role, e in errors if e > GRAPH_AGREEMENT]
        if self.codes_agree < CODES_AGREEMENT:
            failed.append(f"only {self.codes_agree:.1%} of the clip's codes agree")
        if self.psnr_difference_db > PSNR_AGREEMENT_DB:
            failed.append(f"reconstruction PSNR differs by {self.psnr_difference_db:.3f} dB")
        return failed

    def summary(self) -> str:
        errors = ", ".join(f"{role} {e:.1e}" for role, e in self.graph_errors.items())
        return (
            f"largest difference / range: {errors}; codes agree on {self.codes_agree:.1%} of the example's "
            f"transitions; reconstruction PSNR differs by {self.psnr_difference_db:.4f} dB"
        )


def gpu(report: Report, exported: Path, bundle: Path, clip: Path, frames: int, quick: bool) -> None:
    """The whole check: agreement for every bundle of `exported`, then `bundle`'s speed on CUDA beside the CPU, on
    `clip` of `frames` frames. Raises GpuDisagreement after recording every figure."""
    failed = []
    for folder in find_bundles(exported):
        on_cuda, on_cpu = WorldModel.load(folder, device="cuda"), WorldModel.load(folder, device="cpu")
        providers = on_cuda.providers
        report.facts[f"{folder.name} on cuda: onnxruntime providers in use"] = ", ".join(
            f"{role} {provider}" for role, provider in providers.items()
        )
        if any(provider != CUDA for provider in providers.values()):
            failed.append(f"{folder.name}: a graph fell back to the CPU")
            continue
        agreement = agree(on_cuda, on_cpu)
        report.facts[f"{folder.name}: CUDA against CPU"] = agreement.summary()
        failed += [f"{folder.name}: {failure}" for failure in agreement.failures()]
    speeds(report, bundle, clip, frames, quick)
    if failed:
        raise GpuDisagreement("the GPU check failed: " + "; ".join(failed))


def agree(on_cuda: WorldModel, on_cpu: WorldModel) -> Agreement:
    """Feed each graph the same inputs on both, and analyze the bundle's first example on both."""
    from benchmarks.suites import graph_feeds  # suites imports this module

    errors = {}
    for role, feeds in graph_feeds(on_cpu, AGREEMENT_BATCH).items():
        cuda_outputs = on_cuda.sessions[role].run(None, feeds)
        cpu_outputs = on_cpu.sessions[role].run(None, feeds)
        errors[role] = max(
            float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)) for a, b in zip(cuda_outputs, cpu_outputs)
        )
    from studio.examples import example_clips

    example = example_clips(on_cpu)[0]
    cuda_analysis, cpu_analysis = analyze_clip(on_cuda, example), analyze_clip(on_cpu, example)
    codes = float((cuda_analysis.actions.codes == cpu_analysis.actions.codes).mean())
    psnr = abs(
        float(reconstruct(on_cuda, cuda_analysis).psnr.mean()) - float(reconstruct(on_cpu, cpu_analysis).psnr.mean())
    )
    return Agreement(errors, codes, psnr)


def speeds(report: Report, bundle: Path, clip: Path, frames: int, quick: bool) -> None:
    """A play step, an analysis of `clip` (`frames` long) and one training step, on CUDA, each beside the same on
    the CPU."""
    on = {device: WorldModel.load(bundle, device=device) for device in ("cuda", "cpu")}
    steps, repeats = (20, 2) if quick else (500, 5)
    rows = {}
    for device, model in on.items():
        rng = np.random.default_rng(0)
        latents = model.encode(rng.integers(0, 255, (model.context, *model.frame_size, 3), dtype=np.uint8))
        game = ImaginedGame.start(model, latents, model.context - 1)
        codes = iter(np.tile(rng.integers(0, model.codebook_size, steps), 2))
        rows[f"play {device}"] = row(
            SUITE,
            f"play step on {device} (predictor + decoder, batch 1)",
            measure(lambda: game.step(model, int(next(codes))), steps, 10),
        )
        rows[f"analyze {device}"] = row(
            SUITE, f"analyze {frames} frames on {device}", measure(lambda: analyze_clip(model, clip), repeats)
        )
    report.add(versus(rows["play cuda"], rows["play cpu"]), rows["play cpu"])
    report.add(versus(rows["analyze cuda"], rows["analyze cpu"]), rows["analyze cpu"])
    training_step(report, CONFIGS / f"{bundle.name}.json", {"cuda": 3, "cpu": 1} if quick else {"cuda": 20, "cpu": 3})


def training_step(report: Report, config_path: Path, repeats: dict[str, int]) -> None:
    """One step of the first training stage (encoder and decoder, forward, backward and AdamW, on random frames
    at the config's batch size), on CUDA beside the CPU (`repeats` of each, after 3 untimed: a CPU step takes
    seconds); a fact saying why, where torch cannot."""
    name = "one training step (encoder + decoder, the first stage)"
    try:
        import torch

        from studio.train.config import load_config
        from studio.train.world_model import TrainableWorldModel, weighted_mse
    except ImportError:
        report.facts[name] = "not measured: the training extras are not installed (pip install -e '.[train,gpu]')"
        return
    if not torch.cuda.is_available():
        report.facts[name] = f"not measured: torch {torch.__version__} has no CUDA (install a CUDA build of torch)"
        return
    if not config_path.is_file():
        report.facts[name] = f"not measured: no training config {config_path.name} beside the bundle's name"
        return
    config = load_config(config_path)
    timed = {}
    for device, times in repeats.items():
        model = TrainableWorldModel(config.model).to(device)
        optimizer = torch.optim.AdamW([*model.encoder.parameters(), *model.decoder.parameters()], lr=config.optim.lr)
        size = config.model.frame_size
        frames = torch.rand(config.optim.batch_size, 3, size, size, device=device)  # [B, 3, H, W]

        def step() -> None:
            out = model.decoder(model.encoder(frames))  # [B, 3, H, W]
            loss = weighted_mse(out, frames, model.sprite_weights(frames, config.optim.sprite_weight))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if device == "cuda":
                torch.cuda.synchronize()

        timed[device] = row(
            SUITE, f"{name} on {device}, batch {config.optim.batch_size}, {config_path.name}", measure(step, times, 3)
        )
    report.add(versus(timed["cuda"], timed["cpu"]), timed["cpu"])
