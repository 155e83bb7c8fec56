"""Image outputs land in Gradio's cache atomically, at the path Gradio itself would choose."""

from __future__ import annotations

import threading

import numpy as np
from gradio import processing_utils
from PIL import Image

from studio.ui import gradio_cache


def picture() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))


def test_same_path_as_gradio_and_a_cached_picture_is_never_rewritten(tmp_path, monkeypatch):
    theirs = processing_utils.save_pil_to_cache(picture(), str(tmp_path / "theirs"))
    monkeypatch.setattr(processing_utils, "save_pil_to_cache", processing_utils.save_pil_to_cache)
    gradio_cache.install()
    ours = processing_utils.save_img_array_to_cache(np.asarray(picture()), str(tmp_path / "ours"))
    assert ours.replace("/ours/", "/theirs/") == theirs
    first = (tmp_path / "ours").glob("*/*.webp").__next__().stat()
    processing_utils.save_img_array_to_cache(np.asarray(picture()), str(tmp_path / "ours"))
    again = (tmp_path / "ours").glob("*/*.webp").__next__().stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)


def test_users_saving_one_picture_at_once_each_get_it_whole(tmp_path):
    image = picture()
    size = len(processing_utils.encode_pil_to_bytes(image, "webp"))
    short = []

    def save_and_read(folder: str, start: threading.Barrier) -> None:
        start.wait()
        path = gradio_cache.save_pil_to_cache(image, folder)
        with open(path, "rb") as served:  # what serving the path would send
            short.append(len(served.read()) != size)

    for round_ in range(40):
        start = threading.Barrier(4)
        folder = str(tmp_path / str(round_))
        users = [threading.Thread(target=save_and_read, args=(folder, start)) for _ in range(4)]
        for user in users:
            user.start()
        for user in users:
            user.join()
    assert len(short) == 160 and not any(short)
