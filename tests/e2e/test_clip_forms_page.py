"""Clips as people share them, with the shipped Breakout bundle, through the API and the page: the screen is
found and shown, another game gets a banner, a box outside the frame a message, and rollouts say where they
left familiar ground."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest
from gradio_client import Client, handle_file

import clip_forms
from file_input import choose_file
from pages import open_studio
from studio_server import start_studio, stop, wait_for_warm_up

WINDOW = {"width": 1280, "height": 720}  # the smallest window the page is laid out for


@pytest.fixture(scope="module")
def shipped_url(tmp_path_factory) -> Iterator[str]:
    exported = tmp_path_factory.mktemp("shipped")
    shutil.copytree(clip_forms.REPO / "exported" / "breakout", exported / "breakout")
    process, url = start_studio(exported, exported.parent / "shipped_studio.log")
    wait_for_warm_up(process, exported.parent / "shipped_studio.log")
    yield url
    stop(process)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("forms")
    breakout = clip_forms.atari_frames("ALE/Breakout-v5", steps=24, seed=9)
    pong = clip_forms.atari_frames("ALE/Pong-v5", steps=24, seed=4)
    return {
        "window": clip_forms.write_video(clip_forms.emulator_window(breakout), folder / "window.mp4"),
        "pong": clip_forms.write_video(pong, folder / "pong.mp4"),
    }


def analyze(client: Client, clip, crop: str = "auto"):
    return client.predict(handle_file(str(clip)), 0, 100, "PCA", "2D", "time", crop, api_name="/analyze")


def test_api_finds_the_window_and_flags_another_game(shipped_url, clips):
    client = Client(shipped_url, verbose=False)
    _, stats, banner, screen, *_ = analyze(client, clips["window"])
    assert "game screen found at top 50, left 26" in stats and "50,26,420,320" in stats
    assert "stride 1: the clip's 15 fps" in stats and not banner
    assert screen  # the source frame with the box drawn on it
    rollout, summary, _, _ = client.predict(3, 24, "random codes", 0, 1, "", 0, 1, 0.5, "", api_name="/rollout")
    assert "familiar ground" in summary
    client.predict(3, api_name="/play_start")
    _, status = client.predict(2, api_name="/step")
    assert "familiar ground" in status

    _, stats, banner, *_ = analyze(client, clips["pong"])
    assert "no game screen" in stats and "analyzed whole" in stats
    assert "unlike the Breakout frames" in banner and "dB" in banner
    video, stats, downloads = client.predict("PCA", "2D", "time", 0, api_name="/reconstruct")
    npz = next(d for d in downloads if d.endswith(".npz"))
    with np.load(npz) as result:
        assert list(result["crop"]) == [0, 0, 210, 160] and not bool(result["familiar"])
        assert (result["familiarity"] < 0).all() and int(result["stride"]) == 1
    with pytest.raises(Exception, match="outside the 160×210 frame"):
        analyze(client, clips["pong"], "400,0,100,100")


def test_page_shows_the_banner_hollow_frames_and_the_reference_cloud(shipped_url, clips, page, tmp_path):
    page.set_viewport_size(WINDOW)
    open_studio(page, shipped_url)
    choose_file(page, "clip-upload", clips["pong"])
    page.get_by_role("button", name="Analyze").click()
    page.locator("#clip-banner").get_by_text("unlike the Breakout frames", exact=False).wait_for()
    page.locator("#trajectory").get_by_text("the model's reference frames").first.wait_for()
    banner = page.locator("#clip-banner").bounding_box()
    plot = page.locator("#trajectory .js-plotly-plot").bounding_box()
    assert banner["y"] + banner["height"] <= plot["y"]  # the banner over the map
    assert plot["y"] + plot["height"] <= WINDOW["height"]  # and the whole map still in view
    symbols = page.evaluate(
        "document.querySelector('#trajectory .js-plotly-plot').data"
        ".flatMap(t => Array.isArray(t.marker?.symbol) ? t.marker.symbol : [])"
    )
    assert symbols and all(s.endswith("-open") for s in symbols)  # every Pong frame is unfamiliar
    assert page.locator("#clip-screen img").get_attribute("src")
    page.screenshot(path=str(tmp_path / "pong.png"), full_page=True)

    page.locator("#clip-crop textarea, #clip-crop input").first.fill("1,2,3")
    page.get_by_role("button", name="Analyze").click()
    page.get_by_text("four whole numbers", exact=False).first.wait_for()
