"""Connecting to Ray, and the one clear error when it is not installed.

``--ray auto`` joins the cluster named by ``RAY_ADDRESS`` when it is set, else
starts a local runtime on this machine (and stops it after the run);
``--ray ADDRESS`` joins that cluster (``ray://head:10001`` through Ray Client,
or ``host:6379`` from a node of the cluster). A runtime the caller already
started (``ray.init`` before ``stylize_video``) is used as it is.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from vidstyle.errors import InputError

INSTALL_HINT = "pip install 'vidstyle[ray]'"


def import_ray():
    """The ``ray`` module; InputError naming the install command without it."""
    try:
        import ray
    except ImportError as err:
        raise InputError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from err
    return ray


@dataclasses.dataclass
class Connection:
    """A Ray runtime this run uses; ``started`` when this run started it
    (then ``close`` stops it)."""

    ray: Any
    started: bool
    address: str

    @property
    def is_local(self) -> bool:
        """Every worker runs on this machine (and reads the input's path)."""
        return self.started and self.address == "local"

    def resources(self) -> dict[str, float]:
        return dict(self.ray.cluster_resources())

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def connect(address: str) -> Connection:
    """Join or start the runtime ``address`` names (see the module doc)."""
    ray = import_ray()
    if ray.is_initialized():
        return Connection(ray=ray, started=False, address="existing")
    target = os.environ.get("RAY_ADDRESS") if address == "auto" else address
    try:
        if target:  # workers' logs stay on their nodes: the driver shows one progress bar
            ray.init(address=target, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except ConnectionError as err:
        raise InputError(f"cannot reach the Ray cluster at {target}: {err}") from err
    return Connection(ray=ray, started=True, address=target or "local")
