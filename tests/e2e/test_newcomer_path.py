"""A newcomer's path at 1280×720 on the shipped bundle: a shipped example, the map, a refused upload, the atlas
and exemplars, Play and Probe; each step asserts what the person must see."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from file_input import choose_file
from pages import SIGNAL_TIMEOUT_MS, open_studio
from studio_server import start_studio, stop, wait_for_warm_up

pytestmark = pytest.mark.slow
EXPORTED = Path(__file__).resolve().parents[2] / "exported"
WINDOW = {"width": 1280, "height": 720}


@pytest.fixture(scope="module")
def shipped_studio(tmp_path_factory) -> Iterator[str]:
    """The shipped bundle: its examples, their labels and its measured code meanings are what a newcomer meets."""
    log = tmp_path_factory.mktemp("shipped") / "studio.log"
    process, url = start_studio(EXPORTED, log)
    wait_for_warm_up(process, log)
    yield url
    stop(process)


def assert_play_in_view(page) -> None:
    """The Run box, the status line and the whole of the game's frame (the page's, or the server's) are in the
    window together, the page scrolled to its top as the tab opens."""
    page.evaluate("window.scrollTo(0, 0)")
    frame = "#play-canvas" if page.locator("#play-canvas").is_visible() else "#play-screen img"
    height = page.viewport_size["height"]
    for selector in ("#play-run", "#play-status", frame):
        box = page.locator(selector).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box, height)


def test_a_newcomer_analyzes_an_example_and_reads_every_view(browser, shipped_studio, tmp_path):
    page = browser.new_context(viewport=WINDOW).new_page()
    page.set_default_timeout(SIGNAL_TIMEOUT_MS)
    open_studio(page, shipped_studio)
    stats, slider = page.locator("#clip-stats"), page.locator("#frame-slider")
    assert "Start here" in stats.inner_text() and not slider.is_visible()  # what to do first; no 0–19999 slider

    # a shipped example is analyzed as soon as it is clicked, and the map is in view
    page.get_by_text("breakout_1.mp4").first.click()
    stats.get_by_text("frames analyzed", exact=False).wait_for()
    points = page.locator("#trajectory .scatterlayer .trace .points path.point")
    points.first.wait_for()
    plot = page.locator("#trajectory .js-plotly-plot").bounding_box()
    assert plot["y"] + plot["height"] <= WINDOW["height"]
    assert page.locator("#frame-slider input[type=number]").input_value() == "0"

    # a click on a point of the map moves the frame slider, the caption and the frame there: a point of the
    # clip's own trace (the bundle's reference frames are drawn under it), the one farthest from frame 0's
    clip_trace = page.evaluate(
        "document.querySelector('#trajectory .js-plotly-plot').data.findIndex(t => t.customdata)"
    )
    clip_points = page.locator("#trajectory .scatterlayer .trace").nth(clip_trace).locator("path.point")
    centres = clip_points.evaluate_all(
        "ps => ps.map(p => { const r = p.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })"
    )
    farthest = max(range(len(centres)), key=lambda i: math.dist(centres[i], centres[0]))
    clip_points.nth(farthest).click(force=True)
    page.wait_for_function("document.querySelector('#frame-slider input[type=number]').value !== '0'")
    frame = page.locator("#frame-slider input[type=number]").input_value()
    page.locator("#frame-caption").get_by_text(f"Frame {frame} ·", exact=False).wait_for()

    # a refused upload leaves nothing of the previous clip: the box, the map, the frame views and the other tabs
    page.locator("#clip-upload button[aria-label='Clear']").first.click()
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n")
    choose_file(page, "clip-upload", fake)
    page.get_by_role("button", name="Analyze").click()
    stats.get_by_text("Not analyzed", exact=False).wait_for()
    assert "'notes.mp4' is not a video" in stats.inner_text()
    assert "notes.mp4" not in page.locator("#clip-upload").inner_text()  # the box is cleared
    assert page.locator("#trajectory .js-plotly-plot").count() == 0 and not slider.is_visible()
    assert page.locator("#frame-image img").count() == 0
    page.get_by_role("tab", name="Actions").click()
    assert page.locator("#atlas img").count() == 0 and page.locator("#exemplars img").count() == 0

    # the atlas: every outcome at 192 px or more, its caption under it; the exemplars: every code's row at once
    page.get_by_role("tab", name="Clip").click()
    page.get_by_text("breakout_1.mp4").first.click()
    stats.get_by_text("frames analyzed", exact=False).wait_for()
    page.get_by_role("tab", name="Actions").click()
    atlas = page.locator("#atlas figure")
    atlas.first.locator("img").first.wait_for()
    assert atlas.count() == 8
    picture, caption = atlas.first.locator("img").first.bounding_box(), atlas.first.locator("figcaption").bounding_box()
    assert picture["height"] >= 192 and caption["y"] >= picture["y"] + picture["height"]
    # under every outcome, the window where the codes differ, enlarged: frame t beside the outcome, about 100 px
    # high, between the outcome and its caption
    assert atlas.locator("img.detail").count() == 8
    detail = atlas.first.locator("img.detail").bounding_box()
    assert detail["height"] >= 90 and detail["width"] >= 2 * detail["height"]
    assert picture["y"] + picture["height"] <= detail["y"] and detail["y"] + detail["height"] <= caption["y"]
    assert "moves the paddle" in atlas.first.locator("figcaption").inner_text()  # what the code does, kept
    exemplars = page.locator("#exemplars")
    codes_used = int(re.search(r"(\d+) action codes? used", stats.inner_text()).group(1))
    assert exemplars.locator("h4").count() == codes_used  # a row for each code the clip uses
    assert exemplars.evaluate("e => [e, ...e.querySelectorAll('*')].every(x => x.scrollHeight <= x.clientHeight + 1)")

    # Predict: after Roll out the rollout is in view, its panels about 400 px wide, each named in page text over it
    page.get_by_role("tab", name="Predict").click()
    page.locator("#predict-branches textarea").fill("random")
    page.locator("#predict-run").click()
    names = page.locator("#predict-panels .panel-names span")
    names.first.wait_for()
    said = names.all_inner_texts()
    assert len(said) == 3 and said[0].startswith("the clip") and said[1].startswith("1: ") and said[2].startswith("2: ")
    in_view = "(e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })"
    page.wait_for_function(f"{in_view}(document.querySelector('#predict-video video'))")  # scrolled there smoothly
    assert page.locator("#predict-panels").evaluate(in_view)
    video = page.locator("#predict-video video").bounding_box()
    panel = video["width"] / 3
    assert panel >= 380
    for i in range(3):  # each name over the middle of its panel, in type as large as the page's own
        name = names.nth(i).bounding_box()
        assert abs(name["x"] + name["width"] / 2 - (video["x"] + (i + 0.5) * panel)) < 20
    assert float(names.first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 14

    # Play: before any labels were uploaded, the buttons say what each code does, and the start frame shows
    page.get_by_role("tab", name="Play").click()
    page.locator("#play-screen img").wait_for()
    assert "moves the paddle" in page.locator("#play-code-0").inner_text()
    page.locator("#play-status").get_by_text("press Start", exact=False).wait_for()
    page.locator("#play-start").click()
    page.locator("#play-status").get_by_text("Started from", exact=False).locator("visible=true").first.wait_for()
    page.locator("body").press("4")
    page.locator("#play-status").get_by_text("1 step played", exact=False).wait_for()
    assert_play_in_view(page)

    # Probe: the example's own labels are offered; one probe gives a held-out score beside its baseline
    page.get_by_role("tab", name="Probe").click()
    column = page.locator("#probe-column input")
    column.fill("paddle_x")  # a number, probed in a second
    column.press("Enter")
    page.locator("#probe-run").click()
    page.locator("#probe-result").get_by_text("held-out", exact=False).wait_for()
    page.context.close()


def test_an_example_of_another_bundle_is_offered_its_own_and_pictures_keep_their_tops(browser, shipped_studio):
    page = browser.new_context(viewport=WINDOW).new_page()
    page.set_default_timeout(SIGNAL_TIMEOUT_MS)
    open_studio(page, shipped_studio)
    stats, offer = page.locator("#clip-stats"), page.locator("#clip-offer")

    # Breakout's example with Breakout picked: nothing to offer
    page.get_by_text("breakout_1.mp4").first.click()
    stats.get_by_text("reconstruction PSNR", exact=False).wait_for()
    assert not offer.is_visible()
    # the labels and the pictures' buttons sit above the pictures, off the top where a game keeps its score
    for elem_id in ("frame-image", "frame-reconstruction", "clip-screen"):
        picture = page.locator(f"#{elem_id} img").bounding_box()
        for above in (f"#{elem_id} label", f"#{elem_id} .icon-button-wrapper"):
            box = page.locator(above).first.bounding_box()
            assert box["y"] + box["height"] <= picture["y"] + 1, (elem_id, above)

    # CoinRun's example with Breakout picked: analyzed as asked, and the bundle that ships it offered in words
    page.get_by_text("coinrun_1.mp4").first.click()
    stats.get_by_text("with breakout", exact=False).wait_for()
    offer.get_by_text("is an example of the coinrun bundle", exact=False).wait_for()
    assert "analyzed with breakout" in offer.inner_text()
    button = page.locator("#clip-offer-button")
    assert button.inner_text() == "Analyze it with coinrun"

    # one click: coinrun is picked, and the example analyzed again with it; the offer goes
    button.click()
    stats.get_by_text("with coinrun", exact=False).wait_for()
    stats.get_by_text("reconstruction PSNR", exact=False).wait_for()
    assert not offer.is_visible()
    page.get_by_role("tab", name="Model").click()
    assert page.locator("#model-picker input").input_value() == "coinrun"
    page.context.close()


@pytest.mark.parametrize("where", ["In this browser", "On the server"])
def test_at_1440_pixels_wide_a_game_is_seen_whole_with_its_status(browser, shipped_studio, where):
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(SIGNAL_TIMEOUT_MS)
    open_studio(page, shipped_studio)
    page.get_by_role("tab", name="Play").click()
    page.locator("#play-where").get_by_label(where).check()
    page.locator("#play-start").click()
    status = page.locator("#play-status")
    # the server's line, or the page's once it plays (which hides the server's)
    status.get_by_text("Started from", exact=False).locator("visible=true").first.wait_for()
    page.locator("body").press("2")
    status.get_by_text("1 step played", exact=False).wait_for()
    assert ("on the server" in status.inner_text()) == (where == "On the server")
    assert_play_in_view(page)
    page.context.close()
