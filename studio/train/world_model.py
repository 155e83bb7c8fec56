"""The four parts of the world model together as torch modules, and the sprite weighting that the losses share.

(`studio.runtime.WorldModel` is the same model as the bundle's ONNX graphs, which the studio runs.)
"""

from __future__ import annotations

import torch
from torch import nn

from studio.games.sprites import SPRITE_THRESHOLD
from studio.train.autoencoder import Decoder, Encoder
from studio.train.config import ModelConfig
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

    def sprite_weights(self, frames, sprite_weight: float):  # [B, 3, H, W] -> [B, 1, H, W]
        differs = (frames - self.background).abs().amax(dim=1, keepdim=True) > SPRITE_THRESHOLD
        return 1.0 + sprite_weight * differs.float()


def weighted_mse(prediction, target, weights):  # [B, 3, H, W] twice, [B, 1, H, W]
    return (weights * (prediction - target) ** 2).sum() / (weights.sum() * prediction.shape[1])
