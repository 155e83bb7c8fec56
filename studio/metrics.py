"""Figures that judge a world model, in numpy: shared by the studio, `studio evaluate` and training."""

from __future__ import annotations

import numpy as np


def psnr(prediction: np.ndarray, target: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """Per-frame PSNR in dB of [T, ...] arrays in [0, peak] (uint8 pictures: pass peak=255)."""
    error = (prediction.astype(np.float64) - target.astype(np.float64)) ** 2
    mse = error.reshape(len(error), -1).mean(axis=1)  # [T]
    return 10.0 * np.log10(peak**2 / np.maximum(mse, 1e-12))


def code_perplexity(codes: np.ndarray, codebook_size: int) -> float:
    """exp(entropy) of the code histogram: 1 when one code is used, K when all K are used evenly."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=codebook_size).astype(np.float64)
    if counts.sum() == 0:
        return 0.0
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def confusion_matrix(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts [A, B] of each value of `first` (rows) against each value of `second` (columns), with the
    sorted distinct values of each ([A] and [B]); values may be any ints or strings."""
    rows, row_index = np.unique(np.asarray(first), return_inverse=True)
    cols, col_index = np.unique(np.asarray(second), return_inverse=True)
    matrix = np.zeros((len(rows), len(cols)), np.int64)
    np.add.at(matrix, (row_index, col_index), 1)
    return matrix, rows, cols


def normalized_mutual_information(codes: np.ndarray, labels: np.ndarray) -> float:
    """NMI (arithmetic normalisation) between two labellings of the same items; 0 when either is constant."""
    matrix, _, _ = confusion_matrix(codes, labels)
    joint = matrix / max(matrix.sum(), 1)
    p_code, p_label = joint.sum(axis=1), joint.sum(axis=0)
    h_code, h_label = _entropy(p_code), _entropy(p_label)
    if h_code == 0 or h_label == 0:
        return 0.0
    nonzero = joint > 0
    mutual = (joint[nonzero] * np.log(joint[nonzero] / np.outer(p_code, p_label)[nonzero])).sum()
    return float(mutual / ((h_code + h_label) / 2))


def best_one_to_one_accuracy(codes: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the best matching of codes to labels (each code to at most one label, and back)."""
    from scipy.optimize import linear_sum_assignment

    matrix, _, _ = confusion_matrix(codes, labels)
    if matrix.size == 0:
        return 0.0
    rows, cols = linear_sum_assignment(-matrix)
    return float(matrix[rows, cols].sum() / matrix.sum())


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())
