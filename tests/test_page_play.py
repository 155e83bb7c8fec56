"""What the server hands a page that plays by itself, and a game the page hands back: the round trip keeps the
context, the step count and where the game left familiar ground; a malformed game gets a message."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from studio.play import ImaginedGame
from studio.runtime import WorldModel
from studio.ui.page_play import HandoverError, PageFiles, game_from_page, page_start


@pytest.fixture(scope="module")
def model(tiny_bundle) -> WorldModel:
    return WorldModel.load(tiny_bundle, device="cpu")


@pytest.fixture
def game(model) -> ImaginedGame:
    latents = model.encode(np.random.default_rng(0).integers(0, 255, (6, *model.frame_size, 3), dtype=np.uint8))
    game = ImaginedGame.start(model, latents, 5)
    for code in (1, 0, 1):
        game.step(model, code)
    return game


def test_a_game_goes_to_the_page_and_back_unchanged(model, game):
    start = page_start(PageFiles(), model, game, "frame 5")
    assert start["context"]["shape"] == list(game.contexts[-1].shape)
    assert start["codebook"]["shape"] == list(model.codebook.shape)
    assert start["steps"] == 3 and start["graphs"]["predictor"]["sha256"] == model.manifest.graphs["predictor"].sha256
    back = game_from_page(model, {"context": start["context"], "steps": 7, "left_familiar_at": 4})
    np.testing.assert_array_equal(back.contexts[-1], game.contexts[-1])
    assert back.steps == 7 and back.left_familiar_at == 4
    np.testing.assert_array_equal(back.frame, game.frame)  # the same context decodes to the same frame
    back.step(model, 1)
    assert back.steps == 8


def test_a_malformed_game_from_the_page_is_refused_with_a_message(model, game):
    context = game.contexts[-1]
    good = {"shape": list(context.shape), "data": base64.b64encode(context.astype("<f4").tobytes()).decode()}
    nan = context.copy()
    nan[0, 0, 0] = np.nan
    cases = {
        "no game": None,
        "is not base64": {"context": {**good, "data": "not base64!"}},
        "should be": {"context": {**good, "shape": [1, *context.shape[1:]]}},
        "not finite": {"context": {**good, "data": base64.b64encode(nan.astype("<f4").tobytes()).decode()}},
    }
    for message, handover in cases.items():
        with pytest.raises(HandoverError, match=message):
            game_from_page(model, handover)
