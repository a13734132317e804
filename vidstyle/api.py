"""The public entry points, as ``vidstyle.stylize_video`` and
``vidstyle.stylize_image``: one machine by default, a Ray cluster when
``ray=`` is given (``vidstyle.distributed``, imported only then, so Ray stays
an optional extra). The CLI calls these too."""

from __future__ import annotations

from collections.abc import Callable

from vidstyle.config import make_configs
from vidstyle.pipeline import RunSummary, stylize_image
from vidstyle.pipeline import stylize_video as stylize_video_here
from vidstyle.pipeline.events import Event

__all__ = ["stylize_video", "stylize_image"]


def stylize_video(
    src, dst=None, *, style=None, on_event: Callable[[Event], None] | None = None, on_start=None, **options
) -> RunSummary:
    """Stylize the video ``src`` into ``dst`` (see ``pipeline.video.stylize_video``
    for every argument); with ``ray="auto"`` or ``ray="ray://HOST:PORT"`` the
    clip is cut into segments stylized on a Ray cluster (``workers=``,
    ``segment_frames=``, ``seam_frames=``) and assembled into the same output."""
    if options.get("ray") is None:
        return stylize_video_here(src, dst, style=style, on_event=on_event, on_start=on_start, **options)
    from vidstyle.distributed import stylize_video_on_ray

    config, export = make_configs(**options)
    return stylize_video_on_ray(
        src, dst, style=style, config=config, export=export, on_event=on_event, on_start=on_start
    )
