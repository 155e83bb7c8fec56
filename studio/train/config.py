"""Typed configuration of a training run, read from a JSON file (see `configs/`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import get_type_hints

from studio.games import find_game
from studio.train.data import FRAME_SIZE, DataConfig
from studio.train.recipes import RECIPES, find_recipe

NORM_KINDS = ("group", "token")  # ModelConfig.norm: the autoencoder's normalisation layers (`autoencoder.NORMS`)


@dataclass(frozen=True)
class ModelConfig:
    # the recipe that trains the model (`studio.train.recipes`): "reconstruction" (an autoencoder on pixels, as
    # Genie) or "jepa" (the encoder learns only by predicting an EMA target encoder's latents of masked and
    # future frames, as V-JEPA; the decoder is trained afterwards, on the frozen latents, only to look)
    family: str = "reconstruction"
    # the training data's frame size; not a key of a config file (the data is always FRAME_SIZE): only code that
    # builds an untrained model, such as the tests' tiny bundle, sets another
    frame_size: int = FRAME_SIZE[0]
    channels: tuple[int, ...] = (32, 64, 128)  # encoder widths; each stage halves the frame
    # the autoencoder's normalisation layers: "group" (GroupNorm, statistics over the whole frame, so every token
    # shifts with what the rest of the frame shows) or "token" (each position's channels on their own: a token's
    # latent depends on its receptive field only, and a sprite is coded alike wherever it is)
    norm: str = "group"
    latent_dim: int = 32  # D
    # 0: continuous latents; an odd number >= 3: every latent channel takes one of this many values in [-1, 1]
    # (finite scalar quantisation), and the predictor picks each channel's next value as a class
    latent_levels: int = 0
    action_dim: int = 8  # Da
    codebook_size: int = 8  # K
    context: int = 4  # C: latent frames the predictor reads
    action_window: int = 2  # L: latent frames the action model reads (t-L+2 .. t+1)
    predictor_width: int = 128
    predictor_blocks: int = 4
    predictor_head_init: float = 1.0  # scales the predictor head's initial last convolution
    # quantised latents: the initial bonus of each channel's current value among the predictor's classes, so
    # that its first predictions are copies of the last frame (it is learnt on)
    predictor_copy_logit: float = 4.0
    # 0: the predictor reads the C latent frames as they are. Above 0: it reads the last frame and the C-1 changes
    # between the frames, the changes scaled by this much, and (continuous latents) predicts the next change scaled
    # as much: a JEPA latent changes by a few per cent of its size, which a net reading whole frames cannot resolve
    predictor_change_gain: float = 0.0
    lam_width: int = 64
    # the action model reads the latent frames and their changes; the changes are scaled by this much, since a
    # player's move changes a few per cent of the latents and, unscaled, the static scene drowns it out
    action_change_gain: float = 1.0
    # rollouts pass each prediction through the decoder and the encoder (the bundle's `predictor.reanchor`)
    reanchor: bool = False

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.frame_size % (2 ** len(self.channels)):
            raise ValueError("frame_size must be divisible by 2 ** len(channels)")
        if self.codebook_size < 2 or self.context < 1 or self.action_window < 2:
            raise ValueError("codebook_size >= 2, context >= 1 and action_window >= 2 are needed")
        if self.predictor_change_gain < 0:
            raise ValueError("predictor_change_gain must be 0 (frames as they are) or above")
        if self.latent_levels and (self.latent_levels < 3 or self.latent_levels % 2 == 0):
            raise ValueError("latent_levels must be 0 (continuous) or an odd number >= 3")
        if self.norm not in NORM_KINDS:
            raise ValueError(f"norm must be one of {', '.join(NORM_KINDS)}, not {self.norm!r}")
        if self.family not in RECIPES:
            raise ValueError(f"model.family must be one of {', '.join(RECIPES)}, not {self.family!r}")

    @property
    def grid(self) -> int:
        return self.frame_size // 2 ** len(self.channels)

    @property
    def tokens(self) -> int:
        return self.grid**2


MAX_LABELLED_SHARE = 0.025  # weak supervision stays weak: at most 2.5% of transitions labelled
LABEL_TARGETS = ("action", "movement", "motion")


@dataclass(frozen=True)
class OptimConfig:
    # steps of each stage (`studio.train.stage`: a stage named X runs `X_steps`); the recipe says which it runs
    autoencoder_steps: int = 3000  # "reconstruction": the autoencoder
    jepa_steps: int = 3000  # "jepa": the encoder by latent prediction
    dynamics_steps: int = 4000
    batch_size: int = 64
    # learning rate: AdamW, a linear warm-up over the first `warmup_share` of each stage's steps, then a half
    # cosine from `lr` down to `lr_floor * lr` at the stage's end
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_share: float = 0.05
    lr_floor: float = 0.1
    # losses
    sprite_weight: float = 20.0  # extra loss weight on pixels that differ from the median background
    # every loss on decoded frames (the autoencoder's, the decoder's, the dynamics' pixel loss) adds each frame's
    # worst pixel's squared error, this much of it (`world_model.worst_pixel_error`): a one-pixel sprite is drawn
    # sharp rather than left a faint blur
    worst_pixel_weight: float = 0.0
    # the same losses weigh up, by this much, the pixels a drawn frame shows off the background where the true
    # frame shows none: with sprite weight alone a glow around a sprite costs little, so an unsure decoder draws
    # a one-pixel ball as a blob of five
    stray_pixel_weight: float = 0.0
    pixel_loss_weight: float = 100.0  # dynamics: the decoded prediction's pixel loss, beside the latent loss (1)
    commitment: float = 0.25
    context_dropout: float = 0.0  # share of dynamics samples whose context is frame t alone
    context_noise: float = 0.0  # Gaussian noise on the dynamics' true context, up to this many latent stds
    # the latent loss in units of copying's (the mean squared change between a frame's latents and the next's)
    # rather than of the latents' variance: where latents change by a few per cent of their size, the latter
    # leaves the loss too small beside the codes' losses for the action model to learn from it
    latent_loss_over_change: bool = False
    # the latent loss weighs each token by 1 + this × how far it truly moves (÷ the batch's mean move), normalised
    # to mean 1 (`dynamics_stages.changed_token_weights`): the few tokens a paddle or a ball moves through count
    changed_token_weight: float = 0.0
    # tolerance (the encoder's stage): the encoder reads perturbed views of frames (`data.view_window`) as clean ones
    # share of each autoencoder batch that is a perturbed view of a frame also in it clean (for "jepa": the share of
    # masked frames the encoder reads as perturbed views, their targets the clean frame's latents)
    view_share: float = 0.0
    view_latent_weight: float = 0.1  # pulls a view's latent onto its clean frame's (variance-normalised MSE)
    # stability (dynamics): the predictor learns on its own rollouts
    unroll: int = 1  # steps predicted on the predictor's own predictions; the loss sums over every step
    unroll_ramp: int = 0  # dynamics steps over which the unrolled length grows from 1 to `unroll`
    # decoder (off at 0 steps in "reconstruction"): the decoder learns to draw the true frames from rollouts too
    decoder_steps: int = 0
    decoder_unroll: int = 8  # rollouts of 1 .. this many steps
    decoder_real_share: float = 0.5  # share of each batch drawn from the encoder's latents instead
    # weak supervision (off at 0): the true action of a fixed share of transitions picks their code
    labelled_share: float = 0.0  # at most 0.025
    labelled_per_batch: int = 8  # labelled transitions drawn into every dynamics batch
    label_temperature: float = 0.1  # of the softmax over negative code distances the labels are matched by
    # what picks a labelled transition's code: the pressed "action"; the "movement" class it asks for (`studio.games`),
    # for a game with more actions than codes (CoinRun's 15); or the movement class of the player's "motion" as the
    # frames show it (`studio.games.observed_movement_class`), which is what a code can show where the player's
    # momentum carries it on whatever is pressed (CoinRun: `python -m benchmarks.coinrun_buttons`)
    label_target: str = "action"
    # the codebook
    vq_warmup: int = 0  # dynamics steps with the action vector passed on unquantised; then k-means codebook
    kmeans_iterations: int = 20  # of the k-means that starts the codebook after the warm-up
    recent_batches: int = 32  # batches of action vectors kept for the k-means and for dead-code resets
    usage_decay: float = 0.99  # of the running share of each code's use
    dead_code_every: int = 200
    dead_code_share: float = 0.02  # a code used less than this share of the time is dead: moved onto a recent action
    dead_code_noise: float = 0.05  # the spread of a reset code around the action vector it is moved onto
    # bookkeeping
    log_every: int = 50  # steps between rows of log.csv
    eval_every: int = 500  # dynamics and decoder steps between exports judged on held-out episodes
    eval_episodes: int = 4  # held-out episodes each of those judges
    eval_starts: int = 400  # rollout start frames each of those judges
    checkpoint_every: int = 500
    background_frames: int = 2000  # training frames the median background is taken over
    encode_batch: int = 256  # frames per batch when the dynamics and decoder encode the whole training set once
    threads: int = 2

    def __post_init__(self):
        steps = ("autoencoder_steps", "jepa_steps", "dynamics_steps", "decoder_steps")
        if self.batch_size < 2 or any(getattr(self, name) < 0 for name in steps):
            raise ValueError(f"batch_size >= 2 is needed, and {', '.join(steps)} of 0 or more")
        if not 0.0 <= self.warmup_share <= 1.0 or not 0.0 <= self.lr_floor <= 1.0:
            raise ValueError("warmup_share and lr_floor must lie in [0, 1]")
        if not 0.0 <= self.view_share <= 0.5 or not 0.0 <= self.labelled_share <= MAX_LABELLED_SHARE:
            raise ValueError(f"view_share must lie in [0, 0.5] and labelled_share in [0, {MAX_LABELLED_SHARE}]")
        if self.label_target not in LABEL_TARGETS:
            raise ValueError(f"label_target must be one of {', '.join(LABEL_TARGETS)}")
        periods = (
            "log_every",
            "eval_every",
            "checkpoint_every",
            "dead_code_every",
            "recent_batches",
            "encode_batch",
            "unroll",
            "labelled_per_batch",
            "decoder_unroll",
        )
        if any(getattr(self, name) < 1 for name in periods):
            raise ValueError(f"{', '.join(periods)} must each be at least 1")


@dataclass(frozen=True)
class JepaConfig:
    """The "jepa" family's first stage (read only then): what the encoder predicts and how collapse is kept off."""

    mask_share: float = 0.5  # tokens of a frame hidden from the encoder; their target latents are predicted
    mask_block: int = 2  # hidden tokens come in square blocks of this many tokens a side (V-JEPA's tubes)
    future: int = 2  # frames t+1 .. t+future whose target latents are predicted from frames t-1 and t
    future_weight: float = 1.0  # the future-frame loss beside the masked-token loss (1)
    predictor_width: int = 64
    predictor_blocks: int = 2
    # the target encoder is an exponential moving average of the encoder; its momentum grows linearly from
    # `ema_start` to `ema_end` over that stage, so the target moves less and less
    ema_start: float = 0.99
    ema_end: float = 0.999
    # VICReg-style guard (0: off, only the EMA and predictor asymmetry): every channel's standard deviation
    # over the batch's tokens is pushed up to `std_floor`, and the channels' covariances towards zero
    variance_weight: float = 1.0
    covariance_weight: float = 0.04
    std_floor: float = 0.5
    # tokens whose patch of pixels changed (`jepa.changed_tokens`): their future loss weighs 1 + this (0: all
    # alike), and the encoder's latents there must change by at least `change_floor` from frame t-1 to t (0: off)
    changed_token_weight: float = 0.0
    change_floor: float = 0.0

    def __post_init__(self):
        if self.changed_token_weight < 0.0 or self.change_floor < 0.0:
            raise ValueError("jepa.changed_token_weight and jepa.change_floor must be at least 0")
        if not 0.0 < self.mask_share < 1.0 or self.mask_block < 1 or self.future < 1:
            raise ValueError("jepa.mask_share must lie in (0, 1), jepa.mask_block and jepa.future be at least 1")
        if not 0.0 <= self.ema_start <= self.ema_end <= 1.0:
            raise ValueError("jepa.ema_start <= jepa.ema_end, both in [0, 1], are needed")
        if self.predictor_blocks < 1 or self.predictor_width < 8 or self.predictor_width % 8:
            raise ValueError("jepa.predictor_blocks >= 1 and jepa.predictor_width a multiple of 8 are needed")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and says what to fix."""


@dataclass(frozen=True)
class TrainConfig:
    name: str = "breakout"
    description: str = ""
    data_dir: str = "data/breakout"
    run_dir: str = "runs/breakout"
    seed: int = 0
    # a bundle folder whose four graphs the model starts from ("" for none): its stages with steps train on from
    # the bundle's trained model, and any may be left out with 0 steps (`studio.train.warm_start`)
    warm_start: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    jepa: JepaConfig = field(default_factory=JepaConfig)

    def __post_init__(self):
        o = self.optim
        find_recipe(self.model.family).check(self)
        if o.labelled_share <= 0 or self.data.videos:
            return
        game = find_game(self.data.game)
        if game is None:
            if o.label_target != "action":
                raise ValueError(
                    f"optim.label_target '{o.label_target}' needs a game the studio knows, not {self.data.game}"
                )
            return
        classes = game.ACTION_NAMES if o.label_target == "action" else game.MOVEMENT_CLASSES
        if len(classes) > self.model.codebook_size:
            raise ValueError(
                f"weak supervision by {o.label_target} needs a code for each of {self.data.game}'s {len(classes)} "
                f"{o.label_target} labels; model.codebook_size is {self.model.codebook_size} (or set "
                "optim.label_target to 'movement')"
            )

    def to_json(self) -> dict:
        raw = asdict(self)
        if self.model.frame_size == FRAME_SIZE[0]:  # the data's, not a setting; another is a model built in code
            del raw["model"]["frame_size"]
        return raw

    @classmethod
    def from_json(cls, raw: dict) -> TrainConfig:
        """The config a JSON object describes; unknown keys and values of the wrong type are refused by name."""
        raw = _with_jepa_steps(dict(_checked(cls, raw, "")))
        if isinstance(raw.get("model"), dict) and "frame_size" in raw["model"]:
            raise ConfigError(
                f"'model.frame_size' is not a setting: training frames are always {FRAME_SIZE[0]}×{FRAME_SIZE[1]}; "
                "remove the key"
            )
        sections = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "jepa": JepaConfig}
        for name, section in sections.items():
            raw[name] = section(**_checked(section, raw.get(name, {}), f"{name}."))
        return cls(**raw)


def from_record(raw: dict) -> TrainConfig:
    """The config a checkpoint recorded, with its frame size where it recorded one: every checkpoint once did,
    and a model built in code at another size does (see `TrainConfig.to_json`)."""
    model = dict(raw.get("model", {}))
    size = model.pop("frame_size", FRAME_SIZE[0])
    config = TrainConfig.from_json({**raw, "model": model})
    return replace(config, model=replace(config.model, frame_size=size))


def _with_jepa_steps(raw: dict) -> dict:
    """A "jepa" config written when its first stage ran `optim.autoencoder_steps`, with them as `jepa_steps`."""
    model, optim = raw.get("model"), raw.get("optim")
    if not (isinstance(model, dict) and isinstance(optim, dict) and model.get("family") == "jepa"):
        return raw
    if "autoencoder_steps" not in optim or "jepa_steps" in optim:
        return raw
    optim = {("jepa_steps" if key == "autoencoder_steps" else key): value for key, value in optim.items()}
    return {**raw, "optim": optim}


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        return TrainConfig.from_json(json.loads(path.read_text()))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def _checked(section: type, raw: object, prefix: str) -> dict:
    """`raw` when it is an object whose keys are `section`'s fields with values of their types."""
    if not isinstance(raw, dict):
        raise ConfigError(f"'{prefix.rstrip('.') or 'the config'}' must be an object of keys and values")
    names = [f.name for f in fields(section)]
    unknown = [key for key in raw if key not in names]
    if unknown:
        raise ConfigError(
            f"unknown key '{prefix}{unknown[0]}'; the valid keys{' of ' + prefix.rstrip('.') if prefix else ''} "
            f"are {', '.join(names)}"
        )
    hints = get_type_hints(section)
    for key, value in raw.items():
        expected = {int: (int,), float: (int, float), str: (str,)}.get(hints[key])
        if expected and (isinstance(value, bool) or not isinstance(value, expected)):
            raise ConfigError(f"'{prefix}{key}' must be a {hints[key].__name__}, not {json.dumps(value)}")
    return raw
