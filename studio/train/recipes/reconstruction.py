"""The "reconstruction" family, as Genie: an autoencoder on pixels learns the latents; then the latent action
model and the predictor learn on them, their predictions judged in latents and as decoded pixels; then, when
`optim.decoder_steps` > 0, the decoder learns to draw the predictor's rollouts too."""

from studio.train.dynamics_stages import DecoderStage, DynamicsStage
from studio.train.encoder_stages import AutoencoderStage
from studio.train.stage import Recipe

RECIPE = Recipe(
    stages=(AutoencoderStage, DynamicsStage, DecoderStage),
    bundle_family="reconstruction",
    optional=(DecoderStage,),
)
