"""Reading real clips written by the tests (H.264 mp4, VP9 webm, GIF) and refusing bad files."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from clips import moving_square_frames
from studio.video import ClipError, read_clip, resize_frames, write_gif, write_mp4


def square_centre(frame: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(frame.max(axis=2) > 128)
    return ys.mean(), xs.mean()


def write_webm(frames: np.ndarray, path, fps: int = 10):
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libvpx-vp9", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_odd_sized_h264_clip_is_read_and_resized(tmp_path):
    frames = moving_square_frames(20, 75, 97, side=10)  # odd sizes: write_mp4 pads to 76x98
    clip = read_clip(write_mp4(frames, tmp_path / "odd.mp4", fps=15), size=(64, 64))
    assert clip.frames.shape == (20, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == pytest.approx(15) and clip.source_frames == 20 and clip.source_size == (76, 98)
    for t in (0, 10, 19):
        y, x = square_centre(clip.frames[t])
        y_true, x_true = square_centre(
            resize_frames(np.pad(frames[t : t + 1], ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge"), (64, 64))[0]
        )
        assert abs(y - y_true) < 1.5 and abs(x - x_true) < 1.5
    assert clip.frames[10].reshape(-1, 3).max(axis=0)[0] > 200  # the square's red survives


def test_odd_sized_vp9_webm_is_read(tmp_path):
    frames = moving_square_frames(12, 77, 99, side=12)
    clip = read_clip(write_webm(frames, tmp_path / "odd.webm"), size=(32, 48))
    assert clip.frames.shape == (12, 32, 48, 3) and clip.source_size == (77, 99)
    assert square_centre(clip.frames[11])[1] > square_centre(clip.frames[0])[1] + 20  # it moved right


def test_stride_cap_and_spread(tmp_path):
    path = write_mp4(moving_square_frames(90, 32, 32), tmp_path / "long.mp4", fps=30)
    clip = read_clip(path, stride=2, max_frames=100, size=(16, 16))
    assert clip.indices.tolist() == list(range(0, 90, 2)) and clip.stride == 2
    spread = read_clip(path, stride=1, max_frames=10, size=(16, 16))
    assert len(spread.frames) == 10 and spread.stride == 9 and spread.indices[-1] == 81
    first = read_clip(path, stride=1, max_frames=10, size=(16, 16), spread=False)
    assert first.indices.tolist() == list(range(10))


def test_crop_letterbox_and_stretch_geometry():
    frame = np.zeros((1, 40, 80, 3), np.uint8)
    frame[:, :, :40] = (255, 0, 0)  # left half red, right half blue
    frame[:, :, 40:] = (0, 0, 255)
    stretched = resize_frames(frame, (20, 20), "stretch")[0]
    assert stretched[10, 2, 0] == 255 and stretched[10, 17, 2] == 255
    cropped = resize_frames(frame, (20, 20), "crop")[0]  # the centre 40x40: half red, half blue
    assert cropped[10, 2, 0] == 255 and cropped[10, 17, 2] == 255
    boxed = resize_frames(frame, (20, 20), "letterbox")[0]  # black bars above and below
    assert boxed[0].max() == 0 and boxed[-1].max() == 0 and boxed[10, 2, 0] == 255


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("this is a text file\n" * 20), "not a video"),
        (lambda p: None, "was not found"),
    ],
)
def test_bad_files_are_refused_with_a_plain_message(tmp_path, make, message):
    path = tmp_path / "upload.mp4"
    make(path)
    with pytest.raises(ClipError, match=message) as refused:
        read_clip(path)
    assert str(tmp_path) not in str(refused.value) and "Traceback" not in str(refused.value)


def test_a_truncated_mp4_yields_the_frames_before_the_damage_or_is_refused_if_none_can_be(tmp_path):
    whole_path = write_mp4(moving_square_frames(60, 64, 64), tmp_path / "whole.mp4", fps=15)
    whole, data = read_clip(whole_path, size=(32, 32)), whole_path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.8)])  # the last fifth of the frames' data is lost
    clip = read_clip(cut, size=(32, 32))
    assert clip.source_frames == 60 and 2 <= len(clip.frames) < 60
    assert clip.indices.tolist() == list(range(len(clip.frames)))  # the first frames, up to the damage
    np.testing.assert_array_equal(clip.frames, whole.frames[: len(clip.frames)])
    cut.write_bytes(data[: int(len(data) * 0.4)])  # too little left to open the stream
    with pytest.raises(ClipError, match="not a video") as refused:
        read_clip(cut, size=(32, 32))
    assert str(tmp_path) not in str(refused.value)


def test_animated_gif_is_read_through_pyav(tmp_path):
    path = write_gif(moving_square_frames(14, 40, 40), tmp_path / "anim.gif", fps=10)
    clip = read_clip(path, size=(20, 20))
    assert clip.frames.shape == (14, 20, 20, 3)
    assert square_centre(clip.frames[13])[1] > square_centre(clip.frames[0])[1]


def test_single_frame_and_oversized_clips_are_refused(tmp_path):
    one = write_mp4(moving_square_frames(1, 32, 32), tmp_path / "one.mp4", fps=10)
    with pytest.raises(ClipError, match="at least 2 frames"):
        read_clip(one)
    two = write_mp4(moving_square_frames(3, 64, 64), tmp_path / "big.mp4", fps=10)
    with pytest.raises(ClipError, match="pixels per frame"):
        read_clip(two, max_pixels=32 * 32)


def test_written_mp4_is_h264_yuv420p_even_and_faststart(tmp_path):
    path = write_mp4(moving_square_frames(5, 33, 51), tmp_path / "out.mp4", fps=Fraction(30000, 1001))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.height, stream.codec_context.width) == (34, 52)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def write_with(frames: np.ndarray, path, codec: str, pix_fmt: str, source_format: str, times_ms: list[int]):
    """Frames written with any codec and pixel format, at the given presentation times (ms)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = Fraction(1, 1000)
        for frame, ms in zip(frames, times_ms):
            picture = av.VideoFrame.from_ndarray(frame, format=source_format)
            picture.pts, picture.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path


def test_grayscale_alpha_and_variable_frame_rate_clips_are_read_as_rgb(tmp_path):
    square = moving_square_frames(10, 48, 64, side=12)
    even = [100 * t for t in range(10)]
    gray = write_with(square.max(axis=3), tmp_path / "gray.mp4", "libx264", "gray", "gray", even)
    rgba = np.concatenate([square, np.full((10, 48, 64, 1), 128, np.uint8)], axis=3)
    alpha = write_with(rgba, tmp_path / "alpha.webm", "libvpx-vp9", "yuva420p", "rgba", even)
    variable = write_with(
        square, tmp_path / "vfr.mp4", "libx264", "yuv420p", "rgb24", [0, 30, 60, 200, 210, 220, 400, 500, 510, 900]
    )
    for path in (gray, alpha, variable):
        clip = read_clip(path, size=(24, 32))
        assert clip.frames.shape == (10, 24, 32, 3) and clip.frames.dtype == np.uint8, path.name
        assert square_centre(clip.frames[9])[1] > square_centre(clip.frames[0])[1] + 10, path.name  # it moved right
        assert clip.fps > 0


def test_a_two_hour_clip_is_sampled_over_its_length_within_the_frame_cap(tmp_path):
    hours = write_mp4(moving_square_frames(7200, 32, 48, side=4), tmp_path / "two_hours.mp4", fps=1, preset="ultrafast")
    clip = read_clip(hours, max_frames=120, size=(16, 16))  # 7,200 s at 1 fps
    assert clip.frames.shape == (120, 16, 16, 3) and clip.source_frames == 7200
    assert clip.indices[0] == 0 and clip.indices[-1] >= 7100 and clip.stride == 60


def test_a_picture_named_mp4_is_refused(tmp_path):
    from PIL import Image

    path = tmp_path / "photo.mp4"
    Image.fromarray(moving_square_frames(1, 32, 32)[0]).save(path, format="PNG")
    with pytest.raises(ClipError) as refused:
        read_clip(path)
    assert str(tmp_path) not in str(refused.value)
