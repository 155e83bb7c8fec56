"""Choosing a file in the page the way a user does, and waiting until the page shows it was taken."""

from __future__ import annotations

from pathlib import Path

SHOWN_WITHIN_MS = 30_000


def choose_file(page, elem_id: str, path: Path, shown: str | None = None) -> None:
    """Pick `path` in the file input of component `elem_id` and wait until `shown` (the file's name by
    default) appears. Once in a few hundred uploads, headless Chromium never sends the upload the first
    time (no request reaches the server); a user would pick the file again, and so does this, once."""
    file_input = page.locator(f"#{elem_id} input[type=file]")
    text = page.get_by_text(shown or path.name).first
    file_input.set_input_files(str(path))
    try:
        text.wait_for(timeout=SHOWN_WITHIN_MS)
    except Exception:  # playwright's TimeoutError: pick it again, then wait with the page's own timeout
        file_input.set_input_files(str(path))
        text.wait_for()
