"""The "jepa" family, as V-JEPA: the encoder learns only by predicting a moving-average target encoder's
latents of hidden and future frames, never pixels; the latent action model and the predictor learn in
latents only; the decoder learns last, on the frozen latents and the predictor's rollouts, only to look."""

from studio.train.dynamics_stages import DecoderStage, LatentDynamicsStage
from studio.train.encoder_stages import JepaStage
from studio.train.stage import Recipe

RECIPE = Recipe(stages=(JepaStage, LatentDynamicsStage, DecoderStage), bundle_family="jepa")
