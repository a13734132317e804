"""The resumable frame store: complete frames survive, incomplete ones do
not; saving on a background thread keeps both and raises a full disk in the
caller's thread."""

import errno
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import ROOT

from vidstyle.errors import OutputError
from vidstyle.pipeline.workdir import FrameStore

SHAPE = (6, 8, 3)


def frame(value):
    return np.full(SHAPE, value, dtype=np.uint8)


def test_frames_survive_a_reopen_with_the_same_fingerprint(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={"a": 1}, shape=SHAPE)
    for v in (10, 20, 30):
        store.append(frame(v))
    again = FrameStore(tmp_path / "w", fingerprint={"a": 1}, shape=SHAPE)
    assert again.resumed == 3 and again.restart_reason is None
    assert [int(again.read(i)[0, 0, 0]) for i in range(3)] == [10, 20, 30]


def test_a_changed_fingerprint_or_no_resume_starts_over(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={"a": 1}, shape=SHAPE)
    store.append(frame(1))
    changed = FrameStore(tmp_path / "w", fingerprint={"a": 2}, shape=SHAPE)
    assert changed.resumed == 0 and "changed" in changed.restart_reason
    changed.append(frame(5))
    fresh = FrameStore(tmp_path / "w", fingerprint={"a": 2}, shape=SHAPE, resume=False)
    assert fresh.resumed == 0 and "no-resume" in fresh.restart_reason


def test_an_unreadable_fingerprint_starts_over_and_says_so(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={"a": 1}, shape=SHAPE)
    store.append(frame(1))
    store.flush()
    (tmp_path / "w" / "frames.json").write_text("{ cut short")
    again = FrameStore(tmp_path / "w", fingerprint={"a": 1}, shape=SHAPE)
    assert again.resumed == 0 and "frames.json is unreadable" in again.restart_reason
    fresh = FrameStore(tmp_path / "fresh", fingerprint={"a": 1}, shape=SHAPE)
    assert fresh.restart_reason is None  # a first run has nothing to start over from


def test_a_frame_whose_pixels_were_cut_short_is_not_counted(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    store.append(frame(1))
    store.append(frame(2))
    store.flush()
    data = tmp_path / "w" / "frames.u8"
    data.write_bytes(data.read_bytes()[:-10])  # a crash in the middle of frame 2's pixels
    again = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    assert again.resumed == 1
    again.append(frame(3))
    again.flush()  # on disk
    assert int(again.read(1)[0, 0, 0]) == 3 and data.stat().st_size == 2 * np.prod(SHAPE)


def test_replace_overwrites_in_place_and_remove_cleans_up(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    store.append(frame(1))
    store.append(frame(2))
    store.replace(0, frame(9))
    assert int(store.read(0)[0, 0, 0]) == 9 and int(store.read(1)[0, 0, 0]) == 2
    store.remove()
    assert not (tmp_path / "w").exists()


# ------------------------------------------------------------------ saving on a background thread


class SlowDisk:
    """``FrameStore._write_pixels`` that waits until ``release`` (a disk busy
    with the earlier frames) or raises ``fail_at``'s OSError."""

    def __init__(self, monkeypatch, *, fail_at: int | None = None):
        self.gate = threading.Event()
        self.fail_at = fail_at
        write = FrameStore._write_pixels

        def slow(store, index, image, *, truncate):
            if index == self.fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.gate.wait(timeout=30)
            return write(store, index, image, truncate=truncate)

        monkeypatch.setattr(FrameStore, "_write_pixels", slow)

    def release(self):
        self.gate.set()


def frames_on_disk(path) -> int:
    """Complete frames as a resuming run counts them."""
    return FrameStore(path, fingerprint={}, shape=SHAPE).resumed


def test_appended_frames_count_and_read_back_before_they_reach_the_disk(tmp_path, monkeypatch):
    disk = SlowDisk(monkeypatch)
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE, depth=3)
    source = frame(0)
    for v in (10, 20, 30):  # the disk takes none of them yet: append does not wait
        source[:] = v
        store.append(source)  # the store keeps its own copy: the caller may reuse the array
    assert store.count == 3
    assert [int(store.read(i)[0, 0, 0]) for i in range(3)] == [10, 20, 30]
    assert (tmp_path / "w" / "frames.u8").stat().st_size == 0
    disk.release()
    store.flush()
    assert (tmp_path / "w" / "frames.u8").stat().st_size == 3 * np.prod(SHAPE)
    again = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    assert again.resumed == 3 and [int(again.read(i)[0, 0, 0]) for i in range(3)] == [10, 20, 30]


def test_at_most_depth_frames_wait_for_the_disk(tmp_path, monkeypatch):
    disk = SlowDisk(monkeypatch)
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE, depth=2)
    store.append(frame(1))
    store.append(frame(2))
    third = threading.Thread(target=store.append, args=(frame(3),))
    third.start()
    third.join(timeout=0.3)
    assert third.is_alive() and store.count == 2  # the third waits for a free place
    disk.release()
    third.join(timeout=30)
    store.flush()
    assert store.count == 3 and frames_on_disk(tmp_path / "w") == 3


def test_a_full_disk_is_raised_in_the_callers_thread_as_one_clear_error(tmp_path, monkeypatch):
    disk = SlowDisk(monkeypatch, fail_at=2)
    disk.release()
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    for v in (1, 2, 3):
        store.append(frame(v))
    with pytest.raises(OutputError, match=r"cannot save frame 2 in the work directory .*No space left") as caught:
        for v in (4, 5, 6, 7):  # the failure is raised by the next call at the latest...
            store.append(frame(v))
        store.flush()  # ...or by flush
    assert caught.value.exit_code == 1 and isinstance(caught.value.__cause__, OSError)
    assert store.count == 2 and frames_on_disk(tmp_path / "w") == 2  # the frames before stay valid
    store.flush()  # raised once
    disk.fail_at = None  # space freed: the store goes on from the last saved frame
    store.append(frame(3))
    store.flush()
    assert store.count == 3 and [int(store.read(i)[0, 0, 0]) for i in range(3)] == [1, 2, 3]


def test_flush_without_raising_settles_the_count_on_the_frames_on_disk(tmp_path, monkeypatch):
    disk = SlowDisk(monkeypatch, fail_at=1)
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    store.append(frame(1))
    store.append(frame(2))
    disk.release()
    store.flush(raise_error=False)  # a caller that already reports another error
    assert store.count == 1 and frames_on_disk(tmp_path / "w") == 1


def test_a_run_that_exits_without_flush_still_saves_every_handed_over_frame(tmp_path):
    """Ctrl-C in a program that never flushes: the saving thread finishes
    the waiting frames before the interpreter exits."""
    program = f"""
import numpy as np, time
from vidstyle.pipeline.workdir import FrameStore
write = FrameStore._write_pixels
def slow(store, index, image, *, truncate):
    time.sleep(0.2)
    write(store, index, image, truncate=truncate)
FrameStore._write_pixels = slow
store = FrameStore({str(tmp_path / "w")!r}, fingerprint={{}}, shape={SHAPE!r})
for v in range(3):
    store.append(np.full({SHAPE!r}, v, np.uint8))
raise KeyboardInterrupt
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "KeyboardInterrupt" in done.stderr
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    assert store.resumed == 3 and [int(store.read(i)[0, 0, 0]) for i in range(3)] == [0, 1, 2]
