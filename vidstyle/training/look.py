"""Look files: a trained network with its style, options and training summary.

A look file is a ``torch.save`` dict of tensors and plain values only:

    format "vidstyle-look", version, architecture (StyleNet's arguments),
    state_dict, styles (uint8 (H, W, 3) tensors), style_names, options
    (the StyleConfig fields that shaped the training), training (summary)

It is read with ``torch.load(weights_only=True)``: a file that holds pickled
Python objects (code) is refused with one line and never executed.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from typing import Any

import numpy as np
import torch

from vidstyle.config import StyleConfig
from vidstyle.engines.network import FORMER_LOGIT_EPS, StyleNet
from vidstyle.errors import InputError, OutputError
from vidstyle.media.destination import discard, make_temp_file, publish

LOOK_FORMAT = "vidstyle-look"
LOOK_VERSION = 1
LOOK_SUFFIX = ".pt"  # what 'vidstyle train -o' writes (checkpoints add .ckpt)
# The StyleConfig fields a look records: what the network learned with.
RECORDED_OPTIONS = (
    "content_weight",
    "style_weight",
    "tv_weight",
    "temporal_weight",
    "style_weights",
    "style_scale",
    "preserve_colors",
    "content_layers",
    "style_layers",
    "max_side",
    "size",
    "weights",
    "flow",
)


@dataclasses.dataclass
class Look:
    """A loaded look file.

    Attributes:
        net: the network, on the host, in evaluation mode.
        styles_u8: the style images it learned, uint8 ``(H, W, 3)``.
        style_names: their file names.
        options: the recorded StyleConfig fields (``RECORDED_OPTIONS``).
        training: the training summary (steps, seconds, losses, clips...).
    """

    net: StyleNet
    styles_u8: list[np.ndarray]
    style_names: list[str]
    options: dict
    training: dict

    def describe(self) -> dict:
        """JSON-able facts for run summaries (no pixels)."""
        return {"style_names": self.style_names, "options": self.options, "training": self.training}


def recorded_options(config: StyleConfig) -> dict:
    """The fields of ``config`` a look records (tuples as lists)."""
    return {name: list(v) if isinstance(v := getattr(config, name), tuple) else v for name in RECORDED_OPTIONS}


def with_recorded_options(config: StyleConfig, options: dict) -> StyleConfig:
    """``config`` with the fields a look recorded (``recorded_options``'
    inverse: lists back to tuples; fields this version lacks are ignored)."""
    recorded: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if hasattr(config, k)
    }
    return dataclasses.replace(config, **recorded)


def look_payload(net: StyleNet, *, styles_u8, style_names, config: StyleConfig, training: dict) -> dict:
    """What ``save_look`` writes (also the body of a training checkpoint)."""
    return {
        "format": LOOK_FORMAT,
        "version": LOOK_VERSION,
        "architecture": net.architecture(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "styles": [torch.from_numpy(np.ascontiguousarray(s)) for s in styles_u8],
        "style_names": list(style_names),
        "options": recorded_options(config),
        "training": dict(training),
    }


def atomic_save(payload: dict, path) -> None:
    """``torch.save`` to a private temporary name beside ``path``, then rename
    it into place with the permissions a plain write gives (0666 minus the
    umask for a new file, the old mode for a replaced one), as every other
    output (``media.destination.publish``). On failure the temporary file is
    removed and ``path`` is untouched.

    Raises:
        OutputError: exit code 1 (the folder is missing or not writable, the
            disk is full...).
    """
    path = os.fspath(path)
    temporary = make_temp_file(path, suffix=".tmp", exit_code=1)
    try:
        with open(temporary, "wb") as f:
            torch.save(payload, f)
    except BaseException as err:
        discard(temporary)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {path}: {err.strerror or err}", exit_code=1) from err
        raise
    publish(temporary, path)


def save_look(path, net: StyleNet, *, styles_u8, style_names, config: StyleConfig, training: dict) -> None:
    """Write a look file (atomically)."""
    atomic_save(look_payload(net, styles_u8=styles_u8, style_names=style_names, config=config, training=training), path)


def read_payload(path) -> dict:
    """The dict in a look (or checkpoint) file, read with ``weights_only=True``.

    Raises:
        InputError: missing, unreadable, pickled code, or not a look file.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder, not a look file")
    if not os.path.isfile(path):
        raise InputError(f"no such look file: {path}")
    check_archive(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise InputError(
            f"{path} is refused: it holds pickled Python objects (code) besides weights, which vidstyle "
            "never loads; use a look written by 'vidstyle train'"
        ) from err
    except Exception as err:  # a truncated or foreign file: zip and storage errors of every kind
        raise InputError(f"{path} is not a readable look file ({type(err).__name__}: {first_line(err)})") from err
    if not isinstance(payload, dict) or payload.get("format") != LOOK_FORMAT:
        raise InputError(f"{path} is not a vidstyle look file (no '{LOOK_FORMAT}' header)")
    if payload.get("version") != LOOK_VERSION:
        raise InputError(
            f"{path} is a look file of version {payload.get('version')}; this vidstyle reads version {LOOK_VERSION}"
        )
    return payload


def network_from_payload(payload: dict, *, path="look") -> StyleNet:
    """The StyleNet a payload describes, with its weights."""
    arch = payload.get("architecture") or {}
    try:
        net = StyleNet(
            channels=arch["channels"],
            residual_blocks=arch["residual_blocks"],
            output=arch.get("output", "tanh"),
            logit_eps=float(arch.get("logit_eps", FORMER_LOGIT_EPS)),
            prior=bool(arch.get("prior", False)),
            noise=int(arch.get("noise", 0)),
        )
        net.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise InputError(f"{path}: the network in this look file does not load ({first_line(err)})") from err
    weights = net.state_dict().items()
    damaged = [name for name, value in weights if value.is_floating_point() and not value.isfinite().all()]
    if damaged:
        raise InputError(f"{path} is damaged: weights {damaged[0]} are not finite numbers")
    return net.eval()


def check_archive(path: str) -> None:
    """InputError unless ``path`` is an intact zip archive (what ``torch.save``
    writes): a JPEG renamed .pt or an empty file is not a look, and a file
    with flipped bytes fails its CRC (torch itself would load it, and a
    damaged weight paints black frames)."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise InputError(f"{path} is not a look file (a look is the archive 'vidstyle train -o' writes)") from None
    if broken is not None:
        raise InputError(f"{path} is damaged: {broken} fails its checksum; train the look again or use a copy")


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (empty messages exist)."""
    return (str(err).splitlines() or [type(err).__name__])[0]


def load_look(path) -> Look:
    """Read a look file (see the module docstring)."""
    payload = read_payload(path)
    return Look(
        net=network_from_payload(payload, path=path),
        styles_u8=[s.numpy() for s in payload.get("styles", [])],
        style_names=list(payload.get("style_names", [])),
        options=dict(payload.get("options", {})),
        training=dict(payload.get("training", {})),
    )
