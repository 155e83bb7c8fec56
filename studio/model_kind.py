"""What kind of world model a bundle is, in sentences a reader needs before trusting its pictures and codes:
whether its codes are latent codes, the game's buttons read off its predictor, or display clusters of continuous
actions, and whether its pictures are decoded or the nearest real frames of its frame bank."""

from __future__ import annotations

from studio.runtime import WorldModel


def kind_notes(model: WorldModel) -> list[str]:
    """One sentence per way this bundle differs from a Genie-like model with latent codes and a decoder."""
    notes = []
    names = model.code_names()
    if model.action_kind == "buttons":
        notes.append(
            f"**{model.manifest.name}** acts on the game's own buttons ({', '.join(names)}): wherever a code is "
            "shown, it is the button read off the model's predictor (the one whose prediction lands nearest the next "
            "frame), and Play's buttons are the game's."
        )
    if model.action_kind == "continuous":
        notes.append(
            f"**{model.manifest.name}** learnt continuous actions with no codes: the {len(names)} clusters shown as "
            "codes are k-means clusters of its example transitions' action vectors, fitted for display only."
        )
    if not model.has_decoder:
        notes.append(
            f"**{model.manifest.name}** draws no pixels: every reconstructed or predicted picture is the nearest real "
            "frame of its frame bank (by latent distance), not a decoding, and no PSNR is measured for it."
        )
    return notes


def kind_markdown(model: WorldModel) -> str:
    return "\n\n".join(f"ⓘ {note}" for note in kind_notes(model))
