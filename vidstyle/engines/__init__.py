"""Stylization engines behind one seam (``base.Engine``) and one constructor.

    engine = make_engine(config, styles_u8)      # config.engine picks the engine
    result = engine.stylize(content_u8, warm)    # warm: frames.WarmStart | None

The registry maps a name to ``"module:factory"``; modules are imported on
first use, so ``vidstyle --help`` does not load torch. A factory is called as
``factory(styles_u8, config=config, device=device)``. Other code (a plugin,
a test) adds engines with ``register_engine``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine, FrameResult, IterationDone
from vidstyle.errors import InputError

EngineFactory = Callable[..., Engine]

# name -> "module:attribute" (imported lazily) or a factory registered at run time.
ENGINES: dict[str, str | EngineFactory] = {
    "optimize": "vidstyle.engines.optimize:OptimizerEngine",
    "net": "vidstyle.training:network_engine",
}

__all__ = [
    "Engine",
    "FrameResult",
    "IterationDone",
    "make_engine",
    "memory_estimate",
    "tiled_memory_estimate",
    "register_engine",
    "unregister_engine",
    "engine_names",
    "ENGINES",
]


def engine_names() -> list[str]:
    """The names ``make_engine`` accepts."""
    return sorted(ENGINES)


def register_engine(name: str, factory: EngineFactory | str) -> None:
    """Make ``factory`` available as ``config.engine == name`` (replaces an
    engine of that name)."""
    if not name or not isinstance(name, str):
        raise ValueError(f"an engine needs a non-empty name, got {name!r}")
    ENGINES[name] = factory


def unregister_engine(name: str) -> None:
    """Remove an engine added with ``register_engine``."""
    ENGINES.pop(name, None)


def make_engine(
    config: StyleConfig,
    styles_u8: Sequence[np.ndarray],
    *,
    device=None,
    clips: Sequence | None = None,
    on_event: Callable[[Any], None] | None = None,
    **parts,
) -> Engine:
    """The engine ``config.engine`` names, built for ``styles_u8`` (uint8
    ``(H, W, 3)`` RGB style images).

    Args:
        device: a ``torch.device`` or name; None: ``config.device``.
        clips: the video files the engine is built to stylize. An engine that
            learns from the footage takes them (its factory has a ``clips``
            parameter: ``net`` without a look file trains on them); the
            others never see them.
        on_event: receives the engine's set-up events (a factory with an
            ``on_event`` parameter: the ``net`` engine's training progress,
            ``training.TrainingStarted``/``StepDone``...).
        parts: engine-specific ready parts (e.g. ``features=`` a shared VGG19
            trunk for the optimizer).
    """
    factory = _factory(config)
    takes = inspect.signature(factory).parameters
    if clips is not None and "clips" in takes:
        parts["clips"] = list(clips)
    if on_event is not None and "on_event" in takes:
        parts["on_event"] = on_event
    return factory(styles_u8, config=config, device=device, **parts)


def memory_estimate(config: StyleConfig, device) -> Callable[[tuple[int, int]], int] | None:
    """The peak bytes a frame of a given (width, height) needs with the engine
    ``config.engine`` on ``device``, known before the engine is built (its
    network loaded); None when the engine has no memory model.

    An engine class offers one as a static method
    ``estimate_required_bytes(size, *, config, device) -> int``."""
    estimate = getattr(_factory(config), "estimate_required_bytes", None)
    if estimate is None:
        return None
    return lambda size: estimate(size, config=config, device=device)


def tiled_memory_estimate(config: StyleConfig, device) -> Callable[[tuple[int, int], int], int] | None:
    """``memory_estimate`` for a (width, height) optimized in tiles of a given
    side (``engines/tiling.py``); None when the engine ``config.engine``
    cannot tile (its class has no true ``can_tile``) or has no memory model."""
    factory = _factory(config)
    estimate = getattr(factory, "estimate_required_bytes", None)
    if estimate is None or not getattr(factory, "can_tile", False):
        return None
    return lambda size, tile: estimate(size, config=dataclasses.replace(config, tile=tile), device=device)


def _factory(config: StyleConfig) -> EngineFactory:
    name = getattr(config, "engine", "optimize")
    entry = ENGINES.get(name)
    if entry is None:
        raise InputError(f"unknown engine {name!r}; choose one of {', '.join(engine_names())}")
    if isinstance(entry, str):
        module_name, _, attribute = entry.partition(":")
        entry = getattr(importlib.import_module(module_name), attribute)
    return entry
