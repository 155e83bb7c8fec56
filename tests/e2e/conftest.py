"""Fixtures of the browser and API tests: a studio serving the tiny bundle, and headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from pages import SIGNAL_TIMEOUT_MS
from studio_server import CHROMIUM, CHROMIUM_ARGS, start_studio, stop, wait_for_warm_up


@pytest.fixture(scope="session")
def studio_url(tmp_path_factory, tiny_bundle) -> Iterator[str]:
    exported = tmp_path_factory.mktemp("exported")
    shutil.copytree(tiny_bundle, exported / "tiny")
    process, url = start_studio(exported, exported.parent / "studio.log")
    wait_for_warm_up(exported.parent / "studio.log")  # the tests are about the studio, not its first minute
    yield url
    stop(process)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(SIGNAL_TIMEOUT_MS)
    yield page
    context.close()
