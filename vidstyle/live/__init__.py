"""Live mode: stylize a camera or a stream in real time (``vidstyle live``).

    capture thread (capture.py): source frames -> LatestFrame mailbox (one slot: newer replaces older)
    live loop (loop.py):         take newest -> motion vs. previous *processed* frame ->
                                 warm start -> engine, within the frame's time budget (budget.py)
                                 -> output size -> sinks (sinks.py: recording, stream, loopback, preview)

Real-time policy. Live video drops frames, files never do: the capture thread
decodes at the source's pace and leaves only the newest frame in a one-slot
mailbox; older frames that the engine never took are counted as dropped,
never queued, so memory and latency stay bounded however slow the engine is.
Each frame gets a time budget (``1/target_fps``, or what is left of
``max_latency_s`` since its capture; a cold start gets ``COLD_BUDGET_FACTOR``
budgets), which ``IterationBudget`` turns into an iteration cap from the
measured seconds per iteration (an EMA), between the engine's ``min_iters``
and its ``max_iters(cold=...)``.

Temporal consistency (Ruder et al. 2016) works between the frames actually
processed, through the shared motion package (``MotionEstimator``,
``WarmStarter``): the flow is measured from the previous processed input to
the current one, however many frames were dropped between them; a large gap
simply shows as a larger motion. Because of those gaps live mode cold-starts
only when the colours change (another shot), never because the flow is
unreliable, and fills badly explained regions of the start image with the
content frame (see ``loop.py``). Flow is skipped altogether without
``config.temporal`` or for an engine that takes no warm start.

Output size: frames are stylized at the processing size and handed to the
sinks scaled to the output size (``run_live(output_size=...)``; the command
line: ``--output-size``, else the source's size). There is no detail stage
live: the scaling is a plain resize.

Output timestamps are the wall clock (ms since the start), so a recording
plays at the pace it was made; its first frame is shown from the start and
its last is held until the run stopped, so it lasts as long as the run
(``RecordingSink``). The library reports progress as events
(``LiveStatus``, ``StillSaved``) and returns a ``LiveSummary``; it never
prints (the command line is ``vidstyle.cli.live``).
"""

from vidstyle.live.budget import COLD_BUDGET_FACTOR, IterationBudget, IterationClock
from vidstyle.live.capture import Captured, CaptureThread, LatestFrame
from vidstyle.live.loop import (
    DEFAULT_TARGET_FPS,
    LIVE_CUT_POLICY,
    LiveEvent,
    LiveOptions,
    LiveStatus,
    LiveSummary,
    StillSaved,
    default_num_threads,
    run_live,
)
from vidstyle.live.sinks import (
    OUTPUT_TIME_BASE,
    PreviewWindow,
    RecordingSink,
    Sink,
    StreamSink,
    check_recording_name,
)

__all__ = [
    "run_live",
    "LiveOptions",
    "LiveSummary",
    "LiveStatus",
    "StillSaved",
    "LiveEvent",
    "default_num_threads",
    "DEFAULT_TARGET_FPS",
    "LIVE_CUT_POLICY",
    "IterationBudget",
    "IterationClock",
    "COLD_BUDGET_FACTOR",
    "LatestFrame",
    "Captured",
    "CaptureThread",
    "Sink",
    "RecordingSink",
    "StreamSink",
    "PreviewWindow",
    "OUTPUT_TIME_BASE",
    "check_recording_name",
]
