"""Connecting to Ray, and the one clear error when it is not installed.

``--ray auto`` joins the cluster named by ``RAY_ADDRESS`` when it is set, else
starts a local runtime on this machine (and stops it after the run);
``--ray ADDRESS`` joins that cluster (``ray://head:10001`` through Ray Client,
or ``host:6379`` from a node of the cluster). A runtime the caller already
started (``ray.init`` before ``stylize_video``) is used as it is. An address
of another form is refused with one line before anything starts
(``check_address``).

Ray's driver prints what the cluster reports (a task retried, a worker that
died) on standard output from a thread of its own; ``ray_messages_to`` sends
it elsewhere while a run lasts: to standard error for a caller of
``vidstyle.stylize_video(..., ray=...)``, so that a program's standard output
holds only what it prints itself, and for the CLI to standard error or, with
``-q``, nowhere, so that its standard output holds only its result (``--json``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import socket
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from vidstyle.errors import InputError

INSTALL_HINT = "pip install 'vidstyle[ray]'"
# ray.init retries an unreachable address for minutes; a TCP connect first
# answers within this many seconds (a refused port or unknown host at once)
REACH_TIMEOUT_S = 10.0
ADDRESS_FORMS = "use auto, host:port or ray://host:port"
# values ray.init itself takes for an address: the cluster on this node, a new local runtime
RAY_KEYWORDS = ("auto", "local")
_redirected: list[IO[str] | None] = []  # the streams of the ray_messages_to blocks open now, outermost first


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
    target = ray_target(address)
    if target:
        check_reachable(target)
    # Workers' logs stay on their nodes (the driver shows one progress bar), and Ray's
    # own log records on this side are errors only: "Connecting to existing Ray
    # cluster..." and the like would sit between the progress bar and the result.
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if target:
            ray.init(address=target, **options)
        else:
            ray.init(include_dashboard=False, **options)
    except ConnectionError as err:
        raise InputError(f"cannot reach the Ray cluster at {target}: {err}") from err
    return Connection(ray=ray, started=True, address=target or "local")


def ray_target(address: str) -> str | None:
    """The cluster ``address`` means: ``auto`` -> ``RAY_ADDRESS`` when it is
    set, else None (a local runtime started for the run); any other value as
    it is. InputError (one line, before anything starts) when it is not an
    address Ray takes (``check_address``)."""
    from_env = address == "auto" and bool(os.environ.get("RAY_ADDRESS"))
    target = os.environ.get("RAY_ADDRESS") if address == "auto" else address
    if target:
        check_address(target, source="RAY_ADDRESS" if from_env else None)
    return target or None


def check_address(address: str, *, source: str | None = None) -> None:
    """InputError unless ``address`` has a form Ray connects to: ``auto`` or
    ``local``, ``host:port``, or ``ray://host`` with an optional port (Ray
    Client). ``source`` names where the value came from (``RAY_ADDRESS``)."""
    if address in RAY_KEYWORDS:
        return
    scheme, _, rest = address.partition("://") if "://" in address else ("", "", address)
    parts = urlsplit(f"tcp://{rest}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, or out of range
        host, port = None, None
    well_formed = (
        scheme in ("", "ray")
        and bool(host)
        and not parts.path
        and not parts.query
        and (port is not None or scheme == "ray")  # Ray Client has a default port
    )
    if not well_formed:
        where = f"; set in {source}" if source else ""
        raise InputError(f"not a Ray address: {address} ({ADDRESS_FORMS}{where})")


@contextlib.contextmanager
def ray_messages_to(stream: IO[str] | None) -> Iterator[None]:
    """While the block runs, what Ray's driver prints on standard output goes
    to ``stream`` (None: nowhere), so that standard output holds only what the
    caller prints after the block.

    Ray's driver prints the errors the cluster publishes (``Task
    SegmentActor.run failed. There are 3 retries remaining...``, ``A worker
    died or was killed...``) to ``sys.stdout`` from a background thread
    (``ray._private.worker.listen_error_messages``) whatever ``log_to_driver``
    says; no ``ray.init`` option moves them. ``sys.stdout`` is swapped for the
    block, which the thread reads at each message, and the runtime a run
    started is shut down inside the block (``Connection.close``), thread
    included. Anything else written to ``sys.stdout`` meanwhile goes the same
    way: the CLI prints its result after the block.

    A block inside another changes nothing: the outermost one decides (the
    CLI's ``-q``, nowhere, around the API's standard error)."""
    if _redirected:
        yield
        return
    _redirected.append(stream)
    try:
        with contextlib.redirect_stdout(stream if stream is not None else _Discard()):
            yield
    finally:
        _redirected.pop()


class _Discard(io.TextIOBase):
    """A text stream that drops what is written to it (no file descriptor,
    like ``io.StringIO``; never closed: a thread may still hold it)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """InputError unless a TCP connection to ``address`` (``host:port`` or
    ``ray://host:port``) opens within ``timeout_s``. An address without a
    port is left to Ray."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        raise InputError(f"not a Ray address: {address} ({ADDRESS_FORMS})") from None
    if not host or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__  # "Connection refused", "Name or service not known", timeout
        raise InputError(
            f"cannot reach the Ray cluster at {address}: {reason} (is 'ray start --head' running there?)"
        ) from None
