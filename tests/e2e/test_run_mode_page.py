"""Run mode in a real browser while another job keeps one of the two cores busy: the page keeps answering, a key
pressed shows, and the game advances at the pace the page can draw.

The page's own timers measure it: a 100 ms setInterval records how late each of its turns comes (the page's main
thread busy or not), and a key press is timed from its keydown to the status line showing the pressed code.
By default the tiny bundle runs for a few seconds; `STUDIO_RUN_EXPORTED=exported STUDIO_RUN_BUNDLES=breakout,
coinrun STUDIO_RUN_SECONDS=120` runs the shipped bundles for two minutes each (the figures in
benchmarks/RESULTS.md). The figures are printed, never asserted: speed is not a test's business.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from clips import moving_square_frames
from file_input import choose_file
from pages import open_studio
from studio.video import write_mp4
from studio_server import start_studio, stop, wait_for_warm_up

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("STUDIO_RUN_SECONDS", "8"))
PRESS_EVERY_S = 3.0
PROBE_SCRIPT = """
() => {
  // how late each turn of a 100 ms timer comes, in ms
  window.runProbe = { late: [] };
  let last = performance.now();
  window.runProbe.timer = setInterval(() => {
    const now = performance.now();
    window.runProbe.late.push(now - last - 100);
    last = now;
  }, 100);
}
"""
# press a key as a user does and resolve, in ms, once the status line's last code is the pressed one
PRESS_SCRIPT = """
(key) => new Promise((resolve) => {
  const status = document.querySelector("#play-status");
  const code = String(Number(key) - 1);
  const began = performance.now();
  const shown = () => (status.innerText.match(/last codes: ([0-9 ]+)/) || ["", ""])[1].trim().split(" ").pop() === code;
  const observer = new MutationObserver(() => {
    if (shown()) { observer.disconnect(); resolve(performance.now() - began); }
  });
  observer.observe(status, { subtree: true, childList: true, characterData: true });
  document.body.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
})
"""
# the steps played, as the status line counts them (0 before the first)
STEPS = "Number((document.querySelector('#play-status').innerText.match(/([0-9]+) steps? played/) || [0, 0])[1])"


@pytest.fixture
def busy_core():
    """Another job keeping the second core busy, as on a shared machine; stopped after."""
    job = subprocess.Popen(["taskset", "-c", "1", "sh", "-c", "while :; do :; done"])
    yield
    job.kill()
    job.wait()


@pytest.fixture(scope="module")
def run_studio(request, tmp_path_factory) -> tuple[str, list[str | None]]:
    """The studio the test runs in, and the bundles to pick (None: the one it opens with)."""
    exported = os.environ.get("STUDIO_RUN_EXPORTED")
    if not exported:
        yield request.getfixturevalue("studio_url"), [None]  # the tiny bundle, which ships no example: a clip is
        return
    log = tmp_path_factory.mktemp("run") / "studio.log"
    process, url = start_studio(Path(exported), log)
    wait_for_warm_up(process, log)
    yield url, os.environ.get("STUDIO_RUN_BUNDLES", "breakout").split(",")
    stop(process)


def run_for(page, seconds: float) -> dict:
    """Tick Run, press keys 2 and 3 in turn every few seconds, untick -> what the page measured."""
    page.evaluate(PROBE_SCRIPT)
    status = page.locator("#play-status")
    first = page.evaluate(STEPS)
    began = time.monotonic()
    page.locator("#play-run input").check()
    presses, round_trips, key = [], [], "2"
    while time.monotonic() - began < seconds:
        asked = time.perf_counter()
        page.evaluate("1")  # a round trip through the page's main thread
        round_trips.append(1000 * (time.perf_counter() - asked))
        presses.append(page.evaluate(PRESS_SCRIPT, key))
        key = "3" if key == "2" else "2"
        page.wait_for_timeout(1000 * PRESS_EVERY_S)
    steps = page.evaluate(STEPS) - first
    elapsed = time.monotonic() - began
    page.locator("#play-run input").uncheck()
    late = page.evaluate("window.runProbe.late")
    page.evaluate("clearInterval(window.runProbe.timer)")
    page.wait_for_timeout(2000)  # the answer to a request already asked for may still land
    left = page.evaluate(STEPS)
    page.wait_for_timeout(2000)
    return {
        "steps": steps,
        "steps_per_s": steps / elapsed,
        "stopped": page.evaluate(STEPS) == left,
        "timer_late_ms": late,
        "round_trip_ms": round_trips,
        "press_ms": presses,
        "status": status.inner_text(),
    }


def test_run_mode_keeps_the_page_answering_with_one_core_busy(browser, run_studio, busy_core, tmp_path):
    url, bundles = run_studio
    for bundle in bundles:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(120_000)
        open_studio(page, url)
        if bundle is None:  # analyzed first, for the game to start from
            clip = write_mp4(moving_square_frames(30, 48, 64), tmp_path / "square.mp4", fps=12)
            choose_file(page, "clip-upload", clip)
            page.get_by_role("button", name="Analyze").click()
            page.locator("#clip-stats").get_by_text("frames analyzed", exact=False).wait_for()
        else:
            page.get_by_role("tab", name="Model").click()
            page.locator("#model-picker input").fill(bundle)
            page.locator("#model-picker input").press("Enter")
            page.locator("#model-card").get_by_text(bundle, exact=False).first.wait_for()
        page.get_by_role("tab", name="Play").click()
        page.locator("#play-status").get_by_text("press Start", exact=False).wait_for()  # the start frame, shown
        page.locator("#play-where").get_by_label("On the server").check()  # the server's Run mode is measured here
        page.locator("#play-start").click()
        page.locator("#play-status").get_by_text("Started from frame", exact=False).wait_for()
        measured = run_for(page, SECONDS)
        # every call of Run mode's went by, and none was kept in the browser's storage (Gradio's run history)
        kept = page.evaluate("Object.keys(localStorage).filter((key) => key.startsWith('gradio:run-history'))")
        page.close()
        assert kept == []
        assert measured["steps"] > 0 and measured["stopped"]  # it ran, and unticking stopped it
        assert len(measured["press_ms"]) >= 1  # every key pressed showed (each press waits for its code)
        late, trips, presses = (np.asarray(measured[k]) for k in ("timer_late_ms", "round_trip_ms", "press_ms"))
        print(
            f"\nRun mode, {bundle or 'tiny'}, {SECONDS:.0f} s, one core busy: {measured['steps_per_s']:.1f} steps/s; "
            f"page timer late by median {np.median(late):.0f} ms, p99 {np.percentile(late, 99):.0f} ms, max "
            f"{late.max():.0f} ms ({len(late)} turns); round trip into the page median {np.median(trips):.0f} ms, "
            f"max {trips.max():.0f} ms; key press to its code shown median {np.median(presses):.0f} ms, max "
            f"{presses.max():.0f} ms ({len(presses)} presses)"
        )
