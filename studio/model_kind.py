"""What kind of world model a bundle is, in words a reader needs before trusting its pictures and codes: whether
its codes are latent codes, the game's buttons read off its predictor, or display clusters of continuous actions,
and whether its pictures are decoded or the nearest real frames of its frame bank."""

from __future__ import annotations

from studio.runtime import WorldModel


def kind_notes(model: WorldModel) -> list[str]:
    """One clause per way this bundle differs from a Genie-like model with latent codes and a decoder."""
    notes = []
    names = model.code_names()
    if model.action_kind == "buttons":
        notes.append(
            f"acts on the game's own buttons ({', '.join(names)}): a code shown is the button read off its predictor "
            "(the one whose prediction lands nearest the next frame)"
        )
    if model.action_kind == "continuous":
        notes.append(
            f"learnt continuous actions: its {len(names)} codes are k-means clusters of its example transitions' "
            "vectors, fitted for display only"
        )
    if not model.has_decoder:
        notes.append(
            "draws no pixels: its pictures are the nearest real frames of its frame bank (by latent distance), not "
            "decodings, and no PSNR is measured"
        )
    return notes


def kind_markdown(model: WorldModel) -> str:
    """The notes as one line under the page's title ('' for a model with latent codes and a decoder)."""
    notes = kind_notes(model)
    return f"Note: **{model.manifest.name}** " + "; it ".join(notes) + "." if notes else ""
