"""Linear probes: how well a frame's latents encode a per-frame label.

Every column is probed on the same k folds, contiguous in time, so that a frame's near-identical neighbours
never sit on the other side of the split; and on the same work. Per fold, the training frames' latents are
standardized (their own mean and spread) and their Gram matrix decomposed once, X Xᵀ = U Λ Uᵀ. Ridge
regression with an unpenalized intercept then costs, for every column and every regularization strength α,
only products with U: fitted values U·Λ/(Λ+α)·UᵀY, held-out predictions X_test·Xᵀ·U·1/(Λ+α)·UᵀY, and the
residuals of each contiguous block of the training frames as if the block had been left out of the fit, in
closed form: (I - H_bb)⁻¹ times the block's residuals, H = 1/n + U·Λ/(Λ+α)·Uᵀ the hat matrix (exact, as
leave-one-out's residual over 1 - leverage is for a single frame).

- α is chosen on the training frames alone, by leaving out contiguous blocks of them (k - 1 blocks, at least 2):
  the held-out fold's frames come from other moments than the training ones, and so must the frames α is
  judged on. Leaving out single frames (what scikit-learn's RidgeCV does) lets a frame's near-identical
  neighbours answer for it, which rewards fitting the moment rather than the label: on 3,000 held-out Breakout
  frames it chose α = 10–30 for the ball's x on the JEPA bundle's latents and scored R² −0.42, where left-out
  blocks chose α = 300–1,000 and scored 0.28 (benchmarks/RESULTS.md, "Probes: choosing α").
- Numbers: ridge regression, α per column of least left-out-block squared error, scored by R².
- Categories: a ridge classifier, one ridge regression per class on its 0/1 indicator, the largest answer wins;
  α per column of least left-out-block squared error of its indicators, scored by accuracy.

Each score stands beside a trivial baseline fitted on the same folds (the training mean for numbers, the
training majority class for categories), and both make one figure that reads the same for either kind: the
share of the baseline's errors the probe removes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

KINDS = ("auto", "number", "category")
MAX_CATEGORY_VALUES = 10  # in "auto", whole numbers with at most this many distinct values are categories
RIDGE_ALPHAS = np.logspace(-2, 4, 13)
Progress = Callable[[float, str], None]  # (fraction done, what is being done)


class ProbeError(ValueError):
    """A label column that cannot be probed; the message says why."""


@dataclass(frozen=True)
class ProbeConfig:
    folds: int = 5
    kind: str = "auto"  # "auto", "number" or "category"


@dataclass(frozen=True)
class ProbeResult:
    column: str
    kind: str  # "number" or "category"
    metric: str  # "R²" or "accuracy"
    score: float  # cross-validated, on held-out folds
    baseline: float  # the trivial predictor's score on the same folds
    truth: np.ndarray  # [T] the label of every frame
    predicted: np.ndarray  # [T] the out-of-fold prediction of every frame

    @property
    def baseline_name(self) -> str:
        return "mean" if self.kind == "number" else "majority class"

    @property
    def errors_removed(self) -> float:
        """The share of the baseline's errors the probe removes (squared error for numbers, wrong answers for
        categories): 1 is perfect, 0 no better than the baseline, below 0 worse. Both scores are one minus an
        error over a reference, so their difference over the baseline's distance from 1 is 1 - error / baseline's."""
        return (self.score - self.baseline) / max(1.0 - self.baseline, 1e-12)


@dataclass(frozen=True)
class ColumnRanking:
    results: list[ProbeResult]  # the largest share of the baseline's errors removed first
    skipped: dict[str, str]  # column -> why it was not probed


def label_kind(values: np.ndarray, kind: str = "auto") -> str:
    """Whether a column is probed as a number or a category."""
    if kind not in KINDS:
        raise ProbeError(f"unknown probe kind '{kind}': choose one of {', '.join(KINDS)}")
    numeric = values.dtype.kind in "fiu"
    if kind == "number":
        if not numeric:
            raise ProbeError("this column holds text: probe it as a category")
        return "number"
    if kind == "category" or not numeric:
        return "category"
    whole = np.all(values == np.round(values))
    return "category" if whole and len(np.unique(values)) <= MAX_CATEGORY_VALUES else "number"


def probe(
    latents: np.ndarray,
    values: np.ndarray,
    column: str,
    config: ProbeConfig = ProbeConfig(),
    progress: Progress | None = None,
) -> ProbeResult:
    """Cross-validated linear probe from latents [T, N, D] (or [T, F]) to one label per frame [T]."""
    _check_frames(len(latents), config.folds)
    kind = _checked_kind(values, len(latents), column, config.kind)
    return _probe_columns(latents, {column: (values, kind)}, config.folds, progress)[0]


def probe_all(
    latents: np.ndarray,
    columns: dict[str, np.ndarray],
    config: ProbeConfig = ProbeConfig(),
    progress: Progress | None = None,
) -> ColumnRanking:
    """Probe every column (of `config.kind`; "auto" chooses per column) on one decomposition per fold, and rank
    them by the share of their baseline's errors they remove."""
    _check_frames(len(latents), config.folds)
    kinds, skipped = {}, {}
    for name, values in columns.items():
        try:
            kinds[name] = (values, _checked_kind(values, len(latents), name, config.kind))
        except ProbeError as err:
            skipped[name] = str(err)
    results = _probe_columns(latents, kinds, config.folds, progress) if kinds else []
    return ColumnRanking(sorted(results, key=lambda r: -r.errors_removed), skipped)


def warm_up_probes(latents: np.ndarray) -> list[ProbeResult]:
    """Probe a number and a category on latents [T, N, D] (T ≥ 5) once, so that a user's first probe does not
    pay for first calls (threadpoolctl's look at the loaded libraries, numpy's first decompositions) -> the
    two results, for drawing a first figure of each kind."""
    steps = np.arange(len(latents), dtype=np.float64)  # [T]
    halves = np.where(steps < len(latents) / 2, "first half", "second half")  # [T]
    return [probe(latents, steps, "frame", ProbeConfig(kind="number")), probe(latents, halves, "half")]


def contiguous_folds(frames: int, folds: int) -> list[np.ndarray]:
    """The held-out frames of each fold: contiguous blocks in time, the first ones a frame longer when the
    frames do not divide evenly (the blocks of scikit-learn's unshuffled KFold)."""
    return np.array_split(np.arange(frames), folds)


def _check_frames(frames: int, folds: int) -> None:
    if folds < 2:
        raise ProbeError("a probe needs at least 2 folds")
    if frames < 2 * folds:
        raise ProbeError(f"a {folds}-fold probe needs at least {2 * folds} labelled frames; the clip has {frames}")


def _checked_kind(values: np.ndarray, frames: int, column: str, kind: str) -> str:
    if len(values) != frames:
        raise ProbeError(f"{len(values)} labels for {frames} frames")
    if len(np.unique(values)) < 2:
        raise ProbeError(f"'{column}' has the same value on every frame: there is nothing to probe")
    return label_kind(values, kind)


def _probe_columns(
    latents: np.ndarray, columns: dict[str, tuple[np.ndarray, str]], folds: int, progress: Progress | None
) -> list[ProbeResult]:
    """Every column on the same folds: one decomposition of the latents per fold serves them all."""
    with _BLAS_ON_ONE_THREAD.held():
        return _probe_on_folds(latents, columns, folds, progress or (lambda fraction, stage: None))


def _probe_on_folds(
    latents: np.ndarray, columns: dict[str, tuple[np.ndarray, str]], folds: int, report: Progress
) -> list[ProbeResult]:
    features = latents.reshape(len(latents), -1).astype(np.float64)  # [T, F]
    numbers = {name: values.astype(np.float64) for name, (values, kind) in columns.items() if kind == "number"}
    categories = {name: _as_categories(values) for name, (values, kind) in columns.items() if kind == "category"}
    predicted = {name: np.zeros(len(features)) for name in numbers}
    predicted |= {name: np.empty(len(features), dtype=values.dtype) for name, values in categories.items()}
    baseline = {name: np.empty_like(predicted[name]) for name in predicted}
    held_out_blocks = contiguous_folds(len(features), folds)
    for index, test in enumerate(held_out_blocks):
        training = len(features) - len(test)
        report(index / folds, f"fold {index + 1} of {folds}: decomposing the latents of {training} frames")
        split = _Split.of(features, test, max(folds - 1, 2))
        report((index + 0.5) / folds, f"fold {index + 1} of {folds}: fitting {len(columns)} column(s)")
        split.regress(numbers, predicted, baseline)
        split.classify(categories, predicted, baseline)
    report(1.0, f"{len(columns)} column(s) probed")
    results = []
    for name, (_, kind) in columns.items():
        if kind == "number":
            truth, metric = numbers[name], "R²"
            score, base = _r2(truth, predicted[name]), _r2(truth, baseline[name])
        else:
            truth, metric = categories[name], "accuracy"
            score, base = float((predicted[name] == truth).mean()), float((baseline[name] == truth).mean())
        results.append(ProbeResult(name, kind, metric, score, base, truth, predicted[name]))
    return results


class _OneBlasThread:
    """BLAS (numpy's matrix products and eigendecompositions) on one thread while any probe runs. On 2 cores
    shared with other work, BLAS threads wait on each other: one fold's decomposition took 103 ms on every
    core against 71 ms on one thread (benchmarks/RESULTS.md's probe rows). The setting belongs to the process,
    so the first probe to start sets it and the last to end gives it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._limit: threadpool_limits | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._limit = threadpool_limits(1, user_api="blas")
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self._limit.restore_original_limits()


_BLAS_ON_ONE_THREAD = _OneBlasThread()


def _as_categories(values: np.ndarray) -> np.ndarray:
    """Whole numbers stay numbers (0, 1, 2 rather than '0.0'); other numbers become text."""
    if values.dtype.kind == "f":
        return values.astype(np.int64) if np.all(values == np.round(values)) else values.astype(str)
    return np.asarray(values)


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(1.0 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2))


@dataclass(frozen=True)
class _Split:
    """One fold: its training frames' standardized latents decomposed, and its held-out frames seen through them."""

    train: np.ndarray  # [n] frame indices
    test: np.ndarray  # [m] frame indices, contiguous
    blocks: list[np.ndarray]  # contiguous blocks of positions in `train`, each left out in turn to choose α
    vectors: np.ndarray  # [n, n] U: eigenvectors of the training frames' Gram matrix X Xᵀ
    values: np.ndarray  # [n] Λ ≥ 0: its eigenvalues
    cross: np.ndarray  # [m, n] X_test Xᵀ U: the held-out frames against the training ones, in U's basis

    @classmethod
    def of(cls, features: np.ndarray, test: np.ndarray, blocks: int) -> _Split:
        """features [T, F] of every frame; test [m] the held-out frames; the training frames cut in `blocks`."""
        train = np.setdiff1d(np.arange(len(features)), test)
        x = features[train]  # [n, F]
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0  # a constant feature stays 0 (as StandardScaler)
        x = (x - mean) / scale
        values, vectors = np.linalg.eigh(x @ x.T)  # [n], [n, n]
        cross = ((features[test] - mean) / scale) @ x.T @ vectors  # [m, n]
        positions = contiguous_folds(len(train), blocks)  # n >= 2(k - 1) >= blocks (_check_frames)
        return cls(train, test, positions, vectors, np.clip(values, 0.0, None), cross)

    def ridge(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ridge regression with an intercept, at every α of RIDGE_ALPHAS, from the training frames' latents to
        targets [n, C] -> (each training frame's residual with its block left out of the fit [A, n, C],
        predictions of the held-out frames [A, m, C])."""
        mean = targets.mean(axis=0)  # [C]
        centred = targets - mean  # [n, C]
        projected = self.vectors.T @ centred  # [n, C]: UᵀY
        n = len(targets)
        left_out, held_out = [], []
        for alpha in RIDGE_ALPHAS:
            shrink = self.values / (self.values + alpha)  # [n]
            residuals = centred - self.vectors @ (shrink[:, None] * projected)  # [n, C]
            errors = np.empty_like(residuals)
            for block in self.blocks:
                rows = self.vectors[block]  # [b, n]
                hat = 1.0 / n + (rows * shrink) @ rows.T  # [b, b]: the block's part of the hat matrix
                errors[block] = np.linalg.solve(np.eye(len(block)) - hat, residuals[block])
            left_out.append(errors)
            held_out.append(self.cross @ (projected / (self.values + alpha)[:, None]) + mean)
        return np.stack(left_out), np.stack(held_out)

    def regress(self, columns: dict[str, np.ndarray], predicted: dict, baseline: dict) -> None:
        """Every numeric column at once: each takes the α of least left-out-block squared error."""
        if not columns:
            return
        targets = np.stack([values[self.train] for values in columns.values()], axis=1)  # [n, C]
        left_out, held_out = self.ridge(targets)  # [A, n, C], [A, m, C]
        best = (left_out**2).mean(axis=1).argmin(axis=0)  # [C]
        for c, name in enumerate(columns):
            predicted[name][self.test] = held_out[best[c], :, c]
            baseline[name][self.test] = targets[:, c].mean()

    def classify(self, columns: dict[str, np.ndarray], predicted: dict, baseline: dict) -> None:
        """Every category column at once: one indicator per class of each, side by side in one ridge regression;
        each column takes the α of least left-out-block squared error over its indicators."""
        blocks, indicators, offset = {}, [], 0
        for name, values in columns.items():
            classes, codes = np.unique(values[self.train], return_inverse=True)
            baseline[name][self.test] = classes[np.bincount(codes).argmax()]
            if len(classes) == 1:  # every training frame has the same value: it is the only answer
                predicted[name][self.test] = classes[0]
                continue
            blocks[name] = (classes, slice(offset, offset + len(classes)))
            indicators.append(np.eye(len(classes))[codes])  # [n, K]
            offset += len(classes)
        if not blocks:
            return
        targets = np.concatenate(indicators, axis=1)  # [n, ΣK]
        left_out, held_out = self.ridge(targets)  # [A, n, ΣK], [A, m, ΣK]
        for name, (classes, block) in blocks.items():
            best = int((left_out[:, :, block] ** 2).mean(axis=(1, 2)).argmin())
            predicted[name][self.test] = classes[held_out[best, :, block].argmax(axis=1)]
