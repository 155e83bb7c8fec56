"""The figure registry: every figure declared once, read back by key, absent where not measured."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from studio import figures as F
from studio.evaluation import EpisodeData, evaluate
from studio.figures import FigureSet, figure_of, markdown_table
from studio.runtime import WorldModel

README = Path(__file__).parents[1] / "README.md"
STUDIO = Path(__file__).parents[1] / "studio"


def test_every_figure_is_declared_once_with_a_name_unit_and_meaning():
    keys = [figure.key for figure in F.REGISTRY]
    assert len(keys) == len(set(keys))
    names = [figure.name for figure in F.REGISTRY]
    assert len(names) == len(set(names))
    assert all(figure.unit in (*F.UNIT_DIGITS, "%") and figure.meaning for figure in F.REGISTRY)


def test_a_key_is_spelled_in_the_registry_and_nowhere_else_in_the_studio():
    """The modules that compute, show and log figures name them by the registry's constants."""
    spelled = {figure.key.split(".")[0] for figure in F.REGISTRY}
    for path in STUDIO.rglob("*.py"):
        if path.name == "figures.py":
            continue
        text = path.read_text()
        for key in spelled:
            assert not re.search(rf'"{key}[".]', text), f"{path.relative_to(STUDIO.parent)} spells {key}"


def test_a_figure_set_reads_back_what_a_manifest_records_and_says_absent_for_the_rest():
    recorded = {"next_frame_psnr_db": {"t1": 30.0, "t7": 25.0}, "code_consistency": {"mean": None, "per_code": {}}}
    figures = FigureSet.from_manifest(recorded)
    assert figures.get(F.NEXT_FRAME_PSNR.at(1)) == 30.0
    assert figures.get(F.NEXT_FRAME_PSNR.at(7)) == 25.0  # a step the registry does not list is still a figure
    assert figure_of("next_frame_psnr_db.t7").name == "Prediction PSNR, 7 steps"
    assert figures.get(F.CODE_CONSISTENCY) is None and F.CODE_CONSISTENCY.format(None) == "–"
    assert figures.get(F.RECONSTRUCTION_PSNR) is None
    assert figures.to_manifest() == recorded


def test_the_readme_lists_every_figure_of_the_registry():
    assert markdown_table() in README.read_text()


@pytest.mark.parametrize("horizon", [2, 4])
def test_the_short_horizon_is_a_parameter(tiny_bundle, horizon):
    model = WorldModel.load(tiny_bundle, device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (24, *model.frame_size, 3), dtype=np.uint8)
    figures = evaluate(model, [EpisodeData(frames)], max_starts=8, horizon=horizon)
    assert np.isfinite(figures.get(F.NEXT_FRAME_PSNR.at(horizon)))
    assert np.isfinite(figures.get(F.DELTA_T_PSNR.at(horizon)))
    ratios = [figures.get(F.LATENT_ERROR_VS_COPY.at(t)) for t in range(1, horizon + 1)]
    assert all(r is None or r > 0 for r in ratios) and figures.detail(f"{F.MEASURED_ON}.horizon") == horizon
