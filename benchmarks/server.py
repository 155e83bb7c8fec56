"""Start and stop a real studio process on a free local port, as a Space would run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# Launch to page served: 3.04 s alone (benchmarks/RESULTS.md, cold start); over 90 s at a load average of 15 on
# 2 cores with one of them kept busy (issue 26's busy-core runs)
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_studio(exported: Path, log: Path, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`studio serve` on the bundles of `exported`."""
    return start_app([sys.executable, "-m", "studio.cli", "serve", "--exported", str(exported)], log, env)


def start_app(
    command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """Run `command` with Gradio's own host/port variables, as a Space sets them; wait until the page is served."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(env or {}),
    }
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the studio exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the studio did not serve {url} within {START_TIMEOUT_S}s:\n{log.read_text()}")


def process_cpu_s(pid: int) -> float:
    """CPU time a process has used so far, user and system, over all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def process_memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


# A studio serving a bundle without examples compiles UMAP with numba as it warms up: with a cold numba cache
# that took over 300 s at a load average of 14 on 2 cores (issue 26's busy-core runs); three times that.
WARM_UP_TIMEOUT_S = 900


def wait_for_warm_up(log: Path, timeout_s: float = WARM_UP_TIMEOUT_S) -> None:
    """Wait until a started studio says its background warm-up (numba compiling UMAP, the bundles' maps)
    has finished: until then the first requests share the interpreter with the compiler."""
    from studio.ui.state import WARM_UP_DONE

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if WARM_UP_DONE in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the studio did not finish warming up within {timeout_s:.0f} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


class RawClient:
    """Calls named endpoints over Gradio's plain HTTP + server-sent-events API (`/gradio_api/call/...`), as
    the page's own client does, without gradio_client's polling; shares a session with a gradio_client
    Client when given its session hash (so per-session state, such as a game, carries over)."""

    def __init__(self, url: str, session_hash: str):
        import httpx

        self.base = url.rstrip("/") + "/gradio_api"
        self.session_hash = session_hash
        self.http = httpx.Client(timeout=60)

    def call(self, api_name: str, *data) -> list:
        for event, payload in self._events(api_name, data):
            if event == "error":
                raise RuntimeError(f"{api_name} failed: {payload}")
            if event == "complete":
                return payload
        raise RuntimeError(f"{api_name}: the stream ended without a result")

    def _events(self, api_name: str, data: tuple) -> Iterator[tuple[str, object]]:
        """Post a call, then yield (event, its data) as the server streams them."""
        posted = self.http.post(
            f"{self.base}/call/{api_name}", json={"data": list(data), "session_hash": self.session_hash}
        )
        posted.raise_for_status()
        event_id = posted.json()["event_id"]
        event = None
        with self.http.stream("GET", f"{self.base}/call/{api_name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    yield event, json.loads(line[5:]) if line[5:].strip() not in ("", "null") else None

    def close(self) -> None:
        self.http.close()
