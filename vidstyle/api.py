"""The public entry points, as ``vidstyle.stylize_video`` and
``vidstyle.stylize_image``: one machine by default, a Ray cluster when
``ray=`` is given (``vidstyle.distributed``, imported only then, so Ray stays
an optional extra). The CLI calls these too.

Both take the command line's options as keywords (``make_configs``:
``preset=``, the text forms such as ``output_size="640x360"``, ``model=``
selecting the ``net`` engine) and refuse arguments of the wrong type with an
InputError that says what to pass, before any work."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

import numpy as np

from vidstyle.config import make_configs
from vidstyle.errors import InputError, OutputExistsError
from vidstyle.pipeline import RunSummary
from vidstyle.pipeline import stylize_image as stylize_image_here
from vidstyle.pipeline import stylize_video as stylize_video_here
from vidstyle.pipeline.events import Event
from vidstyle.pipeline.styles import style_array, style_sources

__all__ = ["stylize_video", "stylize_image"]


def stylize_video(
    src, dst=None, *, style=None, on_event: Callable[[Event], None] | None = None, on_start=None, **options
) -> RunSummary:
    """Stylize the video ``src`` into ``dst`` (see ``pipeline.video.stylize_video``
    for every argument; ``style`` may be a path, a uint8 ``(H, W, 3)`` RGB
    array or a PIL image, or a list of them); with ``ray="auto"`` or ``ray="ray://HOST:PORT"`` the
    clip is cut into segments stylized on a Ray cluster (``workers=``,
    ``segment_frames=``, ``seam_frames=``) and assembled into the same output.
    While a Ray run lasts, what Ray's driver prints (a task retried, a worker
    that died) goes to standard error, never to standard output, and so does
    anything else written to ``sys.stdout`` meanwhile
    (``distributed.runtime.ray_messages_to``)."""
    if not _is_path(src):
        raise InputError(
            f"src must be the path of a video or of an image sequence (frames/%04d.png), got {_type_name(src)}"
            + ("; stylize_image takes an image array" if isinstance(src, np.ndarray) else "")
        )
    _check_common(dst, style, on_event=on_event, on_start=on_start)
    if options.get("ray") is None:
        with _api_terms():
            return stylize_video_here(src, dst, style=style, on_event=on_event, on_start=on_start, **options)
    from vidstyle.distributed import stylize_video_on_ray
    from vidstyle.distributed.runtime import ray_messages_to

    config, export = make_configs(**options)
    with ray_messages_to(sys.stderr), _api_terms():  # inside the CLI's block (-q: nowhere), that one decides
        return stylize_video_on_ray(
            src, dst, style=style, config=config, export=export, on_event=on_event, on_start=on_start
        )


def stylize_image(
    src, dst=None, *, style=None, on_event: Callable[[Event], None] | None = None, **options
) -> np.ndarray:
    """Stylize one still image, a path or a uint8 ``(H, W, 3)`` RGB array
    (see ``pipeline.still.stylize_image``; ``style`` as for ``stylize_video``);
    returns the result as such an array."""
    if not (_is_path(src) or isinstance(src, np.ndarray)):
        raise InputError(
            f"src must be a path or a uint8 (H, W, 3) RGB array, got {_type_name(src)}"
            + (" (numpy.asarray(image.convert('RGB')) makes one)" if _is_pil(src) else "")
        )
    _check_common(dst, style, on_event=on_event)
    with _api_terms():
        return stylize_image_here(src, dst, style=style, on_event=on_event, **options)


@contextlib.contextmanager
def _api_terms() -> Iterator[None]:
    """An existing output refused in the API's words: ``overwrite=True``, not
    the command line's ``-y`` (the CLI, the other caller, turns it back)."""
    try:
        yield
    except OutputExistsError as err:
        err.in_api_terms()
        raise  # the same exception and traceback, reworded


def _check_common(dst, style, **callbacks) -> None:
    """InputError for a ``dst``, ``style`` or callback of the wrong type, and
    for a style image array that is not uint8 ``(H, W, 3)`` RGB."""
    if dst is not None and not _is_path(dst):
        raise InputError(f"dst must be a path (str or os.PathLike) or None, got {_type_name(dst)}")
    for item in style_sources(style):
        if not _is_path(item):
            style_array(item)  # InputError for another type or a bad array (dtype, shape, NaN, empty)
    for name, callback in callbacks.items():
        if callback is not None and not callable(callback):
            raise InputError(f"{name} must be a callable (or None), got {_type_name(callback)}")


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_pil(value) -> bool:
    return type(value).__module__.startswith("PIL.")


def _type_name(value) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
