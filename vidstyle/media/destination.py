"""What every output shares: the path checks made before any work starts,
and the finish-or-discard behaviour of a writer used in a ``with`` block."""

from __future__ import annotations

import os
from collections.abc import Sequence

from vidstyle.errors import OutputError


def check_destination(path, *, overwrite: bool, input_paths: Sequence = ()) -> None:
    """OutputError (exit code 2) when ``path`` cannot be written: its folder is
    missing, it is one of ``input_paths`` (even with ``overwrite``), it is a
    directory, or it exists and ``overwrite`` is False."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"output folder does not exist: {folder}")
    if not os.path.exists(path):
        return
    for other in input_paths:
        if os.path.exists(other) and os.path.samefile(other, path):
            raise OutputError(f"refusing to overwrite the input {os.fspath(other)}; choose another output with -o")
    if os.path.isdir(path):
        raise OutputError(f"the output {path} is a directory")
    if not overwrite:
        raise OutputError(f"{path} exists; pass -y to overwrite it")


class AtomicWriter:
    """Base of the writers whose output appears only when complete: leaving a
    ``with`` block normally calls ``close()`` (finish and rename into place),
    leaving it by an exception calls ``abort()`` (remove the temporary output)."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
