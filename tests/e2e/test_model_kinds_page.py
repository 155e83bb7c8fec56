"""World models of every action kind, and one that draws no pixels, served beside each other: each loads, analyzes
a held-out Breakout clip through the API and the page, and every tab works or says why in a sentence; Play offers a
continuous model's vectors taken from the analyzed clip, on the server and in the page."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from pages import open_studio, start_analyzing
from studio.analysis import analyze_clip
from studio.clip_actions import ClipActions, clip_actions
from studio.play import ImaginedGame
from studio.runtime import WorldModel, to_uint8_frames
from studio.train.export_any import Buttons, Continuous, LatentCodes, export_world_model
from studio.video import read_clip
from studio_server import start_studio, stop, wait_for_warm_up

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "exported" / "breakout" / "examples"  # held-out Breakout episodes
WINDOW = {"width": 1280, "height": 720}
BUTTONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]
CODES = 12  # the latent-code model's codebook: more codes than the digit keys
# Untrained, the decoder draws flat grey whatever the latents, and the action model reads vectors a thousandth wide
# off every transition: no press would show. With this contrast and this spread, the frames of two vectors taken
# from the clip differ by 11 levels of 255 in the median (4 at the 10th percentile) from one start frame.
CONTRAST = 20.0
SPREAD = 100.0


class Encoder(torch.nn.Module):  # [B, 3, 64, 64] -> [B, 16, 32]
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 4, 4), torch.nn.GELU(), torch.nn.Conv2d(32, 32, 4, 4))

    def forward(self, x):
        return self.net(x).flatten(2).transpose(1, 2)


class Predictor(torch.nn.Module):  # ([B, 2, 16, 32], [B, Da]) -> [B, 16, 32]
    def __init__(self, action_dim: int):
        super().__init__()
        self.net = torch.nn.Linear(2 * 32 + action_dim, 32)

    def forward(self, context, action):
        last, motion = context[:, -1], context[:, -1] - context[:, -2]
        return last + self.net(torch.cat([last, motion, action[:, None].expand(-1, last.shape[1], -1)], dim=-1))


class Decoder(torch.nn.Module):  # [B, 16, 32] -> [B, 3, 64, 64]
    def __init__(self):
        super().__init__()
        self.net = torch.nn.ConvTranspose2d(32, 3, 16, 16)

    def forward(self, z):
        return torch.sigmoid(CONTRAST * self.net(z.transpose(1, 2).reshape(-1, 32, 4, 4)))


class ActionModel(torch.nn.Module):  # [B, L, 16, 32] -> [B, Da]
    def __init__(self, action_dim: int, spread: float = 1.0):
        super().__init__()
        self.net = torch.nn.Linear(16 * 32, action_dim)
        self.spread = spread

    def forward(self, latents):
        return self.spread * self.net((latents[:, -1] - latents[:, -2]).flatten(1))


KINDS = {  # bundle name -> (action kind, the predictor's action width, with a decoder)
    "kind-codes": ("latent_codes", 6, True),
    "kind-buttons": ("buttons", 4, True),
    "kind-continuous": ("continuous", 3, True),
    "kind-no-decoder": ("buttons", 4, False),
}


def actions_of(kind: str, width: int):
    if kind == "buttons":
        return Buttons(BUTTONS)
    if kind == "continuous":
        return Continuous(ActionModel(width, SPREAD), clusters=5)
    return LatentCodes(ActionModel(width), torch.randn(CODES, width))


@pytest.fixture(scope="module")
def kinds_exported(tmp_path_factory) -> Path:
    exported = tmp_path_factory.mktemp("kinds")
    frames = read_clip(EXAMPLES / "breakout_1.mp4", size=(64, 64)).frames  # [T, 64, 64, 3]
    labels = np.loadtxt(EXAMPLES / "breakout_1.csv", delimiter=",", skiprows=1, usecols=(1, 3), dtype=np.int64)
    for name, (kind, width, decoded) in KINDS.items():
        torch.manual_seed(0)
        export_world_model(
            exported / name,
            name=name,
            episodes=[frames],
            encoder=Encoder(),
            predictor=Predictor(width),
            context=2,
            actions=actions_of(kind, width),
            decoder=Decoder() if decoded else None,
            labels=[{"action": labels[: len(frames), 0], "paddle_x": labels[: len(frames), 1]}],
            trained_on={"source": "ALE/Breakout-v5"},
        )
    return exported


@pytest.fixture(scope="module")
def kinds_studio(kinds_exported) -> Iterator[str]:
    exported = kinds_exported
    log = exported.parent / "kinds_studio.log"
    process, url = start_studio(exported, log)
    wait_for_warm_up(process, log)
    yield url
    stop(process)


@pytest.mark.parametrize("name", list(KINDS))
def test_api_analyzes_rolls_out_plays_and_probes_each_kind(kinds_studio, name):
    client = Client(kinds_studio, verbose=False)
    client.predict(name, api_name="/select_bundle")
    client.predict(handle_file(str(EXAMPLES / "breakout_2.mp4")), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    video, summary, _, _ = client.predict(3, 8, "one code held", 2, 0, "", 0, 1, 0.5, "", api_name="/rollout")
    assert Path(video).stat().st_size > 0
    client.predict(4, api_name="/play_start")
    screen, status = client.predict(2, api_name="/step")
    assert "1 step" in status and Path(screen).stat().st_size > 0


def test_the_page_says_what_kind_of_model_it_shows(browser, kinds_studio):
    page = browser.new_context(viewport=WINDOW).new_page()
    page.set_default_timeout(180_000)
    open_studio(page, kinds_studio)
    note = page.locator("#model-kind")
    for name, sentence in (
        ("kind-buttons", "acts on the game's own buttons"),
        ("kind-continuous", "k-means clusters"),
        ("kind-no-decoder", "draws no pixels"),
    ):
        pick_bundle(page, name)
        note.get_by_text(sentence, exact=False).wait_for()
    analyze(page, EXAMPLES / "breakout_3.mp4")
    page.get_by_text("stand in for a reconstruction", exact=False).wait_for()  # no PSNR for frames it did not draw
    page.locator("#frame-reconstruction").get_by_text("Nearest real frame (no decoder)").wait_for()
    for tab in ("Actions", "Predict", "Probe", "Play"):
        page.get_by_role("tab", name=tab).click()
        assert note.is_visible()  # the note stays above every tab
        if tab == "Actions":  # the atlas's pictures are real frames, and say so
            page.locator("#atlas").get_by_text("each picture is the real frame", exact=False).wait_for()
            page.locator("#atlas-current").get_by_text("Frame t (nearest real frame)").wait_for()
            page.locator("#code-usage").get_by_text("Button usage").first.wait_for()
    page.get_by_role("button", name="RIGHT", exact=False).first.wait_for()  # Play: the game's buttons by name
    page.locator("#play-screen").get_by_text("Nearest real frame", exact=True).first.wait_for()
    assert not page.locator("#play-clip-vectors").is_visible()  # vectors from a clip are for continuous actions


def test_every_code_of_a_large_codebook_has_a_key_in_the_page(browser, kinds_studio):
    page = browser.new_context(viewport=WINDOW).new_page()
    page.set_default_timeout(180_000)
    open_studio(page, kinds_studio)
    pick_bundle(page, "kind-codes")
    page.get_by_role("tab", name="Play").click()
    for code, key in ((0, "1"), (9, "0"), (10, "Q"), (CODES - 1, "W")):  # each button's label starts with its key
        assert page.locator(f"#play-code-{code}").inner_text().startswith(f"{key} · ")
    page.locator("#play-start").click()
    page.locator("#play-status").get_by_text("Started from", exact=False).locator("visible=true").first.wait_for()
    page.locator("body").press("w")  # code 11
    page.locator("#play-status").get_by_text("1 step played", exact=False).wait_for()
    page.locator("body").press("Q")  # code 10, with Shift held
    page.locator("#play-status").get_by_text("2 steps played", exact=False).wait_for()
    page.context.close()


def test_api_plays_a_continuous_model_with_vectors_taken_from_the_clip(kinds_studio, kinds_exported):
    clip = EXAMPLES / "breakout_2.mp4"
    model = WorldModel.load(kinds_exported / "kind-continuous", device="cpu")
    game, offered = expected_game(model, clip, 4, stride=1, max_frames=100)  # as the studio plays it
    client = Client(kinds_studio, verbose=False)
    client.predict("kind-continuous", api_name="/select_bundle")
    client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", api_name="/analyze")
    started = " ".join(str(value) for value in client.predict(4, api_name="/play_start"))  # buttons are not sent
    assert f"Vectors taken from {clip.name}" in started and f"'maximum': {offered.transitions - 1}" in started
    for t in (offered.representatives[-1][1], offered.transitions - 1):  # a representative, then any transition
        before = game.frame
        want = game.step(model, offered.press(t))
        screen, status = client.predict(t, api_name="/step_from_clip")
        assert close(np.asarray(Image.open(screen).convert("RGB")), want)
        assert f"{t}→{t + 1}" in status and not close(want, before)  # the step changed the frame
    screen, status = client.predict(2, api_name="/step")  # and the clusters' centres beside them
    want = game.step(model, 2)
    assert "3 steps played" in status and close(np.asarray(Image.open(screen).convert("RGB")), want)
    with pytest.raises(Exception, match=f"transitions leave frames 0 to {offered.transitions - 1}"):
        client.predict(offered.transitions, api_name="/step_from_clip")


def test_the_page_plays_a_continuous_model_with_vectors_taken_from_the_clip(browser, kinds_studio, kinds_exported):
    model = WorldModel.load(kinds_exported / "kind-continuous", device="cpu")
    page = browser.new_context(viewport=WINDOW).new_page()
    page.set_default_timeout(180_000)
    open_studio(page, kinds_studio)
    pick_bundle(page, "kind-continuous")
    page.get_by_role("tab", name="Play").click()
    clip_note = page.locator("#play-clip-note")
    clip_note.get_by_text("appear here once a clip is analyzed", exact=False).wait_for()
    assert not page.locator("#play-clip-vector-0").is_visible()

    clip = EXAMPLES / "breakout_2.mp4"
    analyze(page, clip)
    game, offered = expected_game(model, clip, 0)  # read as the page reads it: the model's rate, the default cap
    page.get_by_role("tab", name="Play").click()
    clip_note.get_by_text(f"Vectors taken from {clip.name}", exact=False).wait_for()
    assert offered_on(page) == labels_of(offered)
    page.locator("#play-start").click()
    status = page.locator("#play-status")
    status.get_by_text("in this browser", exact=False).first.wait_for()
    page.locator("#play-canvas").wait_for()
    page.wait_for_function("document.getElementById('play-canvas').dataset.step === '0'")
    assert close(canvas(page), game.frame)

    # in the page: a representative, then any transition chosen by its frame
    j, (cluster, t) = len(offered.representatives) - 1, offered.representatives[-1]
    centre = to_uint8_frames(model.decode(model.predict(game.contexts[-1][None], model.codebook[cluster][None])))[0]
    before, want = game.frame, game.step(model, offered.press(t))
    assert not close(want, centre)  # the clip's vector moves the frame elsewhere than its cluster's centre does
    page.locator(f"#play-clip-vector-{j}").click()
    status.get_by_text("1 step played in this browser", exact=False).wait_for()
    assert f"{t}→{t + 1}" in status.inner_text()
    assert close(canvas(page), want) and not close(canvas(page), before)
    t = offered.transitions - 1
    page.locator("#play-clip-transition input[type='number']").fill(str(t))
    page.locator("#play-clip-vector-picked").click()
    status.get_by_text("2 steps played in this browser", exact=False).wait_for()
    want = game.step(model, offered.press(t))
    assert f"{t}→{t + 1}" in status.inner_text() and close(canvas(page), want)

    # on the server, the game carries on with the same clip's vectors
    page.locator("#play-where").get_by_label("On the server").check()
    status.get_by_text("2 steps played on the server", exact=False).wait_for()
    t = offered.representatives[0][1]
    page.locator("#play-clip-vector-0").click()
    status.get_by_text("3 steps played on the server", exact=False).wait_for()
    want = game.step(model, offered.press(t))
    assert f"{t}→{t + 1}" in status.inner_text() and close(server_screen(page), want)

    # a new clip replaces the clip's vectors: nothing of the first stays offered
    newer_clip = EXAMPLES / "breakout_3.mp4"
    analyze(page, newer_clip)
    _, newer = expected_game(model, newer_clip, 0)
    page.get_by_role("tab", name="Play").click()
    clip_note.get_by_text(f"Vectors taken from {newer_clip.name}", exact=False).wait_for()
    assert offered_on(page) == labels_of(newer) != labels_of(offered)
    page.screenshot(path=str(kinds_exported.parent / "continuous_play.png"))


def pick_bundle(page, name: str) -> None:
    page.get_by_role("tab", name="Model").click()
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=name, exact=True).click()


def analyze(page, clip: Path) -> None:
    start_analyzing(page, clip)
    page.locator("#trajectory").get_by_text(clip.name).first.wait_for()  # its map, named in the legend


def expected_game(model: WorldModel, clip: Path, start: int, **reading) -> tuple[ImaginedGame, ClipActions]:
    """The game the studio should play from frame `start` of `clip`, with the vectors it should offer."""
    analysis = analyze_clip(model, clip, **reading)
    offered = clip_actions(model, analysis.actions, clip.name)
    return ImaginedGame.start(model, analysis.latents, start, offered), offered


def labels_of(offered: ClipActions) -> list[str]:
    return [f"frame {t} → {t + 1} (cluster {k})" for k, t in offered.representatives]


def offered_on(page) -> list[str]:
    """The labels of the clip's vectors the Play tab shows."""
    buttons = page.locator("[id^='play-clip-vector-']:not(#play-clip-vector-picked)")
    return [button.inner_text().strip() for button in buttons.all() if button.is_visible()]


def canvas(page) -> np.ndarray:
    """The frame the page drew [H, W, 3] uint8."""
    rgba = page.evaluate(
        "() => { const c = document.getElementById('play-canvas');"
        " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }"
    )
    return np.asarray(rgba, np.uint8).reshape(64, 64, 4)[..., :3]


def server_screen(page) -> np.ndarray:
    """The frame the server sent [H, W, 3] uint8."""
    src = page.locator("#play-screen img").get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def close(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal but for float rounding: a pixel may differ by one level of 255 (tests/e2e/test_page_model.py)."""
    return bool(np.abs(got.astype(np.int16) - want.astype(np.int16)).max() <= 1)
