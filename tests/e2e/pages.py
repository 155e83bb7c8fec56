"""Opening the studio in a browser page the way a user does, and waiting until it has rendered."""

from __future__ import annotations

RENDERED_WITHIN_MS = 30_000


def open_studio(page, url: str) -> None:
    """Go to the studio and wait for its Analyze button. Once in a few hundred page loads, headless Chromium
    fires `load` but never renders the app; a user would reload the page, and so does this, once."""
    analyze = page.get_by_role("button", name="Analyze")
    page.goto(url, wait_until="load")
    try:
        analyze.wait_for(timeout=RENDERED_WITHIN_MS)
    except Exception:  # playwright's TimeoutError: reload, then wait with the page's own timeout
        page.reload(wait_until="load")
        analyze.wait_for()
