"""The background writer: frames reach the wrapped writer in order, the engine
does not wait for the encoder, and a failure surfaces in the caller's thread."""

import threading
import time

import numpy as np
import pytest

from vidstyle.errors import OutputError
from vidstyle.frames import Frame
from vidstyle.media.background import BackgroundWriter
from vidstyle.media.writers import FrameWriter


class RecordingWriter:
    """A FrameWriter stand-in that records what it got and on which thread."""

    dst = "out.mp4"
    takes_audio = True
    stored_size = (64, 48)

    def __init__(self, *, fail_at=None, seconds_per_frame=0.0):
        self.frames, self.threads, self.closed = [], set(), None
        self.fail_at, self.seconds_per_frame = fail_at, seconds_per_frame

    @property
    def frames_written(self):
        return len(self.frames)

    def write(self, frame):
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OutputError("No space left on device", exit_code=1)
        time.sleep(self.seconds_per_frame)
        self.threads.add(threading.current_thread().name)
        self.frames.append(frame.index)

    def close(self):
        self.closed = "close"
        return self.dst

    def close_partial(self):
        self.closed = "partial"
        return "out.partial.mp4"

    def abort(self):
        self.closed = "abort"


def frame(index):
    return Frame(image_u8=np.zeros((4, 4, 3), np.uint8), pts=index, time_base=None, index=index)


def test_frames_arrive_in_order_on_another_thread_and_close_waits_for_them():
    inner = RecordingWriter(seconds_per_frame=0.01)
    writer = BackgroundWriter(inner)
    assert isinstance(writer, FrameWriter)
    started = time.perf_counter()
    for i in range(10):
        writer.write(frame(i))
    handed_over_s = time.perf_counter() - started
    assert writer.close() == "out.mp4" and inner.closed == "close"
    assert inner.frames == list(range(10)) and writer.frames_written == 10
    assert inner.threads == {"vidstyle-writer"}
    assert handed_over_s < 10 * 0.01  # the caller waited for at most `depth` frames, not all ten


def test_a_failure_is_raised_in_the_callers_thread_once_and_no_frame_follows_it():
    inner = RecordingWriter(fail_at=3)
    writer = BackgroundWriter(inner)
    with pytest.raises(OutputError, match="No space left"):
        for i in range(20):
            writer.write(frame(i))
        writer.close()
    assert inner.frames == [0, 1, 2]
    with pytest.raises(ValueError, match="failed earlier"):
        writer.write(frame(99))
    writer.abort()
    assert inner.closed == "abort"


def test_an_interrupted_run_keeps_every_frame_handed_over():
    inner = RecordingWriter(seconds_per_frame=0.02)
    writer = BackgroundWriter(inner, depth=3)
    for i in range(5):
        writer.write(frame(i))
    assert writer.close_partial() == "out.partial.mp4"
    assert inner.frames == [0, 1, 2, 3, 4] and inner.closed == "partial"
