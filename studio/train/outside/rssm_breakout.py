"""A recurrent state-space model from PyPI (`rssmlite`, DreamerV3-style: a GRU's deterministic state and a
categorical stochastic state, KL-balanced posterior and prior), trained on Breakout frames with the package's own
world-model step and wrapped into the studio's graph shapes.

rssmlite targets state vectors, so its encoder and decoder are MLPs; a frame goes in as its 64·64·3 pixels,
flattened. An RSSM carries a state through time, where the studio's graphs want latents of one frame and a
predictor over a context of C latent frames. As the studio sees it:
- latents of a frame: the package's embedding of the frame, [N = 1, D = embed_dim] (what the posterior reads);
- encoder: the package's encoder;
- predictor: the RSSM filters the C context embeddings from a zero state (posterior at each, the dynamics between
  them), takes one step of its dynamics with the button, draws the prior's most likely stochastic state, decodes
  that state to a frame and embeds the frame again: the next frame's latent, of the same kind as the encoder's;
- decoder: the posterior of the embedding from a zero deterministic state (what the RSSM knows of a frame seen
  first), decoded.
What this costs: the recurrent state is rebuilt from C frames at every step instead of carried along; the buttons
pressed within the context are unknown to the predictor (it receives only the last), so the dynamics between
context frames get none (a zero action vector; training drops each button with probability `button_dropout`
so that the model has seen such steps); and a predicted latent passes through pixels (decode, then embed).
Sampling is replaced by the most likely class (the graphs are deterministic).

Run: `python -m studio.train.outside.rssm_breakout --data data/breakout --out exported/NAME`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rssmlite import RSSM, RSSMAgent
from torch import nn

from studio.games import breakout
from studio.train.outside.breakout_windows import ACTION_NAMES, SOURCE, example_labels, read_split

FRAME_SHAPE = (64, 64, 3)
OBS_DIM = int(np.prod(FRAME_SHAPE))  # a frame flattened, height × width × channel


@dataclass(frozen=True)
class RSSMConfig:
    deter_dim: int = 200
    embed_dim: int = 200
    num_categoricals: int = 16
    num_classes: int = 16
    hidden_dim: int = 200
    context: int = 4  # frames the predictor filters
    steps: int = 300
    batch_size: int = 16
    seq_len: int = 16
    button_dropout: float = 0.3
    train_episodes: int = 30
    seed: int = 0

    def __post_init__(self):
        if self.context < 1:
            raise ValueError("context must be 1 frame or more")
        if not 0.0 <= self.button_dropout < 1.0:
            raise ValueError("button_dropout must lie in [0, 1)")

    def rssm_kwargs(self) -> dict:
        return dict(
            deter_dim=self.deter_dim,
            embed_dim=self.embed_dim,
            num_categoricals=self.num_categoricals,
            num_classes=self.num_classes,
            hidden_dim=self.hidden_dim,
        )


def build(config: RSSMConfig) -> RSSMAgent:
    """The package's agent (its world model, optimizer and replay buffer; its actor and critic stay untrained)."""
    return RSSMAgent(obs_dim=OBS_DIM, action_dim=len(ACTION_NAMES), discrete=True, rssm_kwargs=config.rssm_kwargs())


def add_episodes(agent: RSSMAgent, episodes) -> int:
    """Each episode into the agent's replay buffer: flattened frames in [0, 1], one-hot buttons (none for the
    placeholder), the score gained on arriving at each frame as reward, done at the last frame. -> frames added."""
    for episode in episodes:
        obs = episode.frames.reshape(len(episode.frames), OBS_DIM).astype(np.float32) / 255.0  # [T, OBS_DIM]
        buttons = np.zeros((len(episode.actions), len(ACTION_NAMES)), np.float32)  # [T, A]
        pressed = episode.actions >= 0
        buttons[np.flatnonzero(pressed), episode.actions[pressed]] = 1.0
        score = breakout.frame_labels(episode.frames, episode.actions, episode.ram)["score"].astype(np.float32)
        reward = np.concatenate([[0.0], np.diff(score)]).astype(np.float32)  # [T]
        done = np.zeros(len(obs), np.float32)
        done[-1] = 1.0
        agent.buffer.add_episode(obs, buttons, reward, done)
    return sum(len(e.frames) for e in episodes)


def train(agent: RSSMAgent, config: RSSMConfig, log=print) -> list[float]:
    """The package's world-model step (reconstruction, reward, continue and balanced KL; Adam, clipped gradients)
    on sequences from its replay buffer, each button dropped with probability `button_dropout`. -> the total
    loss at every step."""
    np.random.seed(config.seed)  # the replay buffer draws with numpy's global generator
    rng = np.random.default_rng(config.seed)
    losses, started = [], time.monotonic()
    for step in range(config.steps):
        batch = agent.buffer.sample(config.batch_size, config.seq_len)  # obs [B, L, OBS_DIM], action [B, L, A], ...
        dropped = torch.from_numpy(rng.random(batch["action"].shape[:2]) < config.button_dropout)  # [B, L]
        batch["action"][dropped] = 0.0
        figures = agent._world_model_step(batch)  # the package's training step for its world model
        losses.append(figures["wm/total"])
        if step % 50 == 0 or step == config.steps - 1:
            log(
                f"step {step}: loss {figures['wm/total']:.3f} (reconstruction {figures['wm/recon']:.4f}, "
                f"KL {figures['wm/kl']:.3f}), {time.monotonic() - started:.0f} s"
            )
    agent.rssm.eval()
    return losses


def symexp(x: torch.Tensor) -> torch.Tensor:
    """rssmlite.utils.symexp written with exp (the ONNX exporter has no expm1 at opset 18): sign(x)·(e^|x| - 1)."""
    return torch.sign(x) * (torch.exp(torch.abs(x)) - 1.0)


def most_likely(logits: torch.Tensor) -> torch.Tensor:
    """logits [B, G, K] -> one-hot of each group's most likely class, flattened [B, G·K] (the sample's mode)."""
    return (logits == logits.amax(-1, keepdim=True)).float().flatten(1)


def frames_as_obs(frames: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] -> [B, H·W·3]: the order the frames were flattened in for training."""
    return frames.permute(0, 2, 3, 1).flatten(1)


def obs_as_frames(obs: torch.Tensor) -> torch.Tensor:
    """[B, H·W·3] -> [B, 3, H, W] in [0, 1]."""
    return obs.unflatten(1, FRAME_SHAPE).permute(0, 3, 1, 2).clamp(0.0, 1.0)


class FrameEmbedding(nn.Module):
    """frames [B, 3, H, W] in [0, 1] -> latents [B, 1, E]: the package's encoder on the flattened frame."""

    def __init__(self, rssm: RSSM):
        super().__init__()
        self.encoder = rssm.encoder

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(frames_as_obs(frames)).unsqueeze(1)  # [B, 1, E]


class FilterAndImagine(nn.Module):
    """(context latents [B, C, 1, E], button one-hot [B, A]) -> the next frame's latent [B, 1, E]: the context
    filtered from a zero state, one step of the dynamics with the button, the prior's mode decoded and embedded."""

    def __init__(self, rssm: RSSM):
        super().__init__()
        self.rssm = rssm

    def forward(self, context: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        embeds = context[:, :, 0]  # [B, C, E]
        deter = embeds.new_zeros(embeds.shape[0], self.rssm.deter_dim)  # [B, H]
        no_button = torch.zeros_like(action)  # [B, A]: the buttons within the context are not known
        stoch = None
        for t in range(embeds.shape[1]):
            if stoch is not None:
                deter = self.rssm.dynamics(deter, stoch, no_button)
            stoch = most_likely(self.rssm.posterior_net(deter, embeds[:, t]))  # [B, G·K]
        deter = self.rssm.dynamics(deter, stoch, action)
        stoch = most_likely(self.rssm.dynamics.prior_logits(deter))
        obs = symexp(self.rssm.decoder(torch.cat([deter, stoch], dim=-1))).clamp(0.0, 1.0)  # [B, OBS_DIM]
        return self.rssm.encoder(obs).unsqueeze(1)  # [B, 1, E]


class FirstSightDecoder(nn.Module):
    """latents [B, 1, E] -> frames [B, 3, H, W]: the posterior of the embedding from a zero deterministic state
    (the RSSM's view of a frame it sees first), its mode decoded."""

    def __init__(self, rssm: RSSM):
        super().__init__()
        self.rssm = rssm

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        embed = latents[:, 0]  # [B, E]
        deter = embed.new_zeros(embed.shape[0], self.rssm.deter_dim)  # [B, H]
        stoch = most_likely(self.rssm.posterior_net(deter, embed))  # [B, G·K]
        return obs_as_frames(symexp(self.rssm.decoder(torch.cat([deter, stoch], dim=-1))))


def export(agent: RSSMAgent, config: RSSMConfig, heldout, out_dir: Path, name: str, losses) -> Path:
    """The trained model as a studio bundle (format 3, action kind buttons), with held-out examples."""
    from studio.train.export_any import Buttons, export_world_model

    rssm = agent.rssm.eval()
    return export_world_model(
        out_dir,
        name=name,
        episodes=[e.frames for e in heldout],
        encoder=FrameEmbedding(rssm),
        predictor=FilterAndImagine(rssm),
        context=config.context,
        actions=Buttons(names=ACTION_NAMES, encoding="one_hot"),
        decoder=FirstSightDecoder(rssm),
        labels=[example_labels(e) for e in heldout],
        description=(
            "A DreamerV3-style recurrent state-space model (rssmlite 0.1.0, MLP encoder and decoder on the "
            "flattened frame), trained briefly on Breakout with its own world-model step, conditioned on the "
            "game's buttons; latents are its frame embeddings, and the predictor filters the context and "
            "imagines one step."
        ),
        license="MIT",
        trained_on={
            "source": SOURCE,
            "package": "rssmlite==0.1.0",
            "config": asdict(config),
            "final_loss": float(np.mean(losses[-20:])),
        },
        fps=15.0,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/breakout"))
    parser.add_argument("--out", type=Path, default=Path("exported/breakout-rssm"))
    parser.add_argument("--steps", type=int, default=RSSMConfig.steps)
    parser.add_argument("--examples", type=int, default=3, help="held-out episodes shipped as example clips")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    config = RSSMConfig(steps=args.steps)
    agent = build(config)
    add_episodes(agent, read_split(args.data, "train", config.train_episodes))
    losses = train(agent, config)
    print(export(agent, config, read_split(args.data, "heldout", args.examples), args.out, args.out.name, losses))


if __name__ == "__main__":
    main()
