"""Shared fixtures: a tiny world model exported as a real ONNX bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

import tiny_world_model


@pytest.fixture(scope="session")
def tiny_model():
    return tiny_world_model.build_model(seed=0)


@pytest.fixture(scope="session")
def tiny_modules(tiny_model) -> dict:
    """The torch module behind each graph of the tiny bundle, by role."""
    return tiny_model.graphs()


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_model) -> Path:
    """A bundle exported from the tiny model; tests must not modify it (copy it first)."""
    return tiny_world_model.export_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny", tiny_model)
