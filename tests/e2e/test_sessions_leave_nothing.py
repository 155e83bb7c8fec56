"""200 sessions opened and closed through gradio_client leave nothing behind: the studio is built and served in this
process, so that once the sessions are closed every object in it can be searched for their traces."""

from __future__ import annotations

import gc
import shutil
import time

import pytest
from gradio_client import Client, handle_file

from clips import moving_square_frames
from studio.ui.app import build_studio
from studio.ui.state import BundleShelf, ClipState
from studio.video import write_mp4
from studio_server import free_port

pytestmark = pytest.mark.slow
SESSIONS = 200
ANALYZE_EVERY = 20  # sessions: one in this many analyzes a clip, whose state owns a folder of files
GONE_TIMEOUT_S = 120


@pytest.fixture
def studio(tmp_path, tiny_bundle, monkeypatch):
    # Gradio keeps a closed session's state for an hour, in case the tab reopens; its own test switch shortens
    # that to a second (read as each session begins), so that what the delete callbacks leave can be seen now
    monkeypatch.setenv("GRADIO_IS_E2E_TEST", "1")
    exported = tmp_path / "exported"
    shutil.copytree(tiny_bundle, exported / "tiny")
    shelf = BundleShelf((exported,), device="cpu").load_all()
    app = build_studio(shelf)
    app.queue(default_concurrency_limit=2, max_size=32)
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield app
    app.close()


def session_traces(hashes: set[str], besides: set[int]) -> list[str]:
    """Every dict whose keys or values, and every set, list or tuple whose items, include one of `hashes`, anywhere
    in this process, but for the objects of ids `besides`; and what each is."""
    gc.collect()
    found = []
    for held in gc.get_objects():
        if id(held) in besides:
            continue
        if isinstance(held, dict):
            items = [*held.keys(), *held.values()]
        elif isinstance(held, (set, frozenset, list, tuple)):
            items = held
        else:
            continue
        hits = [item for item in items if isinstance(item, str) and item in hashes]
        if hits:
            found.append(f"{type(held).__name__} of {len(held)} holding {hits[0]}: {str(held)[:300]}")
    return found


def kept(session) -> dict:
    """What a session's states hold beyond the initial values their components were built with, by id."""
    blocks = session.blocks_config.blocks
    return {key: value for key, value in session.state_data.items() if value != blocks[key].value}


def test_two_hundred_sessions_leave_no_state_behind(studio, tmp_path):
    clip = write_mp4(moving_square_frames(12, 48, 64), tmp_path / "square.mp4", fps=12)
    client = Client(studio.local_url, verbose=False)
    hashes, folders = [], []  # the sessions, and the folders of the clips they analyzed
    try:
        for session in range(SESSIONS):
            hashes.append(client.session_hash)
            if session % ANALYZE_EVERY == 0:  # a clip, its files and its game
                client.predict(handle_file(str(clip)), 1, 100, "PCA", "2D", "time", "auto", api_name="/analyze")
                client.predict(3, api_name="/play_start")
                client.predict(1, api_name="/step")
                client.predict(True, api_name="/run_step")  # a turn of Run mode
                held = studio.state_holder.session_data[client.session_hash].state_data.values()
                folders += [state.out_dir for state in held if isinstance(state, ClipState)]
            with pytest.raises(Exception, match="upload a clip"):  # a refusal, left for the page to show
                client.predict(None, 1, 100, "PCA", "2D", "time", "auto", api_name="/analyze")
            client.reset_session()  # the previous session's page closes (its heartbeat ends), the next one opens
        # one request of an untraced session: the queue's worker holds on to the last event it handled until the next
        with pytest.raises(Exception, match="upload a clip"):
            client.predict(None, 1, 100, "PCA", "2D", "time", "auto", api_name="/analyze")
    finally:
        client.close()
    traced = set(hashes)
    sessions = studio.state_holder.session_data
    assert traced <= set(sessions)  # every session was seen
    deadline = time.monotonic() + GONE_TIMEOUT_S
    queue = studio._queue
    messages, pending = queue.pending_messages_per_session, queue.pending_event_ids_session
    while time.monotonic() < deadline and any(kept(sessions[h]) or pending.get(h) for h in traced):
        time.sleep(0.5)
    # every state a handler set is deleted, each through its delete callback; what Gradio still holds for a closed
    # session are the copies of a state's initial value it made when a handler read one, which hold nothing
    assert {h: kept(sessions[h]) for h in traced if kept(sessions[h])} == {}
    assert len(folders) == SESSIONS // ANALYZE_EVERY and not any(folder.exists() for folder in folders)
    gc.collect()  # garbage is not held: a clip's state left in a reference cycle waits for the collector
    assert not any(isinstance(held, ClipState) for held in gc.get_objects())
    # nothing else in the process knows the sessions: no tab, no cache, no client. Gradio's own tables aside: its
    # table of sessions (emptied above: recycled beyond 10,000 sessions), and its queue's table of each session's
    # undelivered messages (recycled beyond 2,000) and of its pending events (none left)
    assert {h: pending[h] for h in traced if pending.get(h)} == {}
    del client
    gradio_tables = [sessions, studio.state_holder.time_last_used, messages, pending]
    assert session_traces(traced, besides={id(hashes), id(traced), *map(id, gradio_tables)}) == []
