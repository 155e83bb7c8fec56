"""Shared fixtures: a tiny world model exported as a real ONNX bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

import tiny_world_model


@pytest.fixture(scope="session")
def tiny_modules():
    return tiny_world_model.build_modules(seed=0)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_modules) -> Path:
    """A bundle exported from small torch modules; tests must not modify it (copy it first)."""
    return tiny_world_model.export_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny", tiny_modules)
