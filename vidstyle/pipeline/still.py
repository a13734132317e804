"""Still images: one picture stylized as a cold start, written atomically."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vidstyle.config import make_configs
from vidstyle.engines import make_engine, memory_estimate
from vidstyle.features import select_device
from vidstyle.media.images import check_image_destination, image_array, load_image, preserve_colors, resize, save_image
from vidstyle.pipeline.detail import DetailStage
from vidstyle.pipeline.events import Event, Notice
from vidstyle.pipeline.stages import uses_detail
from vidstyle.pipeline.styles import load_styles, look_notes, sizes_note, style_paths_of
from vidstyle.sizing import choose_size, output_size


def stylize_image(
    src, dst=None, *, style=None, on_event: Callable[[Event], None] | None = None, **options
) -> np.ndarray:
    """Stylize one still image (a path, or a uint8 ``(H, W, 3)`` RGB array);
    writes ``dst`` when given and returns
    the uint8 ``(H, W, 3)`` RGB result at the output size (the source's size
    unless ``output_size`` says otherwise). Processed at a smaller size
    (``sizing``), the result is finished at the output size by the detail
    stage (``pipeline/detail.py``, a cold start there).

    ``dst`` is refused (OutputError, exit code 2) before any work, as a
    video's output is, when it exists without ``overwrite=True``, is the
    content or a style image, or its folder is missing or takes no new file
    (``media.destination.check_destination``); it is written atomically.
    The sizes chosen, and a processing size reduced to fit in memory, are
    reported as notices to ``on_event``."""
    config, export = make_configs(**options)
    original = image_array(src) if isinstance(src, np.ndarray) else load_image(src)
    src_paths = [] if isinstance(src, np.ndarray) else [src]
    style_paths = style_paths_of(style, config.model)
    if dst is not None:  # up front: the result is written only after all the work
        check_image_destination(dst, overwrite=export.overwrite, input_paths=[*src_paths, *style_paths])
    h, w = original.shape[:2]
    device = select_device(config.device)
    choice = choose_size((w, h), config, required_bytes=memory_estimate(config, device), device=device, even=False)
    emit = on_event or (lambda event: None)
    if choice.note is not None:
        emit(Notice(choice.note))
    config, notes = look_notes(style, config)
    for note in notes:
        emit(Notice(note))
    engine = make_engine(config, load_styles(style, config.model), device=device)
    out_size = output_size((w, h), config)
    detail = uses_detail(engine, choice.size, out_size, config)
    emit(Notice(sizes_note(choice.size, out_size, config, device=device, detail=detail)))
    final = resize(original, out_size)
    low = engine.stylize(resize(original, choice.size))
    result = low.image_u8
    if detail:
        stage = DetailStage(engine, out_size, iters=config.detail_iters, temporal=config.temporal)
        result = stage.finish(final, low, None).image_u8
    result = resize(result, out_size)
    if config.preserve_colors:
        result = preserve_colors(result, final)
    if dst is not None:
        save_image(dst, result)
    return result
