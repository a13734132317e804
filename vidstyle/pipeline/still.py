"""Still images: one picture stylized as a cold start, written atomically."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vidstyle.config import make_configs
from vidstyle.engines import make_engine, memory_estimate
from vidstyle.features import select_device
from vidstyle.media.images import check_image_destination, load_image, preserve_colors, resize, save_image
from vidstyle.pipeline.events import Event, Notice
from vidstyle.pipeline.video import load_styles, style_paths_of
from vidstyle.sizing import choose_size


def stylize_image(src, dst=None, *, style, on_event: Callable[[Event], None] | None = None, **options) -> np.ndarray:
    """Stylize one still image (a path); writes ``dst`` when given and returns
    the uint8 ``(H, W, 3)`` RGB result at the processing size (the source
    size with ``keep_size``).

    ``dst`` is refused (OutputError) when it exists without ``overwrite=True``
    or is the content or a style image; it is written atomically. A processing
    size reduced to fit in memory is reported as a ``Notice`` to ``on_event``."""
    config, export = make_configs(**options)
    content = load_image(src)
    h, w = content.shape[:2]
    device = select_device(config.device)
    choice = choose_size((w, h), config, required_bytes=memory_estimate(config, device), device=device, even=False)
    if choice.note is not None and on_event is not None:
        on_event(Notice(choice.note))
    style_paths = style_paths_of(style)
    if dst is not None:
        check_image_destination(dst, overwrite=export.overwrite, input_paths=[src, *style_paths])
    engine = make_engine(config, load_styles(style), device=device)
    content = resize(content, choice.size)
    result = engine.stylize(content).image_u8
    if config.preserve_colors:
        result = preserve_colors(result, content)
    if config.keep_size:
        result = resize(result, (w, h))
    if dst is not None:
        save_image(dst, result)
    return result
