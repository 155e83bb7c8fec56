"""What a person meets after a second clip, a refused labels file or a moved slider, in headless Chromium at
1280×720: no result of an older clip beside the new one, refusals told in words where the results would be, no
error while a game is on, and figures drawn while their tab was hidden filling their box once it is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from clips import moving_square_frames
from file_input import choose_file
from pages import SIGNAL_TIMEOUT_MS, open_studio, start_analyzing
from studio.video import write_mp4

pytestmark = pytest.mark.slow
FRAMES = 30
WINDOW = {"width": 1280, "height": 720}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clips")
    first = write_mp4(moving_square_frames(FRAMES, 48, 64), folder / "first.mp4", fps=12)
    second = write_mp4(moving_square_frames(FRAMES + 6, 48, 64, side=8), folder / "second.mp4", fps=12)
    return first, second


@pytest.fixture(scope="module")
def longer_labels(tmp_path_factory) -> Path:
    """Labels made for a clip twice as long as the first."""
    path = tmp_path_factory.mktemp("labels") / "longer.csv"
    path.write_text("frame,x,action\n" + "".join(f"{t},{t * 2.5},{t % 3}\n" for t in range(2 * FRAMES)))
    return path


def analyze(page, clip: Path) -> None:
    start_analyzing(page, clip)
    page.locator("#clip-stats").get_by_text("frames analyzed", exact=False).wait_for()
    page.wait_for_function("document.querySelector('#clip-stats').textContent.includes('reconstruction PSNR')")


def error_badges(page, *elem_ids: str) -> int:
    """How many of the components show Gradio's bare red "Error" badge."""
    return sum(page.locator(f"#{elem_id} .error").count() for elem_id in elem_ids)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=WINDOW)
    page = context.new_page()
    page.set_default_timeout(SIGNAL_TIMEOUT_MS)
    yield page
    context.close()


def test_figures_drawn_while_hidden_fill_their_box(page, studio_url, clips):
    open_studio(page, studio_url)
    analyze(page, clips[0])  # the Actions overview is drawn meanwhile, its tab hidden
    page.get_by_role("tab", name="Actions").click()
    for elem_id in ("code-timeline", "code-usage"):
        page.locator(f"#{elem_id} .main-svg").first.wait_for()
        page.wait_for_function(
            f"""(() => {{
              const box = document.querySelector('#{elem_id}');
              const svg = box.querySelector('.main-svg');
              return svg && svg.getBoundingClientRect().width >= 0.9 * box.getBoundingClientRect().width;
            }})()"""
        )


def test_refused_labels_are_told_in_words_and_a_new_clip_takes_older_files_away(page, studio_url, clips, longer_labels):
    longer = longer_labels
    open_studio(page, studio_url)
    analyze(page, clips[0])

    page.get_by_role("tab", name="Actions").click()
    choose_file(page, "actions-labels", longer)
    page.get_by_role("button", name="Compare codes with true actions").click()
    agreement = page.locator("#agreement")
    agreement.get_by_text("Not compared", exact=False).wait_for()
    # frames count from 0: a clip of 30 frames ends at frame 29, and the message says so
    assert f"past the clip's last frame, {FRAMES - 1}" in agreement.inner_text()
    assert error_badges(page, "agreement", "confusion") == 0

    page.get_by_role("tab", name="Probe").click()
    choose_file(page, "probe-labels", longer)
    page.locator("#probe-run").click()
    result = page.locator("#probe-result")
    result.get_by_text("Not probed", exact=False).wait_for()
    assert error_badges(page, "probe-result", "probe-plot") == 0

    analyze(page, clips[1])  # the labels dropped for the first clip go with it
    for elem_id in ("actions-labels", "probe-labels"):
        page.wait_for_function(f"!document.querySelector('#{elem_id}').innerText.includes('.csv')")


def test_a_comparison_of_the_clip_tab_clip_goes_with_it(page, studio_url, clips):
    open_studio(page, studio_url)
    analyze(page, clips[0])
    page.get_by_role("tab", name="Compare").click()
    # with one bundle and no examples, A reads the Clip tab's clip and B an upload
    assert page.locator("#compare-clip-a input").input_value() == "the Clip tab's clip"
    assert page.locator("#compare-clip-b input").input_value() == "a clip uploaded under Uploads"
    page.get_by_text("Uploads: a clip or a labels CSV for A or B").click()
    choose_file(page, "compare-file-b", clips[1])
    page.locator("#compare-run").click()
    status = page.locator("#compare-status")
    status.get_by_text("Compared", exact=False).wait_for()
    assert page.locator("#compare-summary").inner_text()

    analyze(page, clips[1])
    page.get_by_role("tab", name="Compare").click()
    status.get_by_text("has gone", exact=False).wait_for()
    assert page.locator("#compare-summary").inner_text().strip() == ""


def test_moving_the_start_slider_during_a_game_leaves_it_be(page, studio_url, clips):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    open_studio(page, studio_url)
    analyze(page, clips[0])
    page.get_by_role("tab", name="Play").click()
    page.locator("#play-where").get_by_label("On the server").check()  # the server's game and its start preview
    page.locator("#play-start").click()
    status = page.locator("#play-status")
    status.get_by_text("Started from frame", exact=False).locator("visible=true").first.wait_for()
    page.locator("#play-code-1").click()
    status.get_by_text("1 step played", exact=False).wait_for()
    screen = page.locator("#play-screen img").get_attribute("src")
    slider = page.locator("#play-start-frame input[type=range]")
    for _ in range(3):  # dragged and let go, as a person does
        slider.focus()
        page.keyboard.press("ArrowRight")
        slider.dispatch_event("pointerup")
        slider.dispatch_event("change")
    page.wait_for_timeout(1500)
    assert "1 step played" in status.inner_text()  # the game is still on screen
    assert page.locator("#play-screen img").get_attribute("src") == screen
    assert error_badges(page, "play-screen", "play-status") == 0
    assert not [text for text in errors if "show_start" in text or "enough output values" in text]
