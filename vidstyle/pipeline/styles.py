"""What a run paints with: style images, or a trained look (``--model``)
that carries its own style and, when it was trained with
``--preserve-colors``, keeps the video's colours."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.errors import InputError
from vidstyle.media import load_image
from vidstyle.training.look import read_payload


def style_paths_of(style, model=None) -> list:
    """``style`` as given to the API (one path, several, or None) -> a list of
    paths. With a look file (``model``) and no style, the look's path: the
    look carries its style, and runs record (and never overwrite) it."""
    if style is None:
        paths = []
    else:
        paths = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    return paths or ([model] if model is not None else [])


def load_styles(style, model=None) -> list[np.ndarray]:
    """One path or a sequence of paths -> list of uint8 RGB style images.
    With a look file (``model``) no style is needed (an empty list: the
    ``net`` engine paints the look's own style)."""
    paths = style_paths_of(style)
    if not paths:
        if model is not None:
            return []
        raise InputError("a style image is required (--style IMAGE), or a trained look (--model LOOK.pt)")
    return [load_image(path) for path in paths]


def look_notes(style, config: StyleConfig) -> tuple[StyleConfig, list[str]]:
    """``config`` as a look file (``config.model``) makes it, and the notes
    that say how: the look paints its own style (``style`` is not used) and
    keeps the video's colours if it was trained to."""
    config, colors = _look_colors(config)
    return config, [note for note in (_ignored_style_note(style, config.model), colors) if note is not None]


def _ignored_style_note(style, model) -> str | None:
    """The note of a run given both style images and a look: the look paints
    the style it was trained on."""
    if model is None or not style_paths_of(style):
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
