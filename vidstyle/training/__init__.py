"""Training feed-forward looks (``vidstyle train``) and the ``net`` engine's factory.

    trained = train_look(styles_u8, config=config, clips=["clip.mp4"], options=TrainingOptions(minutes=5))
    save_look("look.pt", trained.net, ...)     # or write trained.payload with atomic_save
    engine = make_engine(StyleConfig(model="look.pt", engine="net"), styles_u8)

Modules: ``data`` (frame pairs, flow, masks, random crops), ``loop`` (the
training loop, its events and checkpoints), ``look`` (look files). The
network and the inference engine live in ``engines/network.py``; this
package imports the engines, never the other way round (the registry names
``network_engine`` by string).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.engines.network import NetworkEngine
from vidstyle.training.look import Look, load_look, save_look, with_recorded_options
from vidstyle.training.loop import (
    CheckpointSaved,
    StepDone,
    Trained,
    TrainingDone,
    TrainingNote,
    TrainingOptions,
    TrainingStarted,
    checkpoint_path,
    remove_checkpoint,
    train_look,
)

__all__ = [
    "train_look",
    "TrainingOptions",
    "Trained",
    "TrainingStarted",
    "StepDone",
    "CheckpointSaved",
    "TrainingDone",
    "TrainingNote",
    "Look",
    "load_look",
    "save_look",
    "network_engine",
    "checkpoint_path",
    "remove_checkpoint",
]


def network_engine(
    styles_u8: Sequence[np.ndarray], *, config: StyleConfig, device=None, clips: Sequence | None = None, on_event=None
) -> NetworkEngine:
    """The ``net`` engine (``engines.ENGINES``): the network of the look file
    ``config.model``, or, without one, a network trained now on ``clips``
    (default: the bundled sample clip) for ``styles_u8`` within
    ``config.train_minutes`` / ``config.train_steps``.

    With ``config.model`` the look's own style is used; ``styles_u8`` is not.
    """
    if config.model is not None:
        look = load_look(config.model)
        refiner = _refiner(look.styles_u8, look.options, config=config, device=device)
        return NetworkEngine(look.net, config=config, device=device, look=look.describe(), refiner=refiner)
    options = TrainingOptions(steps=config.train_steps, minutes=config.train_minutes, seed=config.seed)
    trained = train_look(
        styles_u8, config=config, clips=clips, options=options, device=device, on_event=on_event, on_the_fly=True
    )
    return NetworkEngine(
        trained.net,
        config=config,
        device=device,
        look={"training": trained.payload["training"], "options": trained.payload["options"]},
        refiner=_refiner(styles_u8, trained.payload["options"], config=config, device=device),
    )


def _refiner(styles_u8: Sequence[np.ndarray], options: dict, *, config: StyleConfig, device):
    """The optimizer that refines network frames (``config.net_refine`` > 0),
    with the look's style and recorded loss options; None without refinement."""
    if config.net_refine <= 0:
        return None
    from vidstyle.engines.optimize import OptimizerEngine

    return OptimizerEngine(styles_u8, config=with_recorded_options(config, options), device=device)


network_engine.estimate_required_bytes = NetworkEngine.estimate_required_bytes  # type: ignore[attr-defined]
