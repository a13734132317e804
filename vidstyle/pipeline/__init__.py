"""Files and still images: decode -> motion -> engine -> encode, with resume
(``workdir``), multi-pass refinement and a constant-memory run summary."""

from vidstyle.pipeline.events import Event, FrameDone, FrameStarted, Notice, PassStarted, WorkResumed
from vidstyle.pipeline.still import stylize_image
from vidstyle.pipeline.styles import load_styles
from vidstyle.pipeline.summary import RunSummary
from vidstyle.pipeline.video import InterruptedRun, default_output_path, stylize_video

__all__ = [
    "stylize_video",
    "stylize_image",
    "RunSummary",
    "InterruptedRun",
    "default_output_path",
    "load_styles",
    "Event",
    "FrameDone",
    "FrameStarted",
    "Notice",
    "PassStarted",
    "WorkResumed",
]
