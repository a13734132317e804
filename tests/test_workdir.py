"""The resumable frame store: complete frames survive, incomplete ones do not."""

import numpy as np

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


def test_a_frame_whose_pixels_were_cut_short_is_not_counted(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    store.append(frame(1))
    store.append(frame(2))
    data = tmp_path / "w" / "frames.u8"
    data.write_bytes(data.read_bytes()[:-10])  # a crash in the middle of frame 2's pixels
    again = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    assert again.resumed == 1
    again.append(frame(3))
    assert int(again.read(1)[0, 0, 0]) == 3 and data.stat().st_size == 2 * np.prod(SHAPE)


def test_replace_overwrites_in_place_and_remove_cleans_up(tmp_path):
    store = FrameStore(tmp_path / "w", fingerprint={}, shape=SHAPE)
    store.append(frame(1))
    store.append(frame(2))
    store.replace(0, frame(9))
    assert int(store.read(0)[0, 0, 0]) == 9 and int(store.read(1)[0, 0, 0]) == 2
    store.remove()
    assert not (tmp_path / "w").exists()
