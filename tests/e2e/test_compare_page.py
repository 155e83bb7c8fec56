"""The Compare tab at 1280×720 and `/compare` through gradio_client, on the shipped bundle beside the tiny one: two
bundles of different games on one clip, what each vouches for, and refusals that leave nothing behind."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from pages import SIGNAL_TIMEOUT_MS, open_studio
from studio_server import start_studio, stop, wait_for_warm_up

pytestmark = pytest.mark.slow
SHIPPED = Path(__file__).resolve().parents[2] / "exported" / "breakout"
WINDOW = {"width": 1280, "height": 720}
EXAMPLE = "breakout/breakout_1.mp4"


@pytest.fixture(scope="module")
def two_games(tmp_path_factory, tiny_bundle) -> Iterator[str]:
    """The shipped Breakout bundle and the tiny one, which has no reference to judge a clip with."""
    exported = tmp_path_factory.mktemp("two_games")
    shutil.copytree(SHIPPED, exported / "breakout")
    shutil.copytree(tiny_bundle, exported / "tiny")
    log = exported.parent / "compare_studio.log"
    process, url = start_studio(exported, log)
    wait_for_warm_up(log)
    yield url
    stop(process)


def test_a_person_compares_two_bundles_on_one_clip(browser, two_games):
    page = browser.new_context(viewport=WINDOW).new_page()
    page.set_default_timeout(SIGNAL_TIMEOUT_MS)
    open_studio(page, two_games)
    page.get_by_role("tab", name="Compare").click()
    status = page.locator("#compare-status")
    assert "Pick a bundle and a clip" in status.inner_text()  # what to do first

    page.locator("#compare-run").click()  # by default: the shipped bundle and the other one, on its first example
    status.get_by_text("Compared two bundles on one clip", exact=False).wait_for()
    # what the studio cannot vouch for is said on screen, in the first window
    banner = page.locator("#compare-banner")
    assert "B (tiny)" in banner.inner_text() and "cannot vouch" in banner.inner_text()
    assert banner.bounding_box()["y"] + banner.bounding_box()["height"] <= WINDOW["height"]
    summary = page.locator("#compare-summary").inner_text()
    for figure in ("Familiarity", "Reconstruction PSNR", "Effective rank", "Code consistency", "held-out episodes"):
        assert figure in summary
    for side in ("a", "b"):
        page.locator(f"#compare-map-{side} .scatterlayer .trace .points path.point").first.wait_for()
    page.locator("#compare-rollouts img").wait_for()
    assert "ram_72" in page.locator("#compare-probes").inner_text()  # the paddle's x, probed on both sides
    assert "comparison_probes\n.csv" in page.locator("#compare-downloads").inner_text()  # stem and extension

    # the same bundle twice on one clip is refused in words, and nothing of the previous comparison stays
    page.locator("#compare-bundle-b input").click()
    page.get_by_role("option", name="breakout", exact=True).click()
    page.locator("#compare-run").click()
    status.get_by_text("Not compared", exact=False).wait_for()
    assert "nothing to compare" in status.inner_text()
    assert page.locator("#compare-summary").inner_text().strip() == ""
    assert page.locator("#compare-banner").inner_text().strip() == ""
    assert page.locator("#compare-map-a .scatterlayer").count() == 0


def test_api_compares_and_refuses_with_messages(two_games, tmp_path):
    client = Client(two_games, verbose=False)
    status, banner, summary, map_a, map_b, usage, rollouts, probe_text, probes, downloads = client.predict(
        "breakout", EXAMPLE, "tiny", "same as A", 40, 3, None, None, None, None, api_name="/compare"
    )
    assert "**A** = breakout on breakout_1.mp4" in status and "cannot vouch" in banner
    assert "Effective rank" in summary and Path(rollouts).is_file()
    assert probes["headers"][-1] == "B − A" and any(row[0] == "ram_72" for row in probes["data"])
    assert {Path(path).name for path in downloads} >= {"comparison_probes.csv", "comparison_summary.json"}

    short = tmp_path / "short_labels.csv"  # labels of a 20-frame clip for a 150-frame one
    short.write_text("frame,score\n" + "".join(f"{t},{t % 3}\n" for t in range(20)))
    refusals = [
        (("breakout", EXAMPLE, "breakout", "same as A", 0, 3, None, None, None, None), "nothing to compare"),
        (("breakout", "upload", "tiny", "same as A", 0, 3, None, None, None, None), "drop a clip in 'A: clip'"),
        (("breakout", "clip tab", "tiny", "same as A", 0, 3, None, None, None, None), "no clip is analyzed there"),
        (("breakout", EXAMPLE, "tiny", "same as A", 0, 3, None, handle_file(short), None, None), "no row for frame"),
    ]
    for arguments, message in refusals:
        with pytest.raises(Exception, match=message):
            client.predict(*arguments, api_name="/compare")
