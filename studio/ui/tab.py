"""What every tab of the studio is: a `Tab` built on the `Page` the tabs share, wired to the others through the
`PageEvents` given to its `build`.

Adding a tab is a `Tab` subclass in a file of its own and one line in `studio.ui.app.TABS`, whether it publishes
moments, follows them, or neither.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import gradio as gr
from gradio.components import Component
from gradio.events import Dependency

from studio.ui.state import BundleShelf, ClipState

Updates = dict[Component, Any]  # what an event handler returns: the new value (or gr.update) of each component


@dataclass(frozen=True)
class Page:
    """What every tab is built on: the bundles, and the per-user state the tabs share."""

    shelf: BundleShelf
    bundle: gr.State  # the name of the picked bundle
    clip: gr.State  # the user's ClipState, None until a clip is analyzed (and again after another bundle is picked)


class Moment(Enum):
    """The moments of the page that more than one tab cares about, each caused by one tab."""

    # Analyze pressed: the previous clip's state is gone, so that no tab shows it beside the new clip (or beside
    # a clip that is then refused)
    STARTED = "started"
    # Analyze itself: tabs whose update costs nothing follow it, before the user can start work in them that a
    # later update would wipe
    ANALYZED = "analyzed"
    # the preview step that follows Analyze: costlier updates follow it, so that on 2 cores the preview the user
    # is waiting for does not share them with work for a tab not in view
    PREVIEWED = "previewed"
    # another bundle was picked: the clip state is gone, and every result made with the previous model with it
    CLEARED = "cleared"
    # a tab asked for another bundle, whose name it put in the page's bundle state (the Clip tab's offer to analyze
    # an example with the bundle that ships it): the bundle picker picks it, which is a pick like any other
    BUNDLE_ASKED = "bundle asked"


GONE = (Moment.CLEARED, Moment.STARTED)  # the moments a clip's results stop applying: a tab showing them clears itself
Hook = Callable[[Dependency], object]  # attaches a tab's update to an event, e.g. `lambda event: event.then(...)`


class PageEvents:
    """The page's shared events, wired in the open: made before the tabs and given to each tab's `build`. The tab
    that causes a moment publishes its Gradio event; a tab that updates itself at a moment follows it; `connect`
    attaches every follower once all the tabs are built, whichever tab comes first on the page."""

    def __init__(self) -> None:
        self.published: dict[Moment, Dependency] = {}
        self.followers: list[tuple[Moment, Hook]] = []

    def publish(self, moment: Moment, event: Dependency) -> None:
        if moment in self.published:
            raise ValueError(f"two tabs publish the moment '{moment.value}'")
        self.published[moment] = event

    def follow(self, moment: Moment, hook: Hook) -> None:
        self.followers.append((moment, hook))

    def follow_gone(self, hook: Hook) -> None:
        """Follow both moments the clip's results stop applying."""
        for moment in GONE:
            self.follow(moment, hook)

    def connect(self) -> None:
        unpublished = sorted({moment.value for moment, _ in self.followers} - {m.value for m in self.published})
        if unpublished:
            raise ValueError(f"tabs follow moments that no tab publishes: {', '.join(unpublished)}")
        for moment, hook in self.followers:
            hook(self.published[moment])


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
    def build(self, events: PageEvents) -> None:
        """Lay out the tab's components and declare its events and endpoints; publish the moments the tab causes
        and follow those it updates itself at."""

    def opened(self, select) -> None:  # noqa: B027 (optional hook, not abstract)
        """Hook work onto `select`, the event of the user opening the tab; most tabs have none."""


def unless_discarded(state: ClipState, updates: Updates) -> Updates:
    """`updates` made for a clip, or none at all if the clip was replaced while they were being made."""
    return {component: gr.skip() for component in updates} if state.discarded else updates
