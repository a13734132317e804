"""Files that change under a running job: an input truncated, rewritten or
replaced while it is decoded, its audio failing part-way, and the output
folder deleted mid-run. Each ends with one clear error (or, where nothing is
wrong with what is read, no error) and never a raw PyAV exception; the
frames finished before it stay usable."""

import os
import shutil
from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import make_clip, make_faststart_copy

from vidstyle.errors import CorruptInputError, OutputError
from vidstyle.frames import Frame
from vidstyle.media import OutputFolderRemoved, VideoWriter, open_writer, probe, read_frames

NUM_FRAMES = 60
CHANGE_AT = 5  # the file is changed after this many frames were read


def noisy_clip(path, *, faststart: bool = False):
    """A 60-frame 128x96 clip of noise (about 370 kB, far more than FFmpeg
    reads ahead), so a change after 5 frames lands in data not yet read."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(NUM_FRAMES)]
    clip = make_clip(path, frames=images)
    return make_faststart_copy(clip, path.with_name("fast" + path.suffix)) if faststart else clip


def read_while(path, change) -> tuple[int, BaseException | None]:
    """Decode ``path``, calling ``change(path)`` after CHANGE_AT frames;
    returns the frames read and the error that ended the reading, if any."""
    count = 0
    try:
        for frame in read_frames(path):
            assert frame.index == count
            count += 1
            if count == CHANGE_AT:
                change(path)
    except Exception as err:  # noqa: BLE001 - the test looks at what it is
        return count, err
    return count, None


def truncate_to_half(path):
    os.truncate(path, os.path.getsize(path) // 2)


def truncate_to_zero(path):
    os.truncate(path, 0)


def copy_another_clip_over(path):
    other = make_clip(path.with_name("other" + path.suffix), num_frames=30, width=64, height=48)
    with open(path, "wb") as file:  # what cp does: same file, new content
        file.write(other.read_bytes())


CLIPS = {"mkv": dict(name="in.mkv"), "mp4": dict(name="in.mp4"), "faststart mp4": dict(name="in.mp4", faststart=True)}


@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize(
    "change, says",
    [
        (truncate_to_half, "truncated from"),
        (truncate_to_zero, "truncated from"),
        (copy_another_clip_over, "while it was being read"),
    ],
    ids=["truncated to half", "truncated to zero", "rewritten"],
)
def test_an_input_changed_while_it_is_read_ends_with_one_clear_error(tmp_path, clip, change, says):
    options = CLIPS[clip]
    src = noisy_clip(tmp_path / options["name"], faststart=options.get("faststart", False))
    count, error = read_while(src, change)
    assert isinstance(error, CorruptInputError), repr(error)  # never a raw av.error
    assert CHANGE_AT <= count < NUM_FRAMES and error.frame_index == count
    message = str(error)
    assert "\n" not in message and str(src) in message and says in message
    assert f"from frame {count}" in message


def test_a_replaced_or_deleted_input_is_read_to_its_end_as_it_was(tmp_path):
    """Renaming another file over the input, or deleting it, does not change
    the open file: every frame of the original comes out, unchanged."""
    src = noisy_clip(tmp_path / "in.mp4")
    expected = [f.image_u8 for f in read_frames(src)]

    def replace(path):
        os.replace(make_clip(tmp_path / "other.mp4", num_frames=30, width=64, height=48), path)

    for change in (replace, os.remove):
        src = noisy_clip(tmp_path / "in.mp4")
        seen = []
        for frame in read_frames(src):
            seen.append(frame.image_u8)
            if len(seen) == CHANGE_AT:
                change(src)
        assert len(seen) == NUM_FRAMES and all(np.array_equal(a, b) for a, b in zip(seen, expected))


def test_an_input_that_only_grew_while_read_is_not_an_error(tmp_path):
    """A file appended to (a recording still being written) is not damaged."""
    src = noisy_clip(tmp_path / "in.mkv")

    def append(path):
        with open(path, "ab") as file:
            file.write(b"\0" * 1000)

    count, error = read_while(src, append)
    assert error is None and count == NUM_FRAMES


# ------------------------------------------------------------------ the source's audio


class _FailingPackets:
    """Demuxed packets that fail like a damaged file after ``good`` of them."""

    def __init__(self, packets, good: int):
        self.packets, self.left = packets, good

    def __iter__(self):
        return self

    def __next__(self):
        if self.left == 0:
            raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")
        self.left -= 1
        return next(self.packets)


@pytest.mark.parametrize("ext", [".mp4", ".webm"], ids=["copied", "re-encoded"])
def test_audio_failing_part_way_is_a_corrupt_input_and_the_frames_are_kept(tmp_path, ext):
    src = make_clip(tmp_path / "in.mp4", num_frames=24)
    info = probe(src)
    source_frames = list(read_frames(src))
    writer = VideoWriter(
        tmp_path / f"out{ext}", width=64, height=48, time_base=info.time_base, fps=info.fps, audio_from=str(src)
    )
    writer.write(source_frames[0])  # starts the audio
    writer.audio.packets = _FailingPackets(writer.audio.packets, good=2)
    with pytest.raises(CorruptInputError, match="audio is unreadable") as caught:
        for frame in source_frames[1:]:
            writer.write(frame)
    assert not isinstance(caught.value, OutputError) and str(src) in str(caught.value)
    kept = caught.value.frame_index
    assert kept == writer.frames_written >= 1
    partial = writer.close_partial()
    assert partial == str(tmp_path / f"out.partial{ext}")
    assert len(list(read_frames(partial))) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", f"out.partial{ext}"]


# ------------------------------------------------------------------ the output folder deleted


def clip_frames(num_frames: int = 6) -> list[Frame]:
    tb = Fraction(1, 25)
    return [
        Frame(image_u8=np.full((48, 64, 3), 10 * i, np.uint8), pts=i, time_base=tb, index=i) for i in range(num_frames)
    ]


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "seq/%05d.png"])
@pytest.mark.parametrize("when", ["write", "close", "close_partial"])
def test_an_output_folder_deleted_mid_run_is_one_clear_line(tmp_path, name, when):
    folder = tmp_path / "renders"
    folder.mkdir()
    dst = folder / name
    writer = open_writer(dst, width=64, height=48, time_base=Fraction(1, 25), fps=Fraction(25))
    frames = clip_frames()
    for frame in frames[:3]:
        writer.write(frame)
    shutil.rmtree(folder)
    with pytest.raises(OutputFolderRemoved) as caught:
        if when == "write":
            writer.write(frames[3])
        else:
            getattr(writer, when)()
    error = caught.value
    assert isinstance(error, OutputError) and error.exit_code == 1
    message = str(error)
    assert "\n" not in message and "was removed while" in message and "3 frames written" in message
    assert str(dst.parent) in message
    assert not folder.exists()  # not re-created behind the user's back
    writer.abort()  # safe after the failure
    assert sorted(p.name for p in tmp_path.iterdir()) == []
