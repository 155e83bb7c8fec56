"""A refusal: a request the user can put right (a bad file, a missing step), told on the page in a sentence and
logged in one line; tracebacks in the log are kept for faults."""

from __future__ import annotations

import sys

import gradio as gr


def refusal(message: str, **shown) -> gr.Error:
    """The error to raise for a request the user can put right; `shown` are gr.Error's options (title, duration)."""
    print(f"studio: refused: {message}", file=sys.stderr, flush=True)
    return gr.Error(message, print_exception=False, **shown)
