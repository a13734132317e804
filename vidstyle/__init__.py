"""vidstyle: turn a video into a painting that moves without flickering.

Gatys et al. (2016) style transfer with VGG19, made temporally consistent after
Ruder et al. (2016): flow-warped warm starts and a masked temporal loss.

    import vidstyle
    vidstyle.stylize_video("in.mp4", "out.mp4", style="art.jpg", max_side=256)
"""

from vidstyle.config import ExportConfig, StyleConfig
from vidstyle.errors import CorruptInputError, InputError, OutputError, VidstyleError

__version__ = "0.1.0"

__all__ = [
    "stylize_video",
    "stylize_image",
    "StyleConfig",
    "ExportConfig",
    "VidstyleError",
    "InputError",
    "CorruptInputError",
    "OutputError",
    "InterruptedRun",
]


def __getattr__(name):
    # The pipeline imports torch, PyAV and OpenCV: load it on first use so
    # `import vidstyle` and `vidstyle --help` stay fast.
    if name in ("stylize_video", "stylize_image"):
        from vidstyle import api

        return getattr(api, name)
    if name == "InterruptedRun":
        # a KeyboardInterrupt, not a VidstyleError: `except VidstyleError`
        # (the CLI's error line, the engines' fallbacks) must not catch Ctrl-C
        from vidstyle.pipeline.video import InterruptedRun

        return InterruptedRun
    raise AttributeError(name)
