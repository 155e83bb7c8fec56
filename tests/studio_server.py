"""Start and stop a real studio process on a free local port; the Chromium flags the browser tests use."""

from __future__ import annotations

from benchmarks.server import START_TIMEOUT_S, free_port, start_app, start_studio, stop, wait_for_warm_up

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "START_TIMEOUT_S",
    "free_port",
    "start_app",
    "start_studio",
    "stop",
    "wait_for_warm_up",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
