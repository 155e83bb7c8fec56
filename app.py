"""Entry point of the studio, as Hugging Face Spaces runs it: `python app.py`."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

from studio.ui.app import launch_studio  # noqa: E402

EXPORTED = Path(__file__).resolve().parent / "exported"

if __name__ == "__main__":
    launch_studio(EXPORTED, device=os.environ.get("STUDIO_DEVICE", "auto"))
