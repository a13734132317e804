"""An instant stand-in engine, for tests about files rather than style. It is
plugged in through the public engine seam (``vidstyle.engines.register_engine``)."""

from __future__ import annotations

import numpy as np
import pytest

from vidstyle import engines
from vidstyle.engines import FrameResult


class InvertingEngine:
    """An ``Engine`` whose "stylized" frame is the negative of the input,
    computed instantly, so a test can tell which input frame an output frame
    came from and check the pixels exactly.

    Class attributes (reset by the ``fake_engine`` fixture):
        calls: frames stylized so far (all instances).
        on_call: called with the 1-based call number before each frame;
            a test raises KeyboardInterrupt or inspects files there.
        warm_starts: for each call, whether it got a warm start.
        sizes: for each call, the ``(width, height)`` it stylized.
    """

    name = "invert"
    wants_warm_start = True
    min_iters = 1
    calls = 0
    on_call = None
    warm_starts: list[bool] = []
    sizes: list[tuple[int, int]] = []

    def __init__(self, styles_u8, *, config, device=None):
        self.config = config
        self.device = "cpu"

    def max_iters(self, *, cold: bool) -> int:
        return 1

    def required_bytes(self, size) -> int:
        return 3 * size[0] * size[1]

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        InvertingEngine.calls += 1
        InvertingEngine.warm_starts.append(warm is not None)
        InvertingEngine.sizes.append((content_u8.shape[1], content_u8.shape[0]))
        if InvertingEngine.on_call is not None:
            InvertingEngine.on_call(InvertingEngine.calls)
        return FrameResult(
            image_u8=np.ascontiguousarray(255 - content_u8),
            num_iters=1,
            converged=True,
            losses={"total": 0.0},
            seconds=0.001,
        )


@pytest.fixture
def fake_engine():
    """Make ``InvertingEngine`` the default engine (``optimize``) and the
    ``invert`` engine for the duration of a test."""
    original = engines.ENGINES["optimize"]
    engines.register_engine("optimize", InvertingEngine)
    engines.register_engine("invert", InvertingEngine)
    InvertingEngine.calls = 0
    InvertingEngine.on_call = None
    InvertingEngine.warm_starts = []
    InvertingEngine.sizes = []
    yield InvertingEngine
    engines.register_engine("optimize", original)
    engines.unregister_engine("invert")
    InvertingEngine.on_call = None
