"""The recipes `model.family` chooses between, one module each.

A recipe module holds `RECIPE`, a `studio.train.stage.Recipe`: the stages it trains, in order. A new family
is a new module in this folder and its line in `RECIPES`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.train.stage import Recipe

RECIPES = {  # model.family -> the module of its recipe (imported when used: the stages import the config)
    "reconstruction": "studio.train.recipes.reconstruction",
    "jepa": "studio.train.recipes.jepa",
}


def find_recipe(family: str) -> Recipe:
    return import_module(RECIPES[family]).RECIPE
