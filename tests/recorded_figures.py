"""Recorded figures measured again: a bundle's figures as its manifest records them beside the same figures
measured now, compared figure by figure with a tolerance per kind of figure."""

from __future__ import annotations

import pytest

from studio import figures as F
from studio.figures import Figure, FigureSet

# How far a figure may move when measured again on another CPU (BLAS kernels and thread counts sum in other
# orders): PSNRs in dB, shares and NMIs as fractions, ranks and perplexities relative.
TOLERANCE = {"dB": 0.05, "%": 1e-3, "0–1": 1e-3, "codes": 1e-3, "×": 0.01, "R²": 0.01}
RELATIVE = {"dims": 1e-3}


def assert_recorded_figures_hold(measured: FigureSet, recorded: FigureSet, figures: list[Figure]) -> None:
    """Each of `figures` that the manifest records holds when measured again; one absent stays absent."""
    for figure in figures:
        kept, now = recorded.get(figure), measured.get(figure)
        if kept is None:
            assert now is None, f"{figure.key}: recorded as absent, measured {now}"
            continue
        if figure.unit in RELATIVE:
            assert now == pytest.approx(kept, rel=RELATIVE[figure.unit]), figure.key
        else:
            assert now == pytest.approx(kept, abs=TOLERANCE[figure.unit]), figure.key


PREDICTION = [s.at(t) for s in (F.NEXT_FRAME_PSNR, F.COPY_BASELINE_PSNR) for t in F.PREDICTION_STEPS]
RECORDED = [
    F.RECONSTRUCTION_PSNR,
    F.RECONSTRUCTION_SPRITE_PSNR,
    *PREDICTION,
    F.DELTA_T_PSNR.at(4),
    F.CODE_ACTION_NMI,
    F.CODEBOOK_PERPLEXITY,
    F.FRAME_CHECK_ROLLOUTS,
    F.FAMILIAR_ROLLOUTS,
]
