"""`studio space BUNDLE OUT_DIR`: a folder ready to push as a Hugging Face Space that shows one bundle.

The folder is the studio as this repository runs as a Space, with that bundle alone: the repository's `app.py`
and `requirements.txt` (no torch), the `studio` package without its training code, the bundle under
`exported/`, and a README whose Space front matter is the repository's own (sdk, its version, Python) with
the bundle's title.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.bundle import load_bundle

SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the checkout the studio runs from
COPIED_FILES = ("app.py", "requirements.txt")
LEFT_OUT = ("__pycache__", "*.pyc", "train", "training")  # the training code, and a bundle's run folder
TITLE_LENGTH = 30  # Hugging Face shows at most this many characters of a Space's title


def write_space(bundle_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the Space folder for the bundle in `bundle_dir` into `out_dir` (new, or empty)."""
    bundle = load_bundle(bundle_dir)  # a broken bundle is refused here, with its reason
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"{out_dir}: exists and is not an empty folder; choose a new one for the Space")
    missing = [name for name in (*COPIED_FILES, "README.md") if not (SOURCE_ROOT / name).is_file()]
    if missing:
        raise ValueError(
            f"a Space is built from the studio's source checkout; {SOURCE_ROOT} lacks {', '.join(missing)}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        shutil.copy(SOURCE_ROOT / name, out_dir / name)
    shutil.copytree(SOURCE_ROOT / "studio", out_dir / "studio", ignore=shutil.ignore_patterns(*LEFT_OUT))
    name = bundle.root.name
    shutil.copytree(bundle.root, out_dir / "exported" / name, ignore=shutil.ignore_patterns(*LEFT_OUT))
    (out_dir / "README.md").write_text(space_readme(bundle.manifest, name))
    return out_dir


def space_readme(manifest, folder: str) -> str:
    """The Space's README: the repository's front matter with the bundle's title, what it shows, how to push."""
    front = _front_matter((SOURCE_ROOT / "README.md").read_text())
    title = f"{manifest.name} world model"[:TITLE_LENGTH]
    front["title"] = title
    front["short_description"] = f"Look inside the {manifest.name} world model"[:60]
    front["license"] = manifest.license.lower()
    lines = ["---", *(f"{key}: {value}" for key, value in front.items()), "---", ""]
    trained_on = manifest.trained_on
    source = trained_on.get("folder") or trained_on.get("source", "")
    lines += [
        f"# {title}",
        "",
        manifest.description,
        "",
        f"Learnt from {trained_on.get('frames', 0):,} frames of {source}; the bundle is in `exported/{folder}/`.",
        "The page is the world-model studio: upload a clip, see its latent map and action codes, roll the model "
        "forward, play it.",
        "",
        "To push this folder as a Space (with the huggingface_hub command line, logged in): "
        "`hf upload YOUR_NAME/SPACE_NAME . --repo-type=space`",
        "",
    ]
    return "\n".join(lines)


def _front_matter(readme: str) -> dict[str, str]:
    """The `key: value` lines between the README's opening `---` lines, in order."""
    lines = readme.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("the studio's README has no Space front matter to start from")
    end = lines.index("---", 1)
    return dict(line.split(": ", 1) for line in lines[1:end] if ": " in line)
