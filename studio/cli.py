"""The `studio` command: one entry point, one subcommand per job.

Training subcommands live in `studio.train` and are imported only when run, so the studio itself never
needs torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from studio.bundle import BundleError
from studio.video import DEFAULT_MAX_FRAMES, ClipError

DEFAULT_EXPORTED = Path(__file__).resolve().parent.parent / "exported"
DEFAULT_MINUTES = 10.0  # `studio train --videos`'s time budget when none is given


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio", description="World-model studio")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands)
    _add_analyze(commands)
    _add_maps(commands)
    _add_reference(commands)
    _add_training(commands)
    _add_space(commands)
    _add_bench(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (BundleError, ClipError, ValueError) as err:
        print(f"studio {args.command}: {err}", file=sys.stderr)
        return 2


def _add_serve(commands) -> None:
    serve = commands.add_parser("serve", help="start the web studio")
    serve.add_argument("--exported", type=Path, default=DEFAULT_EXPORTED, help="folder of bundles")
    serve.add_argument(
        "--bundles",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="more bundles to serve beside those of --exported: bundle folders, or folders of bundles",
    )
    serve.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    serve.set_defaults(run=_serve)


def _serve(args) -> None:
    from studio.ui.app import launch_studio

    missing = [str(folder) for folder in args.bundles if not folder.is_dir()]
    if missing:
        raise ValueError(f"no such folder: {', '.join(missing)}")
    launch_studio([args.exported, *args.bundles], device=args.device)


def _add_analyze(commands) -> None:
    analyze = commands.add_parser("analyze", help="run a clip through a bundle and save the results")
    analyze.add_argument("clip", type=Path)
    analyze.add_argument("--bundle", type=Path, required=True, help="bundle folder")
    analyze.add_argument("--out", type=Path, required=True, help="output .npz")
    analyze.add_argument(
        "--stride",
        type=int,
        default=None,
        help="source frames between analyzed frames (default: from the clip's frame rate, to match "
        "the rate the model learnt)",
    )
    analyze.add_argument(
        "--crop",
        default="auto",
        metavar="auto|none|TOP,LEFT,HEIGHT,WIDTH",
        help="the game screen's box in source pixels: found automatically (default), the whole frame, or given",
    )
    analyze.add_argument("--max-frames", type=int, default=DEFAULT_MAX_FRAMES)
    analyze.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    analyze.set_defaults(run=_analyze)


def _analyze(args) -> None:
    from studio.analysis import analyze_clip, reconstruct, save_analysis
    from studio.runtime import WorldModel
    from studio.screen import parse_box

    crop = parse_box(args.crop)  # refuses a malformed box before the bundle is loaded
    model = WorldModel.load(args.bundle, device=args.device)
    analysis = analyze_clip(model, args.clip, stride=args.stride, max_frames=args.max_frames, crop=crop)
    reconstruction = reconstruct(model, analysis)
    save_analysis(analysis, args.out, reconstruction)
    print(f"bundle {model.manifest.name} on {model.device}; wrote {args.out}")
    vouching = analysis.vouching
    print(f"  screen: {vouching.crop_note}\n  {vouching.stride_note}")
    if vouching.warning:
        print(f"  warning: {vouching.warning}")
    for key, value in {**analysis.summary(), **reconstruction.summary()}.items():
        print(f"  {key:>18}: {value}")


def _add_maps(commands) -> None:
    maps = commands.add_parser("maps", help="fit a bundle's latent maps on its examples and ship them in it")
    maps.add_argument("bundle", type=Path)
    maps.set_defaults(run=_maps)


def _maps(args) -> None:
    from studio.latent_map import write_shipped_maps
    from studio.runtime import WorldModel

    written = write_shipped_maps(WorldModel.load(args.bundle, device="cpu"))
    if not written:
        raise ValueError("the bundle ships no example clips to fit its maps on")
    for path in written:
        print(f"wrote {path}")


def _add_reference(commands) -> None:
    reference = commands.add_parser(
        "reference",
        help="compute a bundle's reference (native size and rate, reference image, familiarity "
        "calibration) from fresh episodes of its game and write it into the bundle",
    )
    reference.add_argument("bundle", type=Path)
    reference.add_argument("--episodes", type=int, default=12, help="fresh episodes to play (half calibrate)")
    reference.set_defaults(run=_reference)


def _reference(args) -> None:
    from studio.reference import REFERENCE_FILE, compute_reference

    path, reference, measured_on = compute_reference(args.bundle, episodes=args.episodes)
    calibration = reference.calibration
    print(f"wrote {path} and {path.parent / REFERENCE_FILE}")
    print(
        f"  native {reference.native.width}×{reference.native.height} at {reference.native.fps:g} fps, "
        f"{reference.native.transitions_per_second:g} transitions a second"
    )
    print(
        f"  held-out latent distance median {calibration.distance_median:.3f}, 99th percentile "
        f"{calibration.distance_q99:.3f}, unfamiliar beyond {calibration.limit:.3f}"
    )
    print(f"  held-out reconstruction PSNR 1st/50th/99th percentile {calibration.reconstruction_psnr_db} dB")
    print(f"  measured on {measured_on}")


def _add_training(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train a world model (needs the [train] extras): from a config, or from a folder of your own clips",
        description="studio train CONFIG [--export DIR], or studio train --videos FOLDER --out DIR [--minutes N] "
        "[--config FILE]",
    )
    train.add_argument("config_file", nargs="?", type=Path, help="a JSON config, e.g. configs/breakout.json")
    train.add_argument("--export", type=Path, help="export the trained model as a bundle into this folder")
    train.add_argument("--videos", type=Path, metavar="FOLDER", help="a folder of your clips to learn from")
    train.add_argument("--out", type=Path, metavar="DIR", help="with --videos: the folder the bundle is written to")
    train.add_argument(
        "--minutes", type=float, default=None, help=f"with --videos: the time budget (default {DEFAULT_MINUTES:g})"
    )
    train.add_argument(
        "--config",
        type=Path,
        dest="recipe",
        metavar="FILE",
        help="with --videos: a recipe other than configs/videos.json",
    )
    train.set_defaults(run=_train)

    data = commands.add_parser("train-data", help="generate (or collect) a config's training data")
    data.add_argument("config", type=Path)
    data.set_defaults(run=_train_data)

    export = commands.add_parser("export", help="export a training checkpoint as a bundle")
    export.add_argument("checkpoint", type=Path)
    export.add_argument("out_dir", type=Path)
    export.set_defaults(run=_export)

    evaluate = commands.add_parser("evaluate", help="judge a bundle on held-out episodes or its example clips")
    evaluate.add_argument("bundle", type=Path)
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--episodes", type=Path, help="a folder of held-out episode shards (.npz)")
    source.add_argument("--examples", action="store_true", help="the bundle's example clips and their labels")
    evaluate.add_argument("--write", action="store_true", help="record the figures in the manifest")
    evaluate.set_defaults(run=_evaluate)


def _train(args) -> int | None:
    if args.videos is not None:
        return _train_videos(args)
    if args.config_file is None or args.out or args.minutes is not None or args.recipe:
        raise ValueError("give a config file (studio train CONFIG), or --videos FOLDER --out DIR")
    from studio.train.config import load_config
    from studio.train.export import export_checkpoint
    from studio.train.train import Trainer

    trainer = Trainer(load_config(args.config_file))
    checkpoint = trainer.run()
    print(f"trained: {checkpoint}")
    if args.export and trainer.rank == 0:
        print(f"exported: {export_checkpoint(checkpoint, args.export)}")


def _train_videos(args) -> int | None:
    if args.out is None or args.config_file is not None or args.export is not None:
        raise ValueError("with --videos FOLDER give --out DIR (and optionally --minutes N, --config FILE) only")
    from studio.train.export import ExportError
    from studio.train.from_videos import train_from_videos

    minutes = DEFAULT_MINUTES if args.minutes is None else args.minutes
    try:
        out = train_from_videos(args.videos, args.out, minutes, args.recipe)
    except ExportError as err:
        raise ValueError(f"the trained model failed a check of its export ({err}); its checkpoint is kept") from None
    except KeyboardInterrupt:
        print("\nstopped: the last checkpoint is kept; the same command resumes from it", file=sys.stderr, flush=True)
        return 130
    print(
        f"bundle: {out}\n  look at it:  studio serve --bundles {out.parent}\n  publish it:  studio space {out} OUT_DIR"
    )
    return None


def _train_data(args) -> None:
    from studio.train.config import load_config
    from studio.train.data import ensure_data

    config = load_config(args.config)
    print(f"data: {ensure_data(config.data, Path(config.data_dir))}")


def _export(args) -> None:
    from studio.train.export import export_checkpoint

    print(f"exported: {export_checkpoint(args.checkpoint, args.out_dir)}")


def _evaluate(args) -> None:
    from studio.evaluation import evaluate_bundle, format_table

    figures = evaluate_bundle(args.bundle, episodes=args.episodes, write=args.write)
    print(format_table(figures))


def _add_space(commands) -> None:
    space = commands.add_parser("space", help="write a folder ready to push as a Hugging Face Space showing a bundle")
    space.add_argument("bundle", type=Path, help="bundle folder, e.g. exported/breakout")
    space.add_argument("out_dir", type=Path, help="a new folder for the Space")
    space.set_defaults(run=_space)


def _space(args) -> None:
    from studio.space import write_space

    out = write_space(args.bundle, args.out_dir)
    print(f"wrote {out}\n  try it:   cd {out} && python app.py\n  push it:  see {out / 'README.md'}")


def _add_bench(commands) -> None:
    bench = commands.add_parser("bench", help="measure the studio's speed and write benchmarks/RESULTS.md")
    bench.add_argument("--bundle", type=Path, default=DEFAULT_EXPORTED / "breakout")
    bench.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("runs/breakout/checkpoint.pt"),
        help="the training checkpoint behind the bundle, for the torch eager rows (skipped when absent)",
    )
    bench.add_argument("--quick", action="store_true", help="a few seconds: checks the harness, not the figures")
    bench.add_argument(
        "--suite",
        action="append",
        metavar="SUITE",
        help="run this suite only (repeatable: graphs, probes, …, and gpu, which only runs when asked for: every "
        "shipped bundle on CUDA beside the CPU); the last results of the others stay",
    )
    bench.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "benchmarks")
    bench.set_defaults(run=_bench)


def _bench(args) -> None:
    from benchmarks.gpu import GpuDisagreement, why_no_gpu
    from benchmarks.harness import Report
    from benchmarks.suites import GPU_SUITE, SUITES, BenchConfig, run_all

    known = (*SUITES, GPU_SUITE)
    unknown = sorted(set(args.suite or ()) - set(known))
    if unknown:
        sys.exit(f"studio bench: no suite {', '.join(unknown)}; the suites are {', '.join(known)}")
    suites = tuple(dict.fromkeys(args.suite or SUITES))
    if GPU_SUITE in suites and (reason := why_no_gpu()):
        print(f"studio bench --suite gpu: nothing measured, {reason}.")
        suites = tuple(s for s in suites if s != GPU_SUITE)
        if not suites:
            return
    shown = (os.path.relpath(path) for path in (args.bundle, args.checkpoint))
    command = (
        "studio bench"
        + (" --quick" if args.quick else "")
        + "".join(f" --suite {s}" for s in args.suite or ())
        + " --bundle {} --checkpoint {}".format(*shown)
    )
    report = Report(command=command)
    disagreement = None
    try:
        run_all(BenchConfig(bundle=args.bundle, checkpoint=args.checkpoint, quick=args.quick, suites=suites), report)
    except GpuDisagreement as err:  # its figures are written all the same: they say where the two differ
        disagreement = err
    for path in report.write(args.out, keep_others=bool(args.suite)):
        print(f"wrote {path}")
    if disagreement:
        sys.exit(f"studio bench: {disagreement}")


if __name__ == "__main__":
    sys.exit(main())
