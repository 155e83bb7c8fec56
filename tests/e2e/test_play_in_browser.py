"""Play in the visitor's browser, as a user meets it: the game steps in the page with no request to the server
per step, Undo and Run work there, and the switch hands the game to the server and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from clips import moving_square_frames
from file_input import choose_file
from pages import open_studio
from studio.video import write_mp4

pytestmark = pytest.mark.slow
CANVAS = "document.getElementById('play-canvas').toDataURL()"
STEPS_PLAYED = "parseInt(document.querySelector('#play-status').innerText)"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_mp4(moving_square_frames(30, 48, 64), tmp_path_factory.mktemp("clips") / "square.mp4", fps=12)


def open_play(page, url: str, clip: Path) -> None:
    open_studio(page, url)  # the tiny bundle ships no example: a game starts from an analyzed clip
    choose_file(page, "clip-upload", clip)
    page.get_by_role("button", name="Analyze").click()
    page.locator("#clip-stats").get_by_text("frames analyzed", exact=False).wait_for()


def test_play_runs_in_the_page_and_switches_to_the_server(page, studio_url, clip):
    open_play(page, studio_url, clip)
    page.get_by_role("tab", name="Play").click()
    page.locator("#play-start").click()
    status = page.locator("#play-status")
    status.get_by_text("in this browser", exact=False).first.wait_for()
    page.locator("#play-canvas").wait_for()
    assert not page.locator("#play-screen").is_visible()  # the server's picture gives way to the page's
    # the page is cross-origin isolated, so the model steps on threads: half the logical cores, at least one, at
    # most four (play.js `modelThreads`)
    threads = max(1, min(4, page.evaluate("navigator.hardwareConcurrency") // 2))
    assert page.evaluate("crossOriginIsolated")
    frames = {page.evaluate(CANVAS)}

    joined = []  # the page's requests to run something on the server
    page.on("request", lambda request: joined.append(request.url) if "/queue/join" in request.url else None)
    for press in range(1, 7):  # three presses with the buttons, three with the keys
        if press <= 3:
            page.locator(f"#play-code-{press % 4}").click()
        else:
            page.locator("body").press(str(press % 4 + 1))
        played = f"{press} step{'s' if press > 1 else ''} played in this browser"
        status.get_by_text(played, exact=False).wait_for()
        frames.add(page.evaluate(CANVAS))
    assert len(frames) > 1  # the canvas changed
    assert "step time" in status.inner_text()
    assert f"(WebAssembly, {threads} thread{'s' if threads > 1 else ''})" in status.inner_text()
    page.locator("body").press("Backspace")
    status.get_by_text("5 steps played", exact=False).wait_for()

    page.locator("#play-run input").click()  # Run: the page keeps pressing the last code
    page.wait_for_function(f"{STEPS_PLAYED} >= 25")
    status.get_by_text("steps/s", exact=False).wait_for()
    assert page.locator("#play-run input").is_checked()
    page.locator("#play-run input").click()
    page.wait_for_timeout(500)  # the step in flight lands, and the status counts it
    stopped = page.evaluate(STEPS_PLAYED)
    page.wait_for_timeout(500)
    assert page.evaluate(STEPS_PLAYED) == stopped and not page.locator("#play-run input").is_checked()
    # Run may leave undrawn a step it makes up for lost time with; once stopped, the screen shows the last step
    assert page.evaluate("Number(document.getElementById('play-canvas').dataset.step)") == stopped
    assert joined == []  # every step, the undo and Run happened in the page

    page.locator("#play-where").get_by_label("On the server").check()
    status.get_by_text(f"{stopped} steps played on the server", exact=False).wait_for()
    assert page.locator("#play-screen img").is_visible() and not page.locator("#play-canvas").is_visible()
    page.locator("#play-code-1").click()
    status.get_by_text(f"{stopped + 1} steps played on the server", exact=False).wait_for()

    page.locator("#play-where").get_by_label("In this browser").check()  # and back: the page carries it on
    page.locator("#play-canvas").wait_for()
    page.locator("#play-code-2").click()
    status.get_by_text(f"{stopped + 2} steps played in this browser", exact=False).wait_for()


def test_a_browser_without_webassembly_plays_on_the_server_and_says_why(page, studio_url, clip):
    page.add_init_script("delete window.WebAssembly")
    open_play(page, studio_url, clip)
    page.get_by_role("tab", name="Play").click()
    page.locator("#play-start").click()
    status = page.locator("#play-status")
    status.get_by_text("this browser has no WebAssembly", exact=False).wait_for()
    assert "0 steps played on the server" in status.inner_text()
    assert page.locator("#play-where").get_by_label("On the server").is_checked()
    page.locator("#play-code-1").click()
    status.get_by_text("1 step played on the server", exact=False).wait_for()
    assert page.locator("#play-screen img").is_visible()
