"""Predict, Play and Probe as a user meets them: a real server, headless Chromium, and the API client."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from clips import moving_square_frames
from file_input import choose_file
from pages import open_studio
from studio.video import write_mp4

pytestmark = pytest.mark.slow
FRAMES = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_mp4(moving_square_frames(FRAMES, 48, 64), tmp_path_factory.mktemp("clips") / "square.mp4", fps=12)


@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> Path:
    """A column the square's position explains, a category, a constant and a noise column."""
    rows = "".join(
        f"{t},{t * 2.5},{'left' if t < FRAMES // 2 else 'right'},3,{(t * 7919) % 13}\n" for t in range(FRAMES)
    )
    path = tmp_path_factory.mktemp("labels") / "square_labels.csv"
    path.write_text("frame,x,side,lives,noise\n" + rows)
    return path


def analyze_in_browser(page, url: str, clip: Path) -> None:
    open_studio(page, url)
    choose_file(page, "clip-upload", clip)
    page.get_by_role("button", name="Analyze").click()
    page.locator("#clip-stats").get_by_text("frames analyzed", exact=False).wait_for()


def test_browser_rolls_out_plays_and_probes(page, studio_url, clip, labels):
    analyze_in_browser(page, studio_url, clip)

    page.get_by_role("tab", name="Predict").click()
    start = page.locator("#predict-start input[type=number]")
    start.fill("5")
    start.press("Enter")
    page.locator("#predict-branches textarea").fill("0 1\nrandom")
    page.locator("#predict-run").click()
    summary = page.locator("#predict-summary")
    summary.get_by_text("steps from frame", exact=False).wait_for()
    assert "3 branch(es)" in summary.inner_text() and "ΔtPSNR" in summary.inner_text()
    assert page.locator("#predict-video video").get_attribute("src")
    page.locator("#predict-psnr .js-plotly-plot").wait_for()
    # the clip's preview, still being written when the rollout was asked for, does not wipe it when it lands
    page.wait_for_function("document.querySelector('#clip-stats').textContent.includes('reconstruction PSNR')")
    assert "steps from frame" in summary.inner_text()
    assert page.locator("#predict-psnr .js-plotly-plot").count() == 1
    # a bad sequence gets a message, and the last good rollout stays on screen
    page.locator("#predict-source").get_by_text("typed sequence").click()
    page.locator("#predict-sequence textarea").fill("1 99")
    page.locator("#predict-run").click()
    page.get_by_text("code 99 is out of range", exact=False).first.wait_for()
    assert "steps from frame" in summary.inner_text()

    page.get_by_role("tab", name="Play").click()
    page.locator("#play-where").get_by_label("On the server").check()  # tests/e2e/test_play_in_browser.py: the page
    page.locator("#play-start").click()
    status = page.locator("#play-status")
    status.get_by_text("Started from frame", exact=False).wait_for()
    for press in range(1, 11):  # five presses with the buttons, five with the keys
        if press <= 5:
            page.locator(f"#play-code-{press % 4}").click()
        else:
            page.locator("body").press(str(press % 4 + 1))
        status.get_by_text(f"{press} step{'' if press == 1 else 's'} played", exact=False).wait_for()
    assert "step latency" in status.inner_text()
    page.locator("body").press("Backspace")
    status.get_by_text("9 steps played", exact=False).wait_for()
    assert page.locator("#play-screen img").get_attribute("src")
    # Run mode keeps pressing the last code, streaming its frames and the pace it sustains; a key pressed
    # meanwhile becomes the code it keeps pressing
    page.locator("#play-run input").check()
    status.get_by_text("steps/s", exact=False).wait_for()
    page.wait_for_function("parseInt(document.querySelector('#play-status').innerText) >= 40")
    page.locator("body").press("4")
    status.get_by_text("last codes: 3 3 3 3 3 3 3 3 3 3 3 3", exact=False).wait_for()
    page.locator("#play-run input").uncheck()
    assert page.locator("#play-screen img").get_attribute("src").startswith("data:image/png;base64,")

    page.get_by_role("tab", name="Probe").click()
    choose_file(page, "probe-labels", labels)
    page.locator("#probe-column").get_by_role("listbox").or_(page.locator("#probe-column input")).first.wait_for()
    page.wait_for_function("document.querySelector('#probe-column input')?.value === 'x'")
    page.locator("#probe-run").click()
    result = page.locator("#probe-result")
    result.get_by_text("held-out R²", exact=False).wait_for()
    page.locator("#probe-plot .js-plotly-plot").wait_for()
    page.locator("#probe-all").click()
    result.get_by_text("Ranked", exact=False).wait_for()
    assert "lives" in result.inner_text()  # the constant column is named as not probed
    page.locator("#probe-ranking").get_by_text("side").first.wait_for()


def test_api_rollout_with_branches_and_a_refused_sequence(studio_url, clip):
    client = Client(studio_url, verbose=False)
    client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    video, summary, figure, downloads = client.predict(
        3, 8, "one code held", 2, 0, "", 0, 1, 0.5, "clip\n1 0", api_name="/rollout"
    )
    assert Path(video).stat().st_size > 0 and "3 branch(es)" in summary
    files = {Path(d).suffix: Path(d) for d in downloads}
    assert set(files) == {".mp4", ".gif", ".npz"}
    predicted = np.load(files[".npz"])
    assert predicted["latents"].shape[:2] == (3, 8)
    _, between, _, _ = client.predict(3, 4, "between two codes", 0, 0, "", 0, 3, 0.25, "", api_name="/rollout")
    assert "0.75·code 0 + 0.25·code 3" in between
    with pytest.raises(Exception, match="'x' is not an action code"):
        client.predict(3, 8, "typed sequence", 0, 0, "1 x", 0, 1, 0.5, "", api_name="/rollout")
    with pytest.raises(Exception, match="branch line 1: code 7 is out of range"):
        client.predict(3, 8, "codes inferred from the clip", 0, 0, "", 0, 1, 0.5, "7", api_name="/rollout")


def test_api_plays_steps_and_undoes(studio_url, clip):
    client = Client(studio_url, verbose=False)
    client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    client.predict(4, api_name="/play_start")
    for step in range(10):
        screen, status = client.predict(step % 4, api_name="/step")
    assert "10 steps played" in status and Path(screen).stat().st_size > 0
    _, status = client.predict(api_name="/undo")
    assert "9 steps played" in status
    with pytest.raises(Exception, match="action codes 0 to 3"):
        client.predict(4, api_name="/step")


def test_api_probes_a_column_and_ranks_them_all(studio_url, clip, labels, tmp_path):
    client = Client(studio_url, verbose=False)
    client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    text, figure, *_ = client.predict(handle_file(str(labels)), "side", "auto", 5, api_name="/probe")
    assert "probed as a category" in text and "accuracy" in text
    text, ranking = client.predict(handle_file(str(labels)), 5, api_name="/probe_all")
    assert {row[0] for row in ranking["data"]} == {"x", "side", "noise"} and "lives" in text
    with pytest.raises(Exception, match="same value on every frame"):
        client.predict(handle_file(str(labels)), "lives", "auto", 5, api_name="/probe")
    short = tmp_path / "short.csv"
    short.write_text("frame,x\n0,1\n1,2\n")
    with pytest.raises(Exception, match="no row for frame 2"):
        client.predict(handle_file(str(short)), "x", "auto", 5, api_name="/probe")
