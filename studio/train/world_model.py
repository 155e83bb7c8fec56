"""The four parts of the world model together as torch modules, and the sprite weighting that the losses share.

(`studio.runtime.WorldModel` is the same model as the bundle's ONNX graphs, which the studio runs.)
"""

from __future__ import annotations

import torch
from torch import nn

from studio.games.sprites import SPRITE_THRESHOLD
from studio.train.autoencoder import Decoder, Encoder
from studio.train.config import ModelConfig, OptimConfig
from studio.train.latent_actions import ActionGraph, LatentActionModel
from studio.train.predictor import Predictor


class TrainableWorldModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.lam = LatentActionModel(config)
        self.predictor = Predictor(config)
        self.register_buffer("background", torch.zeros(3, config.frame_size, config.frame_size))

    def graphs(self) -> dict[str, nn.Module]:
        """The modules behind the bundle's four ONNX graphs, by role."""
        return {
            "encoder": self.encoder,
            "actions": ActionGraph(self.lam),
            "predictor": self.predictor,
            "decoder": self.decoder,
        }

    def off_background(self, frames):  # [B, 3, H, W] -> bool [B, 1, H, W]: the pixels a sprite lights
        return (frames - self.background).abs().amax(dim=1, keepdim=True) > SPRITE_THRESHOLD

    def pixel_weights(self, drawn, frames, optim: OptimConfig):  # [B, 3, H, W] twice -> [B, 1, H, W]
        """1 for every pixel, `sprite_weight` more where the true frame shows a sprite, and `stray_pixel_weight`
        more where only the drawn frame does (a sprite drawn too large, a glow, a smear)."""
        sprites = self.off_background(frames)
        weights = 1.0 + optim.sprite_weight * sprites.float()
        if optim.stray_pixel_weight > 0:
            stray = self.off_background(drawn.detach()) & ~sprites
            weights = weights + optim.stray_pixel_weight * stray.float()
        return weights

    def pixel_loss(self, drawn, frames, optim: OptimConfig):  # [B, 3, H, W] twice -> loss [], figures
        """How far frames drawn by the decoder are from the true ones: the squared error weighted by
        `pixel_weights`, and with `optim.worst_pixel_weight` each frame's worst pixel's (then both parts are in
        the figures, for the log)."""
        loss = weighted_mse(drawn, frames, self.pixel_weights(drawn, frames, optim))
        if optim.worst_pixel_weight <= 0:
            return loss, {}
        worst = worst_pixel_error(drawn, frames)
        return loss + optim.worst_pixel_weight * worst, {"weighted_mse": loss.item(), "worst_pixel_error": worst.item()}


def weighted_mse(prediction, target, weights):  # [B, 3, H, W] twice, [B, 1, H, W]
    return (weights * (prediction - target) ** 2).sum() / (weights.sum() * prediction.shape[1])


def worst_pixel_error(prediction, target):  # [B, 3, H, W] twice -> []
    """The mean over frames of each frame's worst pixel's squared error (summed over RGB). A sprite of one or two
    pixels weighs next to nothing in a mean over 4,096, and a decoder unsure of it draws a faint blur; its worst
    pixel is then the frame's, and this term pays for it (Δ-IRIS adds it to its tokenizer's loss)."""
    return ((prediction - target) ** 2).sum(dim=1).flatten(1).amax(dim=1).mean()
