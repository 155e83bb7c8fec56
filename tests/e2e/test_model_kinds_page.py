"""World models of every action kind, and one that draws no pixels, served beside each other: each loads, analyzes
a held-out Breakout clip through the API and the page, and every tab works or says why in a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file

from file_input import choose_file
from pages import open_studio
from studio.train.export_any import Buttons, Continuous, LatentCodes, export_world_model
from studio.video import read_clip
from studio_server import start_studio, stop, wait_for_warm_up

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "exported" / "breakout" / "examples"  # held-out Breakout episodes
WINDOW = {"width": 1280, "height": 720}
BUTTONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


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
        return torch.sigmoid(self.net(z.transpose(1, 2).reshape(-1, 32, 4, 4)))


class ActionModel(torch.nn.Module):  # [B, L, 16, 32] -> [B, Da]
    def __init__(self, action_dim: int):
        super().__init__()
        self.net = torch.nn.Linear(16 * 32, action_dim)

    def forward(self, latents):
        return self.net((latents[:, -1] - latents[:, -2]).flatten(1))


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
        return Continuous(ActionModel(width), clusters=5)
    return LatentCodes(ActionModel(width), torch.randn(5, width))


@pytest.fixture(scope="module")
def kinds_studio(tmp_path_factory) -> Iterator[str]:
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
    log = exported.parent / "kinds_studio.log"
    process, url = start_studio(exported, log)
    wait_for_warm_up(log)
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
        page.get_by_role("tab", name="Model").click()
        page.locator("#model-picker input").click()
        page.get_by_role("option", name=name, exact=True).click()
        note.get_by_text(sentence, exact=False).wait_for()
    page.get_by_role("tab", name="Clip").click()
    choose_file(page, "clip-upload", EXAMPLES / "breakout_3.mp4")
    page.get_by_role("button", name="Analyze").click()
    page.locator("#trajectory .js-plotly-plot").wait_for()
    page.get_by_text("stand in for a reconstruction", exact=False).wait_for()  # no PSNR for frames it did not draw
    for tab in ("Actions", "Predict", "Probe", "Play"):
        page.get_by_role("tab", name=tab).click()
        assert note.is_visible()  # the note stays above every tab
    page.get_by_role("button", name="RIGHT", exact=False).first.wait_for()  # Play: the game's buttons by name
