"""What each action code does, in words, for the tabs that label codes (Play's buttons, the Actions atlas)."""

from __future__ import annotations

import numpy as np

from studio.action_codes import CodeMeanings, agreement, code_meanings, shipped_code_meanings
from studio.analysis import ClipAnalysis
from studio.labels import Labels, LabelsError
from studio.runtime import WorldModel

# the labels column naming each frame's true action, whose words the codes borrow (studio.games' ACTION_COLUMN
# holds the action's number)
ACTION_NAME_COLUMN = "action_name"


def meanings_on_clip(model: WorldModel, analysis: ClipAnalysis, labels: Labels | None) -> CodeMeanings | None:
    """What the bundle measured each code to do, else what each most often meant on the clip's labels."""
    shipped = shipped_code_meanings(model)
    if shipped is not None or labels is None or ACTION_NAME_COLUMN not in labels.columns:
        return shipped
    try:
        truth = labels.at(ACTION_NAME_COLUMN, np.asarray(analysis.clip.indices)[:-1], analysis.clip.source_frames)
    except LabelsError:
        return None
    meanings = code_meanings(agreement(analysis.actions.codes, truth, model.codebook_size))
    return CodeMeanings(
        {code: (f"mostly {action}", share) for code, (action, share) in meanings.items()}, "this clip's labels"
    )


def code_words(code: int, name: str, meanings: CodeMeanings | None) -> str:
    """ "code 2: moves the paddle right, 87%" (`name`: what the model calls the code, a button model's "RIGHT"), or
    the name alone when what it does is not known."""
    if meanings is not None and code in meanings.meanings:
        words, share = meanings.meanings[code]
        return f"{name}: {words}, {100 * share:.0f}%"
    return name
