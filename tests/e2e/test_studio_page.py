"""The studio as a user meets it: a real server, a real browser, real clips, and the API client."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from clips import moving_square_frames
from file_input import choose_file
from pages import open_studio
from studio.runtime import WorldModel
from studio.video import write_mp4
from studio_server import start_studio, stop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_mp4(moving_square_frames(24, 48, 64), tmp_path_factory.mktemp("clips") / "square.mp4", fps=12)


def plot_traces(page, elem_id: str) -> int:
    """How many plotly traces the plot component currently draws."""
    page.locator(f"#{elem_id} .js-plotly-plot").first.wait_for()
    return page.locator(f"#{elem_id} .js-plotly-plot").first.evaluate("el => el.data.length")


def test_browser_analyzes_explores_and_opens_every_tab(page, studio_url, clip, tiny_bundle):
    open_studio(page, studio_url)
    choose_file(page, "clip-upload", clip)
    page.get_by_role("button", name="Analyze").click()
    stats = page.locator("#clip-stats")
    stats.get_by_text("frames analyzed", exact=False).wait_for()
    assert "24 frames" in stats.inner_text()
    stats.get_by_text("reconstruction PSNR", exact=False).wait_for()  # the preview follows the map
    page.locator("#clip-preview video").wait_for()
    assert page.locator("#clip-preview video").get_attribute("src")
    assert plot_traces(page, "trajectory") >= 3  # path, points, highlighted frame
    assert "UMAP" in page.locator("#trajectory").inner_text()

    # switch projection and colouring: the map is redrawn as PCA, one trace per code
    page.locator("#map-method").get_by_text("PCA").click()
    page.locator("#trajectory").get_by_text("PCA of the frame latents").wait_for()
    page.locator("#map-color").get_by_text("code").click()
    page.locator("#trajectory").get_by_text("code", exact=False).first.wait_for()
    page.locator("#map-dims").get_by_text("3D").click()
    page.wait_for_function("document.querySelector('#trajectory .js-plotly-plot')?.data?.[0]?.type === 'scatter3d'")

    # move the time slider: frame 10 is shown and ringed on the map
    number = page.locator("#frame-slider input[type=number]")
    number.fill("10")
    number.press("Enter")
    page.locator("#frame-caption").get_by_text("Frame 10", exact=False).wait_for()
    page.locator("#trajectory").get_by_text("frame 10").first.wait_for()
    assert page.locator("#frame-image img").get_attribute("src")

    page.get_by_role("tab", name="Actions").click()
    assert plot_traces(page, "codebook-map") >= 2
    assert plot_traces(page, "code-usage") == 1
    page.locator("#exemplars img").first.wait_for()
    page.locator("#atlas img").first.wait_for()
    assert page.locator("#atlas figure").count() == 4  # one decoded next frame per code of the tiny model

    page.get_by_role("tab", name="Model").click()
    page.get_by_text("Runs on:").wait_for()
    used = ", ".join(sorted(set(WorldModel.load(tiny_bundle, device="auto").providers.values())))
    assert f"Runs on: {used} (the provider onnxruntime actually uses)" in page.locator("body").inner_text()


def test_browser_shows_a_readable_error_for_a_bad_clip(page, studio_url, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n")
    open_studio(page, studio_url)
    choose_file(page, "clip-upload", fake)
    page.get_by_role("button", name="Analyze").click()
    page.get_by_text("not a video", exact=False).first.wait_for()
    assert str(tmp_path) not in page.content()  # no server paths in messages


def test_api_client_analyzes_a_clip(studio_url, clip):
    client = Client(studio_url, verbose=False)
    video, stats, *_, downloads = client.predict(
        handle_file(str(clip)), 1, 100, "PCA", "2D", "code", api_name="/analyze"
    )
    assert video is None and downloads is None  # the map and frame views come first, then the preview
    assert "24 frames" in stats and "reconstructing" in stats
    video, stats, downloads = client.predict("PCA", "2D", "code", 0, api_name="/reconstruct")
    assert Path(video).stat().st_size > 0
    assert "reconstruction PSNR" in stats
    files = {Path(d).suffix: Path(d) for d in downloads}
    assert set(files) == {".npz", ".csv", ".html"}
    assert len(files[".csv"].read_text().splitlines()) == 25
    result = np.load(files[".npz"])
    assert result["latents"].shape[0] == 24
    assert result["codes"].shape == (23,)
    assert np.isfinite(result["psnr"]).all()

    other = write_mp4(moving_square_frames(16, 48, 64)[::-1].copy(), files[".npz"].parent / "back.mp4", fps=12)
    figure, overlay_downloads = client.predict(
        handle_file(str(other)), 1, 100, "PCA", "2D", "code", 0, api_name="/overlay"
    )
    names = [trace.get("name", "") for trace in json.loads(figure["plot"])["data"]]
    assert any(name.startswith("back.mp4") for name in names)  # the second clip joins the same map


def test_api_client_compares_codes_with_uploaded_labels(studio_url, clip, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("frame,action\n" + "".join(f"{t},{t % 3}\n" for t in range(24)))
    client = Client(studio_url, verbose=False)
    client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    codebook, usage, timeline, exemplars, *_ = client.predict(api_name="/actions")
    assert codebook and usage and timeline and exemplars
    text, confusion = client.predict(handle_file(str(labels)), "action", api_name="/ground_truth")
    assert "23 transitions" in text and "NMI" in text
    short = tmp_path / "short.csv"
    short.write_text("frame,action\n0,1\n1,2\n")
    with pytest.raises(Exception, match="no row for frame 2"):
        client.predict(handle_file(str(short)), "action", api_name="/ground_truth")


def test_api_client_gets_a_clear_error_for_a_bad_clip(studio_url, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    client = Client(studio_url, verbose=False)
    with pytest.raises(Exception, match="empty"):
        client.predict(handle_file(str(empty)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    # the app keeps serving after the refusal
    assert client.view_api(return_format="dict")["named_endpoints"]["/analyze"]


def test_without_a_bundle_the_page_says_how_to_make_one(page, tmp_path):
    empty = tmp_path / "exported"
    empty.mkdir()
    process, url = start_studio(empty, tmp_path / "studio.log")
    try:
        page.goto(url, wait_until="load")
        page.get_by_text("No world model to open yet").wait_for()
        assert "studio train" in page.content()
    finally:
        stop(process)
