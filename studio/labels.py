"""Per-frame labels from a CSV: the ground truth that codes are compared with and probes are fitted to.

Format: a header row; a `frame` column with the source frame index (0-based, as in the clip); any number
of other columns, numeric (e.g. `score`, `ram_72`) or categorical (e.g. `action_name`). The example clips
shipped with a bundle come with such a file (`frame, action, action_name, ram_0 … ram_127`). Nothing in a
cell is ever evaluated: cells are parsed as numbers or kept as text.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_LABELS_BYTES = 20 * 1024 * 1024
FRAME_COLUMN = "frame"


class LabelsError(Exception):
    """A labels file that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Labels:
    frames: np.ndarray  # [L] int, source frame index of each row
    columns: dict[str, np.ndarray]  # name -> [L] float64 (numeric) or str (categorical)

    def is_numeric(self, name: str) -> bool:
        return self.columns[name].dtype.kind == "f"

    def at(self, name: str, source_frames: np.ndarray, clip_frames: int) -> np.ndarray:
        """The column's values at the given source frame indices of a clip of `clip_frames` frames; refuses
        frames the file does not cover, and a file that runs past the clip's end (made for a longer clip)."""
        last = int(self.frames.max())
        if last >= clip_frames:
            raise LabelsError(
                f"the labels run to frame {last}, past the clip's last frame, {clip_frames - 1} (frames count from 0): "
                "are they for this clip?"
            )
        lookup = {int(f): i for i, f in enumerate(self.frames)}
        missing = [int(f) for f in source_frames if int(f) not in lookup]
        if missing:
            raise LabelsError(
                f"the labels have no row for frame {missing[0]} (and {len(missing) - 1} more); "
                f"they cover frames {int(self.frames.min())}–{int(self.frames.max())}: are they for this clip?"
            )
        return self.columns[name][[lookup[int(f)] for f in source_frames]]


def read_labels(path: str | Path, max_bytes: int = MAX_LABELS_BYTES) -> Labels:
    path = Path(path)
    if not path.is_file():
        raise LabelsError("the labels file was not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise LabelsError(f"the labels file is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelsError("the labels file is not UTF-8 text: expected a CSV") from None
    return parse_labels(text)


def parse_labels(text: str) -> Labels:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:
        raise LabelsError(f"the labels file is not a readable CSV ({err})") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise LabelsError("the labels file needs a header row and at least one row of values")
    header = [name.strip() for name in rows[0]]
    if FRAME_COLUMN not in header:
        raise LabelsError(f"the labels file needs a '{FRAME_COLUMN}' column; it has {', '.join(header[:8])}")
    if len(set(header)) != len(header) or any(not name for name in header):
        raise LabelsError("the labels file's column names must be unique and non-empty")
    body = rows[1:]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise LabelsError(f"row {line} of the labels file has {len(row)} cells; the header has {len(header)}")
    cells = {name: [row[i].strip() for row in body] for i, name in enumerate(header)}
    frames = _numbers(cells.pop(FRAME_COLUMN))
    if frames is None or not np.all(frames == np.round(frames)) or frames.min() < 0:
        raise LabelsError(f"the '{FRAME_COLUMN}' column must hold frame numbers 0, 1, 2, …")
    if len(np.unique(frames)) != len(frames):
        raise LabelsError(f"the '{FRAME_COLUMN}' column repeats a frame number")
    if not cells:
        raise LabelsError("the labels file has no column besides 'frame'")
    columns = {}
    for name, values in cells.items():
        numbers = _numbers(values)
        columns[name] = numbers if numbers is not None else np.asarray(values, dtype=str)
    return Labels(frames=frames.astype(np.int64), columns=columns)


def _numbers(values: list[str]) -> np.ndarray | None:
    """The cells as float64, or None when any cell is not a plain number."""
    try:
        numbers = np.asarray([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None
    return numbers if np.isfinite(numbers).all() else None


def ordered_columns(names, first: tuple[str, ...] = ()) -> list[str]:
    """Label columns in the order to offer them: `first` (in that order), the other named columns in file
    order, then the RAM bytes `ram_<n>` by number."""

    def order(name: str) -> tuple[int, bool, int]:
        ram = name.startswith("ram_") and name[4:].isdigit()
        return first.index(name) if name in first else len(first), ram, int(name[4:]) if ram else 0

    return sorted(names, key=order)
