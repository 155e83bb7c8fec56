"""Play in the visitor's browser, measured: Run mode's pace in headless Chromium, the studio server's CPU while
players run in their pages (and, for comparison, while one runs on the server), what judging familiarity
costs in the page against sending the latents back to the server, and a step in the page against the same step
in onnxruntime on one thread, timed in alternating blocks.

    python -m benchmarks.play_in_browser [--bundle breakout] [--hold 60] [--players 5] [--seconds 20]

prints a Markdown section for benchmarks/RESULTS.md. The figures depend on what else the machine runs: the load
average before and after is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.page_model import PAGE_STEP_TIMES_JS, PAGE_WITHIN_JS, PageFilesServer, server_steps
from benchmarks.server import process_cpu_s, start_studio, stop, wait_for_warm_up
from studio.analysis import analyze_clip
from studio.examples import example_clips
from studio.familiarity import nearest_distances
from studio.play import ImaginedGame
from studio.reference import reference_of
from studio.runtime import WorldModel

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
EXPORTED = Path(__file__).resolve().parents[1] / "exported"
# the steps played: the step the page's canvas shows while the page plays, else the count on the server's status line
STEPS_PLAYED = (
    "(document.querySelector('#play-page-status:not([hidden])') ? "
    "parseInt(document.querySelector('#play-canvas').dataset.step) : "
    "parseInt(document.querySelector('#play-status [data-testid=markdown]').innerText)) || 0"
)
FAMILIARITY_CALLS = 200  # steps of the game whose frames' familiarity is timed
BATCH = 60  # latents a page would send back at once: one second of Run mode
STEP_BLOCKS, STEP_BLOCK = 4, 40  # a step in the page and in onnxruntime, timed in alternating blocks of 40


def open_game(browser, url: str, where: str = "In this browser"):
    """A page of its own with a game of the studio's bundle started `where`, Run's pace set to the fastest."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(300_000)
    page.goto(url)
    page.get_by_role("tab", name="Play").click()
    page.locator("#play-where").get_by_label(where).check()
    page.locator("#play-start").click()
    if where == "In this browser":
        page.locator("#play-canvas").wait_for()
        page.select_option("#play-pace", index=page.locator("#play-pace option").count() - 1)
    else:
        page.locator("#play-status").get_by_text("Started from frame", exact=False).wait_for()
    return context, page


# counts the frames the page draws from now on (each sets the canvas's data-step), in window.framesDrawn
COUNT_FRAMES_DRAWN = """
() => {
  window.framesDrawn = 0;
  const canvas = document.getElementById('play-canvas');
  if (canvas) new MutationObserver((records) => { window.framesDrawn += records.length; })
    .observe(canvas, { attributes: true, attributeFilter: ['data-step'] });
}
"""
PLAYED_AND_DRAWN = f"[{STEPS_PLAYED}, window.framesDrawn || 0]"


def steps_per_second(pages: list, seconds: float, pid: int) -> tuple[list[float], float, list[list[int]], list[float]]:
    """Run mode on in every page for `seconds` -> each page's steps per second, the server's CPU seconds
    meanwhile, each page's step count at every second, and each page's frames drawn per second over the same
    span (Run leaves undrawn the steps it makes up for lost time with; 0 for a game on the server)."""
    for page in pages:
        page.locator("#play-run input").click()
    time.sleep(1.0)  # the first steps (and the status line's first refresh) are not part of the pace
    for page in pages:
        page.evaluate(COUNT_FRAMES_DRAWN)
    cpu, began = process_cpu_s(pid), time.perf_counter()
    counts = [[page.evaluate(PLAYED_AND_DRAWN)] for page in pages]  # [steps played, frames drawn] each second
    while time.perf_counter() - began < seconds:
        time.sleep(1.0)
        for page, count in zip(pages, counts):
            count.append(page.evaluate(PLAYED_AND_DRAWN))
    elapsed = time.perf_counter() - began
    server_cpu = process_cpu_s(pid) - cpu
    for page in pages:
        page.locator("#play-run input").click()
    steps = [[played for played, _ in count] for count in counts]
    rates = [(count[-1][0] - count[0][0]) / elapsed for count in counts]
    drawn = [(count[-1][1] - count[0][1]) / elapsed for count in counts]
    return rates, server_cpu, steps, drawn


def served_game(browser, bundle: str, folder: Path) -> tuple[WorldModel, PageFilesServer, ImaginedGame, object]:
    """The bundle on one thread, its page files served from `folder`, a game started from its first example's
    eighth frame, and a blank page of that server to run play.js in."""
    model = WorldModel.load(EXPORTED / bundle, device="cpu", threads=1)
    served = PageFilesServer(folder, [model])
    latents = analyze_clip(model, example_clips(model)[0], max_frames=8).latents  # [8, N, D]
    game = ImaginedGame.start(model, latents, len(latents) - 1)
    page = browser.new_page()
    page.set_default_timeout(300_000)
    page.goto(served.url)
    return model, served, game, page


def familiarity_costs(browser, bundle: str, work: Path) -> tuple[float, float, float]:
    """(ms of the page per step judging a game's frames in order, as Run mode does; ms of the page judging one
    unfamiliar frame, every reference tried, which a game pays once; ms of the server's CPU per step judging
    latents sent back in batches of BATCH), on the latents of a game of FAMILIARITY_CALLS steps under random codes."""
    model, served, game, page = served_game(browser, bundle, work / "familiarity")
    codes = [int(c) for c in np.random.default_rng(0).integers(0, model.codebook_size, FAMILIARITY_CALLS)]
    args = {"src": served.script, "start": served.start(model, game)}
    played = server_steps(model, game, codes)[1]  # [S, N, D]
    reference = reference_of(model)
    in_order = page.evaluate(  # the page's own game: each frame's search starts where the last one's ended
        """async ({src, start, latents}) => {
          const play = await import(src);
          window.pageModel = window.pageModel || await play.openModel(start);
          const queries = latents.map((l) => new Float32Array(l));
          let near = 0;
          const began = performance.now();
          for (const q of queries) near = Math.max(play.referenceWithin(q, window.pageModel.reference, near), 0);
          return (performance.now() - began) / queries.length;
        }""",
        {**args, "latents": played.reshape(len(played), -1).tolist()},
    )
    far = (played[:1] * 4).reshape(1, -1).tolist()  # four times a frame's latents: beyond every reference's limit
    unfamiliar = page.evaluate(
        PAGE_WITHIN_JS, {**args, "latents": far, "limits": [reference.calibration.limit], "first": [0]}
    )
    page.close()
    served.close()
    batch = np.resize(played, (BATCH, *played.shape[1:]))  # [BATCH, N, D]
    cpu = time.process_time()
    for _ in range(20):
        nearest_distances(batch, reference.latents)
    on_server = (time.process_time() - cpu) / 20 / BATCH * 1000
    return in_order, unfamiliar["ms"], on_server


def page_against_onnxruntime(browser, bundle: str, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """One step (predictor + decoder, batch 1) in the page and in onnxruntime on one thread, from the same context,
    timed in alternating blocks so that the machine's load weighs on both alike -> ms of each, [blocks * block]."""
    model, served, game, page = served_game(browser, bundle, work / "page")
    context, action = game.contexts[-1], model.codebook[1:2]  # [C, N, D], [1, Da]
    args = {"src": served.script, "start": served.start(model, game), "context": context.ravel().tolist(), "code": 1}
    page.evaluate(PAGE_STEP_TIMES_JS, {**args, "repeats": 5})  # opens the model, and warms it up
    in_page, native = [], []
    for _ in range(STEP_BLOCKS):
        in_page += page.evaluate(PAGE_STEP_TIMES_JS, {**args, "repeats": STEP_BLOCK})
        for _ in range(STEP_BLOCK):
            began = time.perf_counter()
            model.decode(model.predict(context[None], action))
            native.append(1000 * (time.perf_counter() - began))
    page.close()
    served.close()
    return np.asarray(in_page), np.asarray(native)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="breakout")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds one player runs in the page")
    parser.add_argument("--players", type=int, default=5, help="pages running at once")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds the server's CPU is measured over")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="play-bench-"))
    exported = work / "exported"
    exported.mkdir()
    shutil.copytree(EXPORTED / args.bundle, exported / args.bundle)
    process, url = start_studio(exported, work / "studio.log")
    lines = []
    try:
        wait_for_warm_up(process, work / "studio.log")
        load_before = os.getloadavg()
        cpu = process_cpu_s(process.pid)
        time.sleep(args.seconds)
        lines.append(
            f"| server CPU over {args.seconds:.0f} s with nobody playing | {process_cpu_s(process.pid) - cpu:.2f} s |"
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            context, page = open_game(browser, url)
            rates, cpu, counts, drawn = steps_per_second([page], args.hold, process.pid)
            per_second = np.diff(counts[0])
            lines.append(
                f"| one player in the page, Run held {args.hold:.0f} s | {rates[0]:.1f} steps/s "
                f"(slowest second {per_second.min()}, fastest {per_second.max()}; {drawn[0]:.1f} frames drawn a "
                f"second); server CPU {cpu:.2f} s |"
            )
            status = page.locator("#play-status").inner_text()
            step_time = status.split("step time ")[1].split(" (")[0] if "step time " in status else "–"
            lines.append(f"| the page's step time (predictor + decoder, median of the last 50) | {step_time} |")
            rates, cpu, _, _ = steps_per_second([page], args.seconds, process.pid)
            lines.append(
                f"| server CPU while one player runs {args.seconds:.0f} s in the page | {cpu:.2f} s "
                f"({rates[0]:.1f} steps/s) |"
            )
            context.close()
            in_order, unfamiliar, on_server = familiarity_costs(browser, args.bundle, work)
            lines.append(
                f"| familiarity per step: in the page (a game's frames in order; the one unfamiliar frame a game "
                f"judges) / on the server from batches of {BATCH} | {in_order:.3f} ms ({unfamiliar:.2f} ms) of the "
                f"page / {on_server:.2f} ms of server CPU (plus the upload) |"
            )

            context, page = open_game(browser, url, where="On the server")
            rates, cpu, _, _ = steps_per_second([page], args.seconds, process.pid)
            lines.append(
                f"| for comparison: one player runs {args.seconds:.0f} s on the server | "
                f"{rates[0]:.1f} steps/s; server CPU {cpu:.2f} s |"
            )
            context.close()

            games = [open_game(browser, url) for _ in range(args.players)]
            rates, cpu, _, drawn = steps_per_second([page for _, page in games], args.seconds, process.pid)
            lines.append(
                f"| {args.players} pages running at once for {args.seconds:.0f} s | "
                f"{', '.join(f'{r:.1f}' for r in rates)} steps/s ({', '.join(f'{d:.1f}' for d in drawn)} frames "
                f"drawn a second); server CPU {cpu:.2f} s |"
            )
            for context, _ in games:
                context.close()

            in_page, native = page_against_onnxruntime(browser, args.bundle, work)
            lines.append(
                f"| one step (predictor + decoder, batch 1): in the page / onnxruntime on one thread, median (p95) | "
                f"{np.median(in_page):.1f} ({np.percentile(in_page, 95):.1f}) ms / {np.median(native):.1f} "
                f"({np.percentile(native, 95):.1f}) ms: {np.median(in_page) / np.median(native):.1f}x |"
            )
            browser.close()
        load_after = os.getloadavg()
    finally:
        stop(process)
    print(f"| figure ({args.bundle}, headless Chromium on this machine) | value |\n| --- | --- |")
    print("\n".join(lines))
    load = lambda avg: " / ".join(f"{x:.1f}" for x in avg)  # noqa: E731
    print(f"| load average (1 / 5 / 15 min) before → after | {load(load_before)} → {load(load_after)} |")


if __name__ == "__main__":
    main()
