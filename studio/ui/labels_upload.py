"""A labels CSV dropped on a tab: read it, or say what is wrong with it, and offer its columns."""

from __future__ import annotations

import gradio as gr

from studio.labels import Labels, LabelsError, ordered_columns, read_labels
from studio.ui.refusal import refusal


def read_uploaded_labels(path: str) -> Labels:
    try:
        return read_labels(path)
    except LabelsError as err:
        raise refusal(str(err)) from None


def offer_columns(path: str | None, label: str, first: tuple[str, ...] = ()) -> gr.Dropdown:
    """The dropdown of an uploaded file's columns, `first` ones first, the first of them chosen."""
    if not path:
        return gr.Dropdown()
    choices = ordered_columns(read_uploaded_labels(path).columns, first)
    return gr.Dropdown(choices, value=choices[0], label=label)
