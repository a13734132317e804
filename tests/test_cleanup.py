"""A failed or interrupted run leaves nothing behind that it cannot use: no
temporary output, no empty work folder, no running thread; a run with
finished frames keeps its resumable work folder."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest

from tests.conftest import STYLE_PATH, make_clip
from vidstyle.errors import InputError, OutputError
from vidstyle.pipeline.events import FrameDone, FrameStarted
from vidstyle.pipeline.video import InterruptedRun, stylize_video
from vidstyle.pipeline.workdir import FrameStore, work_dir_for

TINY = {"max_side": 32, "iters_first": 1, "iters_later": 1, "detail_iters": 0}
THREAD_NAMES = ("vidstyle-writer", "vidstyle-prefetch")


_before: set[threading.Thread] = set()


@pytest.fixture(autouse=True)
def threads_before():
    """The threads alive before the test (an earlier test's leak is not this test's)."""
    _before.clear()
    _before.update(threading.enumerate())


def our_threads() -> list[str]:
    """Names of the pipeline threads this test started that are still alive
    (a stopping one gets a moment)."""
    deadline = time.monotonic() + 2.0
    while True:
        alive = [t.name for t in threading.enumerate() if t.name in THREAD_NAMES and t not in _before]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


@pytest.fixture
def src(tmp_path):
    return make_clip(tmp_path / "s5.mp4", num_frames=12, audio=False)


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failure_before_the_first_frame_leaves_nothing_behind(tmp_path, src, work_root):
    def fail(info, size):
        raise ZeroDivisionError("division by zero")

    with pytest.raises(ZeroDivisionError):  # the error itself, unchanged
        stylize_video(src, tmp_path / "x.mp4", style=STYLE_PATH, on_start=fail, **TINY)
    assert listing(tmp_path) == ["s5.mp4"]  # no hidden .x.mp4.XXXX.partial.mp4
    assert not os.path.exists(work_dir_for(tmp_path / "x.mp4")) and list(work_root.iterdir()) == []
    assert our_threads() == []


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, RuntimeError])
def test_an_interrupt_in_the_first_frame_stops_every_thread_and_keeps_no_empty_folder(tmp_path, src, error):
    def on_event(event):
        if isinstance(event, FrameStarted):
            raise error

    kept = []  # as a notebook keeps the last traceback (and with it the run's generators)
    for _ in range(2):  # one more thread per call, before
        with pytest.raises(error) as caught:
            stylize_video(src, tmp_path / "x.mp4", style=STYLE_PATH, on_event=on_event, **TINY)
        kept.append(caught)
    assert our_threads() == []
    assert listing(tmp_path) == ["s5.mp4"]
    assert not os.path.exists(work_dir_for(tmp_path / "x.mp4"))


def test_an_interrupt_after_finished_frames_keeps_the_work_folder_and_stops_every_thread(tmp_path, src):
    dst = tmp_path / "x.mp4"

    def on_event(event):
        if isinstance(event, FrameDone) and event.index == 2:
            raise KeyboardInterrupt

    with pytest.raises(InterruptedRun, match="every finished frame is kept in") as caught:
        stylize_video(src, dst, style=STYLE_PATH, on_event=on_event, **TINY)
    assert our_threads() == []
    assert os.path.isdir(work_dir_for(dst))
    summary = stylize_video(src, dst, style=STYLE_PATH, **TINY)
    assert summary.resumed_frames == 3 and dst.exists() and caught.value.work_dir


def test_a_start_past_the_end_is_refused_before_any_work(tmp_path, src, work_root):
    started = []
    with pytest.raises(InputError, match="no video frames to stylize in the requested range"):
        stylize_video(
            src, tmp_path / "past.mp4", style=STYLE_PATH, start_s=100.0, on_start=lambda *a: started.append(a), **TINY
        )
    assert started == []  # no 0/1 progress bar
    assert listing(tmp_path) == ["s5.mp4"] and list(work_root.iterdir()) == []
    assert our_threads() == []


def test_the_late_check_of_an_empty_range_cleans_up_too(tmp_path, src, work_root, monkeypatch):
    import vidstyle.pipeline.video as video

    real_probe = video.probe
    monkeypatch.setattr(video, "probe", lambda *a, **k: dataclasses.replace(real_probe(*a, **k), duration_s=None))
    with pytest.raises(InputError, match="no video frames to stylize in the requested range"):
        stylize_video(src, tmp_path / "past.mp4", style=STYLE_PATH, start_s=100.0, **TINY)
    assert listing(tmp_path) == ["s5.mp4"] and list(work_root.iterdir()) == []
    assert our_threads() == []


def test_a_failure_says_the_frames_are_kept_only_when_their_folder_is_there(tmp_path, src, monkeypatch):
    """Two runs onto one output: when the other run removed the shared work
    folder, the error does not point at it."""
    dst = tmp_path / "x.mp4"
    work = work_dir_for(dst)
    original = FrameStore.append

    def append_then_lose_the_folder(self, image_u8):
        original(self, image_u8)
        if self.count == 2:
            self.flush()
            import shutil

            shutil.rmtree(work)  # the winner finished and cleaned up
            raise OutputError("the encoder failed", exit_code=1)

    monkeypatch.setattr(FrameStore, "append", append_then_lose_the_folder)
    with pytest.raises(OutputError) as caught:
        stylize_video(src, dst, style=STYLE_PATH, **TINY)
    assert "are kept in" not in str(caught.value) and "the encoder failed" in str(caught.value)
    assert our_threads() == []
