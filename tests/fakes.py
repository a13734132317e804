"""A stand-in for the VGG optimizer, for tests about files rather than style."""

from __future__ import annotations

import numpy as np
import pytest

from vidstyle.engines.optimize import FrameResult


class InvertingStylizer:
    """Same interface as ``Stylizer``; the "stylized" frame is the negative of
    the input, computed instantly, so a test can tell which input frame an
    output frame came from and check the pixels exactly.

    Class attributes (reset by the ``fake_stylizer`` fixture):
        calls: frames stylized so far (all instances).
        on_call: called with the 1-based call number before each frame;
            a test raises KeyboardInterrupt or inspects files there.
    """

    calls = 0
    on_call = None

    def __init__(self, styles_u8, *, config):
        self.config = config
        self.device = "cpu"

    def stylize(self, content_u8, *, init=None, temporal=None, max_iters, min_iters=0, on_iteration=None):
        InvertingStylizer.calls += 1
        if InvertingStylizer.on_call is not None:
            InvertingStylizer.on_call(InvertingStylizer.calls)
        return FrameResult(image_u8=np.ascontiguousarray(255 - content_u8), num_iters=1, converged=True,
                           losses={"total": 0.0}, seconds=0.001)


@pytest.fixture
def fake_stylizer(monkeypatch):
    """Replace the optimizer in ``vidstyle.pipeline`` by ``InvertingStylizer``."""
    monkeypatch.setattr("vidstyle.pipeline.video.Stylizer", InvertingStylizer)
    InvertingStylizer.calls = 0
    InvertingStylizer.on_call = None
    yield InvertingStylizer
    InvertingStylizer.on_call = None
