"""What kind of world model a bundle is, in words a reader needs before trusting its pictures and codes: whether
its codes are latent codes, the game's buttons read off its predictor, or display clusters of continuous actions,
and whether its pictures are decoded or the nearest real frames of its frame bank."""

from __future__ import annotations

from dataclasses import dataclass

from studio.runtime import WorldModel


@dataclass(frozen=True)
class KindWords:
    """What the views call a bundle's action codes and its pictures, by its kind."""

    code: str  # one of its K codes: "code", "button" or "cluster"
    centres: str  # its K action vectors on the Actions tab's map
    picture: str  # what a picture of a latent state is: "decoded", or the nearest real frame
    pictures_note: str  # what a row of such pictures is, in a sentence ('' for a model that decodes)
    outcomes_note: str  # what a prediction "under a code" applies, in a sentence ('' where a code is the action)


def kind_words(model: WorldModel) -> KindWords:
    code, centres = {
        "buttons": ("button", "buttons (the predictor's input for each)"),
        "continuous": ("cluster", "cluster centres (k-means, for display)"),
    }.get(model.action_kind, ("code", "codebook"))
    outcomes = (
        "Each outcome is predicted under a display cluster's centre (the mean of the cluster's vectors), not under "
        "a vector the model read off a transition; Play offers both."
        if model.action_kind == "continuous"
        else ""
    )
    if model.has_decoder:
        return KindWords(code, centres, "decoded", "", outcomes)
    return KindWords(
        code,
        centres,
        "nearest real frame",
        "This model draws no pixels: each picture is the real frame of its frame bank nearest (by latent distance) "
        "to the state it predicts, not a decoding.",
        outcomes,
    )


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
