"""What every tab of the studio is: a `Tab` built on the `Page` the tabs share, following the clip's events.

Adding a tab is a `Tab` subclass in a file of its own and one line in `studio.ui.app.TABS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import gradio as gr
from gradio.components import Component
from gradio.events import Dependency

from studio.ui.state import BundleShelf, ClipState

Updates = dict[Component, Any]  # what an event handler returns: the new value (or gr.update) of each component


@dataclass
class Page:
    """What every tab is built on: the bundles, the per-user state the tabs share, and the events that the tabs
    which cause them publish as they are built (the Clip tab's start of an analysis, the analysis and its
    preview, the Model tab's pick)."""

    shelf: BundleShelf
    bundle: gr.State  # the name of the picked bundle
    clip: gr.State  # the user's ClipState, None until a clip is analyzed (and again after another bundle is picked)
    started: Dependency | None = None
    analyzed: Dependency | None = None
    previewed: Dependency | None = None
    picked: Dependency | None = None


@dataclass(frozen=True)
class ClipEvents:
    """The moments a tab may update itself for the user's clip."""

    # Analyze itself: tabs whose update costs nothing follow it, before the user can start work in them that a
    # later update would wipe
    analyzed: Dependency
    # the preview step that follows Analyze: costlier updates follow it, so that on 2 cores the preview the user
    # is waiting for does not share them with work for a tab not in view
    previewed: Dependency
    # another bundle was picked: the clip state is gone, and every result made with the previous model with it
    cleared: Dependency
    # a new analysis begins: the clip state is gone too, so that no tab shows the previous clip beside the new one
    # (or beside a clip that is then refused)
    started: Dependency

    @property
    def gone(self) -> tuple[Dependency, Dependency]:
        """Both moments the clip's results stop applying: a tab showing them clears itself after each."""
        return self.cleared, self.started


class Tab(ABC):
    """One tab of the page: its components are attributes named after what they show, its handlers return
    `Updates` keyed by those components, and it declares its own endpoints."""

    title: ClassVar[str]
    id: ClassVar[str]
    css: ClassVar[str] = ""  # style rules the page needs for this tab
    head: ClassVar[str] = ""  # scripts the page's <head> needs for this tab

    def __init__(self, page: Page) -> None:
        self.page = page

    @abstractmethod
    def build(self) -> None:
        """Lay out the tab's components and declare its events and endpoints."""

    def follow(self, events: ClipEvents) -> None:  # noqa: B027 (optional hook, not abstract)
        """Hook the tab's updates onto the clip's events; a tab that shows nothing of the clip leaves this be."""

    def opened(self, select) -> None:  # noqa: B027 (optional hook, not abstract)
        """Hook work onto `select`, the event of the user opening the tab; most tabs have none."""


def unless_discarded(state: ClipState, updates: Updates) -> Updates:
    """`updates` made for a clip, or none at all if the clip was replaced while they were being made."""
    return {component: gr.skip() for component in updates} if state.discarded else updates
