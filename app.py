"""Entry point of the studio, as Hugging Face Spaces runs it: `python app.py`. It serves the bundles of
`exported/` and of the folders STUDIO_BUNDLES names (separated by os.pathsep)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

from studio.ui.app import bundle_dirs_from_environment, launch_studio  # noqa: E402

EXPORTED = Path(__file__).resolve().parent / "exported"

if __name__ == "__main__":
    launch_studio([EXPORTED, *bundle_dirs_from_environment()], device=os.environ.get("STUDIO_DEVICE", "auto"))
