"""The action vectors a model of continuous actions read off a clip's transitions, offered in Play beside its display
clusters' centres: a centre is an average no transition of the clip need have had, while a vector read off the clip
is an action the game really took."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.runtime import ActionInference, WorldModel


@dataclass(frozen=True)
class ClipActions:
    """A clip's transitions' action vectors, and for each display cluster the clip uses, its representative: the
    transition of that cluster whose vector lies nearest the cluster's centre."""

    clip: str  # the clip's name
    vectors: np.ndarray  # [T-1, Da] float32: the vector the actions graph read off transition t -> t+1
    representatives: tuple[tuple[int, int], ...]  # (cluster k, transition t), by cluster, for the clusters used
    # Play numbers its presses: the model's codes 0..K-1, then transition t of the clip as K + t
    first_press: int

    @property
    def transitions(self) -> int:
        return len(self.vectors)

    def press(self, t: int) -> int:
        """The press that applies transition t's vector."""
        self._check(t)
        return self.first_press + t

    def vector(self, press: int) -> np.ndarray:
        """The vector [Da] a press of the clip's applies."""
        t = press - self.first_press
        self._check(t)
        return self.vectors[t]

    def press_name(self, press: int) -> str:
        """How the status lists a press of the clip's: its transition, '12→13'."""
        t = press - self.first_press
        return f"{t}→{t + 1}"

    def _check(self, t: int) -> None:
        """Refuse a transition the clip does not have."""
        if not 0 <= t < self.transitions:
            raise ValueError(f"{self.clip}'s transitions leave frames 0 to {self.transitions - 1}")


def clip_actions(model: WorldModel, actions: ActionInference, clip: str) -> ClipActions | None:
    """What Play offers from a clip analyzed by `model`: None for a model whose actions are codes or buttons (its
    codes are all there is to press)."""
    if model.action_kind != "continuous":
        return None
    vectors = np.asarray(actions.vectors, dtype=np.float32)  # [T-1, Da]
    representatives = []
    for cluster in np.unique(actions.codes):
        members = np.flatnonzero(actions.codes == cluster)  # transitions read as this cluster
        nearest = members[np.argmin(actions.distances[members, cluster])]
        representatives.append((int(cluster), int(nearest)))
    return ClipActions(clip, vectors, tuple(representatives), first_press=model.codebook_size)
