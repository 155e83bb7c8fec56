"""Opening the studio in a browser page the way a user does, and waiting until it has rendered."""

from __future__ import annotations

from file_input import choose_file

# How long a test waits for one of the page's own signals (a text, an element, a value) before it fails: the
# page's default timeout in every browser test: three times the most any test gave one signal before (120 s, the
# Compare and newcomer tests; test_predict_play_probe_page passes whole in 56 s alone, issue 26), for a machine
# three times slower (a busy core, a shared runner). No test asserts how long anything took.
SIGNAL_TIMEOUT_MS = 3 * 120 * 1000
RENDERED_WITHIN_MS = 30_000  # a first wait, after which the page is reloaded once (below)


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


def start_analyzing(page, clip) -> None:
    """On the Clip tab, clear the box of a clip left in it, drop `clip` in and press Analyze."""
    page.get_by_role("tab", name="Clip").click()
    clear = page.locator("#clip-upload button[aria-label='Clear']")
    if clear.count():  # the previous clip is still in the box
        clear.first.click()
    choose_file(page, "clip-upload", clip)
    page.get_by_role("button", name="Analyze").click()
