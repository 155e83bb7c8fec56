"""A shared studio under strangers' input and load: confined files, separate sessions, bounded memory."""

from __future__ import annotations

import concurrent.futures
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from benchmarks.server import RawClient, process_memory_mb
from clips import moving_square_frames
from file_input import choose_file
from pages import SIGNAL_TIMEOUT_MS, open_studio
from studio.video import write_mp4
from studio_server import start_studio, stop, wait_for_warm_up

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_bundle):
    """A studio of its own, with its temporary files in folders the tests can count."""
    work = tmp_path_factory.mktemp("hardening")
    exported = work / "exported"
    shutil.copytree(tiny_bundle, exported / "tiny")
    shutil.copytree(tiny_bundle, exported / "tampered")
    (exported / "tampered" / "decoder.onnx").write_bytes(b"not the graph the manifest hashed")
    tmp, gradio_tmp = work / "tmp", work / "gradio"
    tmp.mkdir()
    env = {
        "TMPDIR": str(tmp),
        "GRADIO_TEMP_DIR": str(gradio_tmp),
        "STUDIO_CACHE_DIR": str(work / "cache"),
        "STUDIO_MAX_UPLOAD_MB": "2",
    }
    process, url = start_studio(exported, work / "studio.log", env=env)
    wait_for_warm_up(work / "studio.log")
    yield url, process, tmp
    stop(process)


def clip_of(frames: int, folder: Path, name: str) -> Path:
    return write_mp4(moving_square_frames(frames, 48, 64), folder / name, fps=12)


@pytest.mark.parametrize("path", ["/etc/passwd", str(ROOT / "pyproject.toml"), "../../../../etc/passwd"])
def test_files_outside_the_app_are_not_served(studio, path):
    url, _, _ = studio
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=SIGNAL_TIMEOUT_MS / 1000)
    assert refused.value.code in (403, 404)


def test_an_upload_over_the_size_limit_is_refused_with_a_message(studio, tmp_path):
    url, process, _ = studio
    big = tmp_path / "huge.mp4"
    big.write_bytes(b"\0" * 3 * 2**20)
    # the client reads the limit off the server and refuses to send the file
    with pytest.raises(Exception, match="exceeds the maximum file size of 2097152 bytes"):
        Client(url, verbose=False).predict(handle_file(str(big)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    # and the server refuses a client that sends it anyway, before the file lands
    upload = {"files": ("huge.mp4", big.read_bytes())}
    sent = httpx.post(f"{url}gradio_api/upload", files=upload, timeout=SIGNAL_TIMEOUT_MS / 1000)
    assert sent.status_code == 413 and "exceeded maximum allowed size of 2097152 bytes" in sent.text
    assert process.poll() is None


def test_a_bundle_that_fails_to_load_is_reported_and_the_others_serve(studio, page, tmp_path):
    url, _, _ = studio
    open_studio(page, url)
    page.get_by_role("tab", name="Model").click()
    page.get_by_text("Bundles that could not be loaded").wait_for()
    assert "tampered" in page.content() and "decoder.onnx" in page.content()
    client = Client(url, verbose=False)
    _, stats, *_ = client.predict(
        handle_file(str(clip_of(12, tmp_path, "ok.mp4"))), 1, 100, "PCA", "2D", "time", api_name="/analyze"
    )
    assert "12 frames" in stats and str(tmp_path) not in stats


def test_two_browser_sessions_never_see_each_others_results(studio, browser, tmp_path):
    url, _, _ = studio
    pages = []
    for frames, name in ((14, "first.mp4"), (22, "second.mp4")):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(SIGNAL_TIMEOUT_MS)
        open_studio(page, url)
        choose_file(page, "clip-upload", clip_of(frames, tmp_path, name))
        pages.append(page)
    for page in pages:
        page.get_by_role("button", name="Analyze").click()
    for page, frames, other in ((pages[0], 14, "second"), (pages[1], 22, "first")):
        page.locator("#clip-stats").get_by_text(f"{frames} frames", exact=False).wait_for()
        downloads = page.locator("a[download]").all_inner_texts() + [page.content()]
        assert not any(f"{other}_analysis" in text for text in downloads)
    for page in pages:
        page.context.close()


def test_twenty_users_analyze_at_once_and_five_play_at_once(studio, tmp_path):
    url, process, _ = studio
    # twenty different clips: Gradio caches files by content, and identical files uploaded or served at the
    # same moment share one cache path (see the note on the hardening issue)
    clips = [clip_of(10 + i, tmp_path, f"user{i}.mp4") for i in range(20)]

    def analyze(path: Path) -> str:
        _, stats, *_ = Client(url, verbose=False).predict(
            handle_file(str(path)), 1, 100, "PCA", "2D", "time", api_name="/analyze"
        )
        return stats

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(analyze, clips))
    # two run at once and the queue holds 32 more: every one of the twenty is analyzed, none is turned away
    assert [f"**{10 + i} frames** analyzed" in answer for i, answer in enumerate(answers)] == [True] * 20

    def play(index: int) -> str:
        client = Client(url, verbose=False)
        client.predict(handle_file(str(clips[index])), 1, 100, "PCA", "2D", "time", api_name="/analyze")
        client.predict(0, api_name="/play_start")
        raw = RawClient(url, client.session_hash)
        for step in range(200):
            status = raw.call("step", step % 4)[-1]
        raw.close()
        return status

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(play, range(5)))
    assert all("200 steps played" in s for s in statuses)
    assert process.poll() is None


def test_soak_memory_stays_flat_and_temporary_files_are_cleaned(studio, tmp_path):
    url, process, tmp = studio
    folders_before = set(tmp.glob("studio-clip-*"))
    client = Client(url, verbose=False)
    clip = clip_of(16, tmp_path, "soak.mp4")
    client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    client.predict(0, api_name="/play_start")
    raw = RawClient(url, client.session_hash)
    for step in range(100):  # warm: caches and pools reach their working size
        raw.call("step", step % 4)
    before = process_memory_mb(process.pid)
    for step in range(2000):
        raw.call("step", step % 4)
    for _ in range(50):
        client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    after = process_memory_mb(process.pid)
    raw.close()
    assert after - before < 50, f"RSS grew {after - before:.0f} MB over 2,000 steps and 50 analyses"
    left = set(tmp.glob("studio-clip-*")) - folders_before
    assert len(left) == 1, f"51 analyses in one session left {len(left)} folders; only the latest should stay"
