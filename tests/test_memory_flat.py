"""A long run's memory stays flat. Nothing may be kept per frame
(events, results, losses, timings, index entries...): an hour of 30 fps video
is 108,000 frames. The optimizer is the instant fake, so this measures the
pipeline's own bookkeeping (decode, flow, temporal stage, work directory,
summary, encoder) with tracemalloc, which sees Python objects and numpy arrays."""

import statistics
import tracemalloc

from conftest import STYLE_PATH, make_clip, moving_frames
from fakes import fake_engine  # noqa: F401 - fixture

from vidstyle.pipeline import FrameDone, stylize_video

FRAMES = 400
EARLY = range(60, 160)  # after warm-up: caches filled, threads started
LATE = range(FRAMES - 100, FRAMES)
MAX_BYTES_PER_FRAME = 1000  # a kept 64x48 frame alone would be 9,216


def test_python_heap_does_not_grow_per_frame(tmp_path, fake_engine):
    src = make_clip(tmp_path / "long.mp4", frames=moving_frames(64, 48, FRAMES, velocity=(0.5, 0.25)), audio=True)
    traced: dict[int, int] = {}

    def on_event(event):
        if isinstance(event, FrameDone) and event.index % 5 == 0:
            traced[event.index] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        summary = stylize_video(src, tmp_path / "out.mp4", style=STYLE_PATH, on_event=on_event)
    finally:
        tracemalloc.stop()
    assert summary.frames == FRAMES and fake_engine.calls == FRAMES
    # Medians over windows of 20 samples: frames in flight between the
    # background threads make single samples noisy by tens of KB.
    early = statistics.median(v for i, v in traced.items() if i in EARLY)
    late = statistics.median(v for i, v in traced.items() if i in LATE)
    per_frame = (late - early) / (statistics.mean(LATE) - statistics.mean(EARLY))
    assert per_frame < MAX_BYTES_PER_FRAME, f"the Python heap grows by {per_frame:.0f} bytes per frame"
