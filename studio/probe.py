"""Linear probes: how well a frame's latents encode a per-frame label.

Numbers are probed with ridge regression (score R²), categories with logistic regression (score accuracy),
both k-fold cross-validated with folds contiguous in time, so that a frame's near-identical neighbours
never sit on the other side of the split. Each score stands beside a trivial baseline fitted on the same
folds: the training mean for numbers, the training majority class for categories.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

KINDS = ("auto", "number", "category")
MAX_CATEGORY_VALUES = 10  # in "auto", whole numbers with at most this many distinct values are categories
RIDGE_ALPHAS = np.logspace(-2, 4, 13)


class ProbeError(ValueError):
    """A label column that cannot be probed; the message says why."""


@dataclass(frozen=True)
class ProbeConfig:
    folds: int = 5
    kind: str = "auto"  # "auto", "number" or "category"
    logistic_c: float = 1.0


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
    def gain(self) -> float:
        return self.score - self.baseline


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


def probe(latents: np.ndarray, values: np.ndarray, column: str, config: ProbeConfig = ProbeConfig()) -> ProbeResult:
    """Cross-validated linear probe from latents [T, N, D] (or [T, F]) to one label per frame [T]."""
    features = latents.reshape(len(latents), -1).astype(np.float64)  # [T, F]
    if len(features) != len(values):
        raise ProbeError(f"{len(values)} labels for {len(features)} frames")
    if len(features) < 2 * config.folds:
        raise ProbeError(f"a {config.folds}-fold probe needs at least {2 * config.folds} labelled frames; the clip has {len(features)}")
    if len(np.unique(values)) < 2:
        raise ProbeError(f"'{column}' has the same value on every frame: there is nothing to probe")
    kind = label_kind(values, config.kind)
    from sklearn.model_selection import KFold  # deferred, as every scikit-learn import here: ~1 s of start-up

    folds = KFold(n_splits=config.folds, shuffle=False).split(features)  # contiguous blocks of frames
    if kind == "number":
        return _probe_number(features, values.astype(np.float64), column, folds)
    return _probe_category(features, _as_categories(values), column, folds, config)


def _as_categories(values: np.ndarray) -> np.ndarray:
    """Whole numbers stay numbers (0, 1, 2 rather than '0.0'); other numbers become text."""
    if values.dtype.kind == "f":
        return values.astype(np.int64) if np.all(values == np.round(values)) else values.astype(str)
    return values


def _probe_number(features, values, column, folds) -> ProbeResult:
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    predicted, baseline = np.zeros(len(values)), np.zeros(len(values))
    for train, test in folds:
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(features[train], values[train])
        predicted[test] = model.predict(features[test])
        baseline[test] = values[train].mean()
    return ProbeResult(column, "number", "R²", float(r2_score(values, predicted)), float(r2_score(values, baseline)),
                       values, predicted)


def _probe_category(features, values, column, folds, config: ProbeConfig) -> ProbeResult:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values = np.asarray(values)
    predicted, baseline = np.empty(len(values), dtype=values.dtype), np.empty(len(values), dtype=values.dtype)
    for train, test in folds:
        classes, counts = np.unique(values[train], return_counts=True)
        baseline[test] = classes[counts.argmax()]
        if len(classes) == 1:  # this fold's training frames all share one value: it is the only answer
            predicted[test] = classes[0]
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=config.logistic_c, max_iter=300))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(features[train], values[train])
        predicted[test] = model.predict(features[test])
    return ProbeResult(column, "category", "accuracy", float((predicted == values).mean()),
                       float((baseline == values).mean()), values, predicted)


@dataclass(frozen=True)
class ColumnRanking:
    results: list[ProbeResult]  # best gain over the baseline first
    skipped: dict[str, str]  # column -> why it was not probed


def probe_all(latents: np.ndarray, columns: dict[str, np.ndarray], config: ProbeConfig = ProbeConfig()) -> ColumnRanking:
    """Probe every column (kinds chosen automatically) and rank them by gain over their baseline."""
    results, skipped = [], {}
    for name, values in columns.items():
        try:
            results.append(probe(latents, values, name, replace(config, kind="auto")))
        except ProbeError as err:
            skipped[name] = str(err)
    return ColumnRanking(sorted(results, key=lambda r: -r.gain), skipped)
