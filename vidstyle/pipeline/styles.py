"""What a run paints with: style images (files; through the Python API also
uint8 RGB arrays and PIL images), or a trained look (``--model``) that
carries its own style and, when it was trained with ``--preserve-colors``,
keeps the video's colours."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.errors import InputError
from vidstyle.media import load_image
from vidstyle.media.images import image_array, is_pil_image
from vidstyle.pipeline.detail import wants_detail
from vidstyle.pipeline.workdir import file_identity
from vidstyle.sizing import describe_sizes
from vidstyle.training.look import read_payload

SCALE_NOTE_RATIO = 1.25  # a look used this many times above or below its training size gets a note


def style_sources(style, model=None) -> list:
    """``style`` as given to the API -> a list of style images: one image
    (a path, a uint8 ``(H, W, 3)`` RGB array or a PIL image), a list or tuple
    of them, or None. With a look file (``model``) and no style, the look's
    path: the look carries its style."""
    if style is None:
        sources = []
    else:
        sources = list(style) if isinstance(style, (list, tuple)) else [style]
    return sources or ([model] if model is not None else [])


def style_paths_of(style, model=None) -> list:
    """The files among ``style_sources(style, model)``: those a run records
    and never overwrites (a look file's path with no style given)."""
    return [item for item in style_sources(style, model) if isinstance(item, (str, os.PathLike))]


def style_array(item) -> np.ndarray:
    """A style image given as pixels rather than a path, as uint8 ``(H, W, 3)``
    RGB (``media.images.image_array``: a PIL image is converted); InputError
    for a bad array (its dtype and shape named) or anything else."""
    if not (isinstance(item, np.ndarray) or is_pil_image(item)):
        kind = type(item)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise InputError(
            "style must be an image path (or a uint8 (H, W, 3) RGB array or a PIL image), or a list of them, "
            f"got {name}"
        )
    return image_array(item, what="style image array")


def style_name(item) -> str:
    """How a style image is named in what a run records: its path, or
    ``<array WxH>`` for one given as pixels."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    height, width = style_array(item).shape[:2]
    return f"<array {width}x{height}>"


def style_identity(item) -> dict:
    """A style image's part of a run's fingerprint: ``workdir.file_identity``
    of a file; the name (``style_name``) and a hash of the pixels of an array."""
    if isinstance(item, (str, os.PathLike)):
        return file_identity(item)
    pixels = np.ascontiguousarray(style_array(item))
    digest = hashlib.sha256(f"{pixels.shape}".encode() + pixels.tobytes()).hexdigest()
    return {"name": style_name(item), "sha256": digest}


def load_styles(style, model=None) -> list[np.ndarray]:
    """Style images (``style_sources``) -> list of uint8 RGB style images.
    With a look file (``model``) no style is needed (an empty list: the
    ``net`` engine paints the look's own style)."""
    sources = style_sources(style)
    if not sources:
        if model is not None:
            return []
        raise InputError("a style image is required (--style IMAGE), or a trained look (--model LOOK.pt)")
    return [load_image(item) if isinstance(item, (str, os.PathLike)) else style_array(item).copy() for item in sources]


def look_notes(style, config: StyleConfig) -> tuple[StyleConfig, list[str]]:
    """``config`` as a look file (``config.model``) makes it, and the notes
    that say how: the look paints its own style (``style`` is not used) and
    keeps the video's colours if it was trained to."""
    config, colors = _look_colors(config)
    return config, [note for note in (_ignored_style_note(style, config.model), colors) if note is not None]


def _ignored_style_note(style, model) -> str | None:
    """The note of a run given both style images and a look: the look paints
    the style it was trained on."""
    if model is None or not style_sources(style):
        return None
    return f"--style is not used: the look {os.fspath(model)} paints the style it was trained on"


def _look_colors(config: StyleConfig) -> tuple[StyleConfig, str | None]:
    """A look trained with ``--preserve-colors`` keeps the video's colours
    when it paints: ``config`` with ``preserve_colors`` True and the note that
    says so, where ``config.model`` recorded it and the option was left unset
    (None); otherwise ``config`` unchanged and no note."""
    if config.model is None or config.preserve_colors is not None:
        return config, None
    if not read_payload(config.model).get("options", {}).get("preserve_colors"):
        return config, None
    note = (
        f"keeping the video's colours: the look {os.fspath(config.model)} was trained with --preserve-colors "
        "(--no-preserve-colors for the style's colours)"
    )
    return dataclasses.replace(config, preserve_colors=True), note


def look_training_size(model) -> tuple[int, int] | None:
    """The (width, height) of the frames the look file ``model`` was trained on (None: not recorded)."""
    size = read_payload(model).get("training", {}).get("size")
    return (int(size[0]), int(size[1])) if size else None


def sizes_note(
    size, out_size, config: StyleConfig, *, device, detail: bool, detail_stage: bool = True, why: str | None = None
) -> str:
    """``sizing.describe_sizes``' note, and with a look (``config.model``)
    stylizing at a processing ``size`` far from the size it was trained at,
    what that does: a feed-forward look paints strokes of a fixed size in
    pixels, so they shrink or grow relative to the frame. ``detail_stage``:
    the command has a detail stage (``vidstyle live`` has none); ``why``: as
    for ``describe_sizes``."""
    note = describe_sizes(size, out_size, config, device=device, detail=detail, why=why)
    trained = look_training_size(config.model) if config.model is not None else None
    if not trained:
        return note
    painted = out_size if detail else size  # the detail stage runs the look again at the output size
    ratio = max(painted) / max(trained)
    if 1 / SCALE_NOTE_RATIO < ratio < SCALE_NOTE_RATIO:
        return note
    relative = f"{ratio:.1f}x finer" if ratio > 1 else f"{1 / ratio:.1f}x coarser"
    at_trained_size_detail = detail_stage and wants_detail((trained[0], trained[1]), out_size, config.detail_iters)
    as_trained = f"--max-side {max(trained)}" + (" --detail-iters 0" if at_trained_size_detail else "")
    return (
        f"{note}; the look was trained at {trained[0]}x{trained[1]} and paints strokes of a fixed size in pixels, "
        f"{relative} relative to the frame at {painted[0]}x{painted[1]} ({as_trained} paints them as trained, "
        f"resized; or train the look at --max-side {max(painted)})"
    )
