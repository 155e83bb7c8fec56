"""The Model tab's card: every figure the shipped bundle was judged by, by name, unit and meaning."""

from __future__ import annotations

from pathlib import Path

from studio import figures as F
from studio.figures import FigureSet
from studio.runtime import WorldModel
from studio.ui.model_tab import bundle_card

BUNDLE = Path(__file__).parents[1] / "exported" / "breakout"


def test_every_figure_of_the_shipped_bundle_has_a_name_and_the_clips_own_stand_beside():
    model = WorldModel.load(BUNDLE, device="cpu")
    heldout, examples = (FigureSet.from_manifest(model.manifest.metrics[key]) for key in ("heldout", "examples"))
    card = bundle_card(model)
    assert "**Family:** `reconstruction`: latents learnt by reconstructing pixels" in card
    figures = card.split("### Measured figures")[1].split("###")[0]
    assert "| `" not in figures  # no figure is shown by its raw key: each has a name
    row = f"| **Reconstruction PSNR** | dB | {heldout.get(F.RECONSTRUCTION_PSNR):.1f} | "
    assert row + f"{examples.get(F.RECONSTRUCTION_PSNR):.1f} | how closely" in card
    assert f"| **Code consistency** | % | {100 * heldout.get(F.CODE_CONSISTENCY):.1f} |" in card
    clip = FigureSet()
    clip.set(F.RECONSTRUCTION_PSNR, 31.25)
    clip.set(F.CODES_USED, 5)
    with_clip = bundle_card(model, clip)
    assert "| figure | unit | held-out episodes | example clips | this clip | what it says |" in with_clip
    assert row + f"{examples.get(F.RECONSTRUCTION_PSNR):.1f} | 31.2 | how closely" in with_clip


def test_a_figure_no_code_supports_is_shown_absent_not_as_a_perfect_score():
    """A bundle none of whose codes moves the paddle (as the first JEPA bundle's) has no code consistency, not 100%."""
    model = WorldModel.load(BUNDLE, device="cpu")
    still = {"mean": None, "codes_in_use": 4, "moving_codes": 0, "best_left": None, "best_right": None}
    for source in ("heldout", "examples"):
        model.manifest.metrics[source]["code_consistency"] = dict(still, steps_held=2)
    card = bundle_card(model)
    for figure in (F.CODE_CONSISTENCY, F.CONSISTENCY_LEFT, F.CONSISTENCY_RIGHT):
        assert f"| **{figure.name}** | % | – | – |" in card, figure.name
    assert "moving_codes" not in card  # a detail of the measurement, not a figure


def test_a_figure_the_card_has_no_name_for_still_shows_by_its_key():
    model = WorldModel.load(BUNDLE, device="cpu")
    model.manifest.metrics["heldout"]["code_flip_rate"] = 0.125  # a key no figure of the registry declares
    assert "| `code_flip_rate` | | 0.125 | – | |" in bundle_card(model)
