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
import socket
from typing import Any
from urllib.parse import urlsplit

from vidstyle.errors import InputError

INSTALL_HINT = "pip install 'vidstyle[ray]'"
# ray.init retries an unreachable address for minutes; a TCP connect first
# answers within this many seconds (a refused port or unknown host at once)
REACH_TIMEOUT_S = 10.0


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
    if target:
        check_reachable(target)
    try:
        if target:  # workers' logs stay on their nodes: the driver shows one progress bar
            ray.init(address=target, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except ConnectionError as err:
        raise InputError(f"cannot reach the Ray cluster at {target}: {err}") from err
    return Connection(ray=ray, started=True, address=target or "local")


def check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """InputError unless a TCP connection to ``address`` (``host:port`` or
    ``ray://host:port``) opens within ``timeout_s``. An address without a
    port is left to Ray."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        raise InputError(f"not a Ray address: {address} (use host:port or ray://host:port)") from None
    if not host or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__  # "Connection refused", "Name or service not known", timeout
        raise InputError(
            f"cannot reach the Ray cluster at {address}: {reason} (is 'ray start --head' running there?)"
        ) from None
