"""The README's pictures: the studio on the shipped bundle, driven in headless Chromium as a user would.

    python docs/screenshots.py          # or `make screenshots`; writes docs/clip_tab.png, actions_tab.png,
                                        # predict_tab.png (about a minute)

It starts `studio serve` on `exported/` (with a cache of its own, so the pictures show a fresh studio),
analyzes the bundle's first example clip, and saves a full-page picture of the Clip, Actions and Predict
tabs. Each step waits for what the picture must show, so a page that did not render fails here instead of
landing in the README.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from studio_server import CHROMIUM, CHROMIUM_ARGS, start_studio, stop, wait_for_warm_up  # noqa: E402

DOCS = ROOT / "docs"
EXPORTED = ROOT / "exported"
EXAMPLE = "breakout_1.mp4"
VIEWPORT = {"width": 1400, "height": 1000}  # laid out as on a laptop's screen, saved 1050 pixels wide
SCALE = 0.75
FRAME = 60  # the frame the Clip and Actions pictures show
START, STEPS, BRANCHES = 40, 16, "random\n0 0 0 0"  # the Predict picture's rollout


def set_number(page: Page, elem_id: str, value: int) -> None:
    number = page.locator(f"#{elem_id} input[type=number]")
    number.fill(str(value))
    number.press("Enter")


def clip_tab(page: Page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.get_by_text(EXAMPLE, exact=True).first.click()  # the bundle's example, as a visitor picks it: analyzed at once
    stats = page.locator("#clip-stats")
    stats.get_by_text("reconstruction PSNR", exact=False).wait_for()
    page.locator("#clip-preview video").wait_for()
    page.locator("#map-color").get_by_text("code").click()
    page.locator("#trajectory").get_by_text("code 0").first.wait_for()
    set_number(page, "frame-slider", FRAME)
    page.locator("#frame-caption").get_by_text(f"Frame {FRAME}", exact=False).wait_for()
    page.locator("#trajectory").get_by_text(f"frame {FRAME}").first.wait_for()
    page.screenshot(path=str(DOCS / "clip_tab.png"), full_page=True)


def actions_tab(page: Page) -> None:
    page.get_by_role("tab", name="Actions").click()
    page.locator("#exemplars img").first.wait_for()
    set_number(page, "atlas-slider", FRAME)
    page.locator("#atlas img").first.wait_for()
    page.locator("#agreement").get_by_text("NMI", exact=False).wait_for()  # the example ships its true actions
    page.locator("#confusion .js-plotly-plot").wait_for()
    page.screenshot(path=str(DOCS / "actions_tab.png"), full_page=True)


def predict_tab(page: Page) -> None:
    page.get_by_role("tab", name="Predict").click()
    set_number(page, "predict-start", START)
    set_number(page, "predict-steps", STEPS)
    page.locator("#predict-branches textarea").fill(BRANCHES)
    page.locator("#predict-run").click()
    page.locator("#predict-summary").get_by_text(f"from frame {START}", exact=False).wait_for()
    page.locator("#predict-video video").wait_for()
    page.locator("#predict-psnr .js-plotly-plot").wait_for()
    page.screenshot(path=str(DOCS / "predict_tab.png"), full_page=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "studio.log"
        process, url = start_studio(EXPORTED, log, env={"STUDIO_CACHE_DIR": str(Path(work) / "cache")})
        try:
            wait_for_warm_up(process, log)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=VIEWPORT, device_scale_factor=SCALE)
                page.set_default_timeout(120_000)
                clip_tab(page, url)
                actions_tab(page)
                predict_tab(page)
                browser.close()
        finally:
            stop(process)
    for name in ("clip_tab", "actions_tab", "predict_tab"):
        print(DOCS / f"{name}.png")


if __name__ == "__main__":
    main()
