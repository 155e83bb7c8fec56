"""Choosing a file in the page the way a user does, and waiting until the page shows it was taken."""

from __future__ import annotations

from pathlib import Path

SHOWN_WITHIN_MS = 30_000


def choose_file(page, elem_id: str, path: Path) -> None:
    """Pick `path` in the file input of component `elem_id` and wait until the component lists the file by
    name. The name is waited for by its accessible name: the text on screen is split into stem and extension
    (`notes` `.mp4`), and only for a moment after the upload does it read as one piece. Once in a few hundred
    uploads, headless Chromium never sends the upload the first time (no request reaches the server); a user
    would pick the file again, and so does this, once."""
    file_input = page.locator(f"#{elem_id} input[type=file]")
    listed = page.locator(f"#{elem_id}").get_by_label(path.name, exact=True).first
    file_input.set_input_files(str(path))
    try:
        listed.wait_for(timeout=SHOWN_WITHIN_MS)
    except Exception:  # playwright's TimeoutError: pick it again, then wait with the page's own timeout
        file_input.set_input_files(str(path))
        listed.wait_for()
