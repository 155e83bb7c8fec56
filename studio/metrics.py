"""Figures that judge a world model, in numpy and scikit-learn: shared by the studio, `studio evaluate` and training."""

from __future__ import annotations

import numpy as np


def psnr(prediction: np.ndarray, target: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """Per-frame PSNR in dB of [T, ...] arrays in [0, peak] (uint8 pictures: pass peak=255)."""
    error = (prediction.astype(np.float64) - target.astype(np.float64)) ** 2
    mse = error.reshape(len(error), -1).mean(axis=1)  # [T]
    return 10.0 * np.log10(peak**2 / np.maximum(mse, 1e-12))


def code_perplexity(codes: np.ndarray, codebook_size: int) -> float:
    """exp(entropy) of the histogram of codes [T]: 1 when one code is used, K when all K are used evenly."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=codebook_size).astype(np.float64)
    if counts.sum() == 0:
        return 0.0
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def confusion_matrix(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts [A, B] of each value of `first` (rows) against each value of `second` (columns), with the
    sorted distinct values of each ([A] and [B]); values may be any ints or strings. This is scikit-learn's
    contingency matrix (its `confusion_matrix` would put the values of both on each axis), in numpy: importing
    scikit-learn made a user's first category probe wait for its figure."""
    first_values, first_index = np.unique(np.asarray(first), return_inverse=True)  # [A], [T]
    second_values, second_index = np.unique(np.asarray(second), return_inverse=True)  # [B], [T]
    counts = np.zeros((len(first_values), len(second_values)), np.int64)  # [A, B]
    np.add.at(counts, (first_index, second_index), 1)
    return counts, first_values, second_values


def normalized_mutual_information(codes: np.ndarray, labels: np.ndarray) -> float:
    """NMI (arithmetic normalisation) between two labellings [T] of the same items; 0 when either is constant
    (scikit-learn says 1 when both are: two labellings that tell nothing apart agree perfectly)."""
    from sklearn.metrics import normalized_mutual_info_score

    if len(np.unique(codes)) < 2 or len(np.unique(labels)) < 2:
        return 0.0
    return float(normalized_mutual_info_score(codes, labels))


def best_one_to_one_accuracy(codes: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the best matching of codes [T] to labels [T] (each code to at most one label, and back)."""
    from scipy.optimize import linear_sum_assignment

    matrix, _, _ = confusion_matrix(codes, labels)
    if matrix.size == 0:
        return 0.0
    rows, cols = linear_sum_assignment(-matrix)
    return float(matrix[rows, cols].sum() / matrix.sum())


def effective_rank(latents: np.ndarray) -> float:
    """exp(entropy) of the normalised singular values of the centred latents [T, N, D] (or [T, F]) (Roy &
    Vetterli 2007; RankMe): about r for latents spread evenly over r directions, 1 for a collapsed space,
    at most min(T, F)."""
    features = np.asarray(latents, np.float64).reshape(len(latents), -1)  # [T, F]
    centred = features - features.mean(axis=0)
    # the singular values are the roots of the eigenvalues of the smaller Gram matrix: [T, T] or [F, F]
    gram = centred @ centred.T if len(centred) <= centred.shape[1] else centred.T @ centred
    singular = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))  # [min(T, F)]
    if singular.sum() <= 0:
        return 1.0 if len(features) else 0.0
    p = singular / singular.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))
