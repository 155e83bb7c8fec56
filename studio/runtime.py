"""The world model at run time: the ONNX graphs of a bundle behind one numpy API.

Every method takes and returns numpy arrays. Frames go in either as uint8 [T, H, W, 3] (what clips and
images are) or float32 [T, 3, H, W] in [0, 1] (what the graphs take); `decode` returns the graph's float
frames, and `to_uint8_frames` turns them back into pictures. Work is cut into batches of `batch_size` so a
long clip never builds one giant tensor. A bundle of any action kind (`studio.bundle.ACTION_KINDS`) gives a code
per transition: latent codes from its actions graph; buttons read off by the predictor (the button whose
prediction lands nearest the next frame's latents); continuous vectors by their nearest display cluster. A bundle
with no decoder "decodes" to the nearest real frame of its frame bank (by latent distance), and says so
(`has_decoder`). onnxruntime's memory arena grows to the largest batch it has run
and keeps it: encoding and decoding 2,048 frames left the process 470 MB larger at batch 64, 190 MB at
batch 16, in the same time.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from studio.bundle import Bundle, load_bundle, open_graph

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ActionInference:
    """What the latent action model reads off each transition t -> t+1 of a clip of T frames."""

    codes: np.ndarray  # [T-1] int64
    vectors: np.ndarray  # [T-1, Da] float32, before quantisation
    distances: np.ndarray  # [T-1, K] float32, distance of each vector to each code


class WorldModel:
    """Encoder, latent action model, predictor and decoder of one bundle, as onnxruntime sessions."""

    def __init__(self, bundle: Bundle, sessions: dict[str, ort.InferenceSession], batch_size: int):
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.sessions = sessions
        self.batch_size = batch_size
        self.codebook = np.asarray(self.manifest.action.codebook, dtype=np.float32)  # [K, Da]
        self.frame_bank = FrameBank.load(bundle) if "decoder" not in sessions else None

    @classmethod
    def load(
        cls,
        bundle: Bundle | str | Path,
        device: str = "auto",
        *,
        threads: int | None = None,
        batch_size: int = 16,
        warm_up: bool = True,
    ) -> WorldModel:
        """Open the bundle's graphs; `device` is "auto" (CUDA when it works, else CPU), "cpu" or "cuda"."""
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if not isinstance(bundle, Bundle):
            bundle = load_bundle(bundle, check_graphs=False)  # the sessions below check the graphs
        providers = _providers_for(device)
        options = session_options(threads)
        sessions = {
            role: open_graph(bundle, role, options=options, providers=providers) for role in bundle.manifest.roles
        }
        model = cls(bundle, sessions, batch_size)
        if warm_up:
            model.warm_up()
        return model

    @property
    def providers(self) -> dict[str, str]:
        """The execution provider each graph actually runs on (onnxruntime falls back to CPU silently)."""
        return {role: session.get_providers()[0] for role, session in self.sessions.items()}

    @property
    def device(self) -> str:
        """'cuda' when every graph runs on the CUDA provider, else 'cpu'."""
        return "cuda" if all(p == CUDA for p in self.providers.values()) else "cpu"

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.manifest.frame.height, self.manifest.frame.width

    @property
    def context(self) -> int:
        return self.manifest.predictor.context

    @property
    def codebook_size(self) -> int:
        return self.manifest.action.codebook_size

    @property
    def action_window(self) -> int:
        return self.manifest.action.window

    @property
    def action_kind(self) -> str:
        return self.manifest.action.kind

    @property
    def has_decoder(self) -> bool:
        """False for a model that draws no pixels: `decode` then gives the nearest real frames of its frame bank."""
        return "decoder" in self.sessions

    def code_names(self) -> list[str]:
        """What each code is called: a button's name, else 'code k' (a continuous model's 'cluster k')."""
        action = self.manifest.action
        if action.kind == "buttons":
            return list(action.names)
        word = "cluster" if action.kind == "continuous" else "code"
        return [f"{word} {k}" for k in range(self.codebook_size)]

    def warm_up(self) -> None:
        """Run every graph once so the first real call does not pay for allocation and kernel choice."""
        h, w = self.frame_size
        frames = np.zeros((2, 3, h, w), np.float32)
        latents = self.encode(frames)  # [2, N, D]
        self.infer_actions(latents)
        self.decode(latents)
        self.predict(np.repeat(latents[:1, None], self.context, axis=1), self.codebook[:1])
        if self.action_kind == "buttons":  # reading buttons off runs the predictor K times a transition
            self.infer_actions(np.repeat(latents, 2, axis=0))

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """[T, H, W, 3] uint8 or [T, 3, H, W] float -> latents [T, N, D]."""
        frames = self.as_model_frames(frames)
        return self._batched("encoder", {"frames": frames})["latents"]

    def infer_actions(self, latents: np.ndarray, before: np.ndarray | None = None) -> ActionInference:
        """The action of every transition of a clip: latents [T, N, D] -> T-1 codes, vectors and distances.

        The actions graph reads L latent frames for each transition (t-L+2 .. t+1); `before` [P, N, D] are
        the latents preceding the first (a clip cut in chunks passes the previous chunk's last ones). Where
        there are none, the first frame stands in for them, as it did in training at an episode's start.
        """
        latents = np.ascontiguousarray(latents, dtype=np.float32)
        if len(latents) < 2:
            raise ValueError("inferring actions needs at least 2 frames")
        if self.action_kind == "buttons":
            return self._buttons_read_off(latents, before)
        extra = self.action_window - 2  # frames before t
        before = latents[:0] if before is None else np.asarray(before, dtype=np.float32)
        before = before[max(0, len(before) - extra) :]  # [<= extra, N, D]
        padded = np.concatenate(
            [np.repeat(latents[:1], extra - len(before), axis=0), before, latents]
        )  # [T+extra, N, D]
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.action_window, axis=0)  # view [T-1, N, D, L]
        out = self._batched("actions", {"latents": windows.transpose(0, 3, 1, 2)})  # [T-1, L, N, D], copied per batch
        if self.action_kind == "continuous":  # the nearest display cluster stands for the code
            vectors = out["action"]  # [T-1, Da]
            distances = np.sqrt(((vectors[:, None] - self.codebook[None]) ** 2).sum(-1))  # [T-1, K]
            return ActionInference(distances.argmin(axis=1).astype(np.int64), vectors, distances.astype(np.float32))
        return ActionInference(codes=out["code"].astype(np.int64), vectors=out["action"], distances=out["distances"])

    def _buttons_read_off(self, latents: np.ndarray, before: np.ndarray | None) -> ActionInference:
        """A button model has no actions graph: each transition t -> t+1 is read off by predicting it under every
        button from frames t-C+1 .. t, and taking the button whose prediction lands nearest frame t+1 (the
        mean squared latent error is each button's distance)."""
        keep = self.context - 1  # frames before t the context reads
        before = latents[:0] if before is None or keep == 0 else np.asarray(before, dtype=np.float32)[-keep:]
        padded = np.concatenate([before, latents])  # [P+T, N, D]
        first = len(before)
        contexts = np.stack(
            [self.start_context(padded[: first + t + 1]) for t in range(len(latents) - 1)]
        )  # [T-1, C, N, D]
        k = self.codebook_size
        predicted = self.predict(np.repeat(contexts, k, axis=0), np.tile(self.codebook, (len(contexts), 1))).reshape(
            len(contexts), k, *latents.shape[1:]
        )  # [T-1, K, N, D]
        distances = ((predicted - latents[1:, None]) ** 2).mean(axis=(2, 3)).astype(np.float32)  # [T-1, K]
        codes = distances.argmin(axis=1).astype(np.int64)
        return ActionInference(codes=codes, vectors=self.codebook[codes], distances=distances)

    def predict(self, context: np.ndarray, action: np.ndarray) -> np.ndarray:
        """One step: context [B, C, N, D] latents and action [B, Da] vectors -> next latents [B, N, D]."""
        context = np.ascontiguousarray(context, dtype=np.float32)
        action = np.ascontiguousarray(action, dtype=np.float32)
        return self._batched("predictor", {"context": context, "action": action})["latents_next"]

    def next_latents(self, context: np.ndarray, action: np.ndarray) -> np.ndarray:
        """One rollout step: `predict`, then, where the bundle asks for it (`predictor.reanchor`), the
        prediction re-anchored through the decoder and the encoder. [B, C, N, D], [B, Da] -> [B, N, D]."""
        latents_next = self.predict(context, action)
        if self.manifest.predictor.reanchor:
            latents_next = self.encode(self.decode(latents_next))
        return latents_next

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Latents [T, N, D] -> frames [T, 3, H, W] float32 in [0, 1] (clipped); with no decoder, the nearest real
        frames of the bundle's frame bank."""
        latents = np.ascontiguousarray(latents, dtype=np.float32)
        if not self.has_decoder:
            if self.frame_bank is None:
                raise NoDecoderError(f"{self.manifest.name} has no decoder and no frame bank: it draws no frames")
            return self.as_model_frames(self.frame_bank.nearest(latents))
        frames = self._batched("decoder", {"latents": latents})["frames"]
        return np.clip(frames, 0.0, 1.0)

    def action_vectors(self, codes: np.ndarray) -> np.ndarray:
        """Codes [...] int -> codebook vectors [..., Da]; refuses codes outside 0..K-1."""
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"action codes must lie in 0..{self.codebook_size - 1}")
        return self.codebook[codes]

    def start_context(self, latents: np.ndarray) -> np.ndarray:
        """The last C latent frames [T, N, D] -> context [C, N, D], repeating the first when T < C."""
        latents = latents[-self.context :]
        missing = self.context - len(latents)
        if missing > 0:
            latents = np.concatenate([np.repeat(latents[:1], missing, axis=0), latents])
        return latents

    def rollout(self, start: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Roll the predictor forward autoregressively, several branches at once.

        start: context latents [B, C, N, D] (see `start_context`); actions: vectors [B, S, Da].
        Returns the predicted latents [B, S, N, D]; step s is the state after actions[:, s].
        """
        context = np.asarray(start, dtype=np.float32)  # [B, C, N, D]
        actions = np.asarray(actions, dtype=np.float32)  # [B, S, Da]
        if context.ndim != 4 or actions.ndim != 3 or len(context) != len(actions):
            raise ValueError("rollout needs start [B, C, N, D] and actions [B, S, Da] with the same B")
        predicted = []
        for step in range(actions.shape[1]):
            latents_next = self.next_latents(context, actions[:, step])  # [B, N, D]
            predicted.append(latents_next)
            context = np.concatenate([context[:, 1:], latents_next[:, None]], axis=1)
        if not predicted:
            return np.zeros((len(context), 0, *context.shape[2:]), np.float32)
        return np.stack(predicted, axis=1)

    def as_model_frames(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3] or float [T, 3, H, W] -> contiguous float32 [T, 3, H, W] in [0, 1]."""
        frames = np.asarray(frames)
        h, w = self.frame_size
        if frames.dtype == np.uint8:
            if frames.ndim != 4 or frames.shape[1:] != (h, w, 3):
                raise ValueError(f"uint8 frames must be [T, {h}, {w}, 3], got {list(frames.shape)}")
            return np.ascontiguousarray(frames.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        if frames.ndim != 4 or frames.shape[1:] != (3, h, w):
            raise ValueError(f"float frames must be [T, 3, {h}, {w}], got {list(frames.shape)}")
        return np.ascontiguousarray(frames, dtype=np.float32)

    def _batched(self, role: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self.sessions[role]
        names = [o.name for o in session.get_outputs()]
        total = len(next(iter(feeds.values())))
        if total <= self.batch_size:
            return dict(zip(names, session.run(names, {k: np.ascontiguousarray(v) for k, v in feeds.items()})))
        chunks = [
            session.run(names, {k: np.ascontiguousarray(v[start : start + self.batch_size]) for k, v in feeds.items()})
            for start in range(0, total, self.batch_size)
        ]
        return {name: np.concatenate([c[i] for c in chunks]) for i, name in enumerate(names)}


class NoDecoderError(ValueError):
    """A bundle that draws no frames was asked for some."""


@dataclass(frozen=True)
class FrameBank:
    """Real frames and their latents, standing in for a decoder: a latent is drawn as the nearest real frame."""

    frames: np.ndarray  # [M, H, W, 3] uint8
    latents: np.ndarray  # [M, N*D] float32, flattened

    @classmethod
    def load(cls, bundle: Bundle) -> FrameBank | None:
        spec = bundle.manifest.frame_bank
        if spec is None:
            return None
        with np.load(bundle.root / spec.file) as bank:
            return cls(bank["frames"], bank["latents"].reshape(len(bank["latents"]), -1).astype(np.float32))

    def nearest(self, latents: np.ndarray) -> np.ndarray:
        """Latents [T, N, D] -> the nearest bank frames [T, H, W, 3] uint8, by squared distance."""
        flat = latents.reshape(len(latents), -1)  # [T, N*D]
        distances = (flat**2).sum(1)[:, None] - 2 * flat @ self.latents.T + (self.latents**2).sum(1)[None]  # [T, M]
        return self.frames[distances.argmin(axis=1)]


def to_uint8_frames(frames: np.ndarray) -> np.ndarray:
    """Model frames [T, 3, H, W] float in [0, 1] -> pictures [T, H, W, 3] uint8."""
    return (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)


def _providers_for(device: str) -> list[str]:
    if device == "cpu":
        return [CPU]
    if device == "cuda" and CUDA not in ort.get_available_providers():
        raise ValueError("device 'cuda' asked for, but this onnxruntime has no CUDA provider")
    cuda_libraries_missing()  # once per process, before the first session on CUDA
    # "cuda" keeps CUDA first even when it cannot start, so `providers` shows the fallback honestly;
    # "auto" asks once whether CUDA really starts, so a GPU-less machine does not retry it for every graph.
    if device == "cuda" or cuda_works():
        return [CUDA, CPU]
    return [CPU]


@functools.cache
def cuda_libraries_missing() -> tuple[str, ...]:
    """Load the CUDA and cuDNN libraries onnxruntime's CUDA provider needs, from their pip packages (the `cuda`
    and `cudnn` extras of onnxruntime-gpu) or the system's, before any graph asks for them -> the names of
    those not found. onnxruntime prints a line for each; they are kept for the caller to word."""
    if CUDA not in ort.get_available_providers():
        return ()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ort.preload_dlls()
    return tuple(re.findall(r"Failed to load (\S+?):", printed.getvalue()))


@functools.cache
def cuda_works() -> bool:
    """Whether onnxruntime's CUDA provider actually starts here (an onnxruntime-gpu wheel lists it
    as available even on a machine without a GPU, then falls back to CPU)."""
    if CUDA not in ort.get_available_providers():
        return False
    cuda_libraries_missing()
    probe = base64.b64decode(_IDENTITY_ONNX)
    ort.set_default_logger_severity(4)  # the failed CUDA start logs errors that are expected here
    try:
        session = ort.InferenceSession(probe, providers=[CUDA, CPU])
        return session.get_providers()[0] == CUDA
    except Exception:  # any failure to start CUDA means: run on CPU
        return False
    finally:
        ort.set_default_logger_severity(2)


# A one-node ONNX model, serialized so that no onnx package is needed at run time:
# onnx.helper.make_model(make_graph([make_node("Identity", ["x"], ["y"])], "probe",
#   [make_tensor_value_info("x", FLOAT, [1])], [make_tensor_value_info("y", FLOAT, [1])]), opset 18)
_IDENTITY_ONNX = "CAk6OwoQCgF4EgF5IghJZGVudGl0eRIFcHJvYmVaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAS"


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """How the studio runs every graph (also what the benchmarks open other graphs with)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # The graphs are small: a few intra-op threads help big batches, and more than the cores only contend.
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    # Each session has its own thread pool; spinning threads of one graph's pool starve the next graph's (a
    # predictor + decoder step, one graph after the other): threads sleep when their work is done.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options
