"""What every file output shares: the path checks made before any work starts,
the temporary-name-then-rename mechanism that makes an output appear only
when complete, the permissions it then gets, and the finish-or-discard
behaviour of a writer used in a ``with`` block.

Permissions: a temporary file is created private (``mkstemp``: mode 0600,
``mkdtemp``: 0700) so that nobody reads half an output; ``publish`` gives the
finished file the mode a plain ``open(path, "w")`` would have given it (0666
minus the umask for a new file, the old mode for a file it replaces), as
FFmpeg or an editor would, just before renaming it into place.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Sequence

from vidstyle.errors import OutputError, OutputExistsError

PLAIN_FILE_MODE = 0o666  # what open(path, "w") asks for; the umask takes bits away
PLAIN_FOLDER_MODE = 0o777  # what os.mkdir asks for
_UMASK_LOCK = threading.Lock()
_PROC_STATUS = "/proc/self/status"


class OutputFolderRemoved(OutputError):
    """The folder an output was being written into disappeared mid-run (the
    user deleted it). Exit code 1.

    Attributes:
        folder: the folder that is gone.
        dst: the output that was being written into it.
        frames_written: frames the writer had taken before it noticed.
    """

    def __init__(self, folder: str, *, dst: str, frames_written: int):
        super().__init__(
            f"the output folder {folder} was removed while {os.path.basename(dst)} was being "
            f"written ({frames_written} frames written; nothing was saved there)",
            exit_code=1,
        )
        self.folder = folder
        self.dst = dst
        self.frames_written = frames_written


def check_destination(path, *, overwrite: bool, input_paths: Sequence = ()) -> None:
    """OutputError (exit code 2) when ``path`` cannot be written: its folder is
    missing, it is one of ``input_paths`` (even with ``overwrite``), it is a
    directory, it exists and ``overwrite`` is False, or its folder takes no
    new file (read-only, not ours: ``check_writable``). The checks every
    file output makes before any work starts."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"output folder does not exist: {folder}")
    if os.path.exists(path):
        for other in input_paths:
            if os.path.exists(other) and os.path.samefile(other, path):
                raise OutputError(f"refusing to overwrite the input {os.fspath(other)}; choose another output with -o")
        if os.path.isdir(path):
            raise OutputError(f"the output {path} is a directory")
        if not overwrite:
            raise OutputExistsError(f"{path} exists")
    check_writable(path)


def check_writable(dst) -> None:
    """OutputError (exit code 2) when the folder of ``dst`` takes no new file.
    The probe is the output's own mechanism: the temporary file it is written
    to (``make_temp_file``, which a video writer creates before its first
    frame), created and removed at once, so that an output written only after
    the work (a still image, a look file) is refused as early as a video."""
    discard(make_temp_file(dst, suffix=".check"))


def check_folder_still_there(folder: str, *, dst: str, frames_written: int) -> None:
    """OutputFolderRemoved when ``folder`` no longer exists (one ``stat``;
    writers call it per frame because writes into an open file of a deleted
    folder succeed silently and would only fail at the final rename)."""
    if not os.path.isdir(folder):
        raise OutputFolderRemoved(folder, dst=dst, frames_written=frames_written)


# ------------------------------------------------------------------ permissions


def current_umask() -> int:
    """The process umask (e.g. ``0o022``), read without changing it.

    Linux (4.7 and later) shows it in ``/proc/self/status``. Elsewhere it can
    only be read by setting it; it is then set to the strictest mask (0o077)
    for the instant before it is restored, under a lock, so a file another
    thread creates in that instant is at worst too private, never too open.
    """
    try:
        with open(_PROC_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def plain_file_mode(path) -> int:
    """The permission bits ``open(path, "w")`` would leave ``path`` with: an
    existing file keeps its own (a plain write truncates, it does not
    re-create), a new one gets 0666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        return PLAIN_FILE_MODE & ~current_umask()


def plain_folder_mode() -> int:
    """The permission bits ``os.mkdir`` gives a new folder: 0777 minus the umask."""
    return PLAIN_FOLDER_MODE & ~current_umask()


# ------------------------------------------------------------------ temporary name, then rename


def make_temp_file(dst, *, suffix: str, exit_code: int = 2) -> str:
    """An empty private file ``.NAME.XXXXXXXX<suffix>`` beside ``dst``;
    returns its path. OutputError with ``exit_code`` (2: a bad destination
    found before any work) when the folder is missing or not writable."""
    folder, name = os.path.split(os.path.abspath(os.fspath(dst)))
    try:
        fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=folder)
    except OSError as err:
        raise OutputError(f"cannot write in {folder}: {err.strerror or err}", exit_code=exit_code) from err
    os.close(fd)
    return path


def make_temp_folder(dst, *, suffix: str) -> str:
    """An empty private folder ``.NAME.XXXXXXXX<suffix>`` beside ``dst`` (the
    frames of an image sequence wait there); returns its path."""
    folder, name = os.path.split(os.path.abspath(os.fspath(dst)))
    try:
        return tempfile.mkdtemp(prefix=f".{name}.", suffix=suffix, dir=folder)
    except OSError as err:
        raise OutputError(f"cannot write in {folder}: {err.strerror or err}") from err


def make_output_folder(folder: str) -> bool:
    """Create ``folder`` (its parent exists) with a plain folder's permissions;
    returns True when it was created, False when it existed."""
    if os.path.isdir(folder):
        return False
    try:
        os.mkdir(folder, PLAIN_FOLDER_MODE)  # the umask applies, as for mkdir(1)
    except FileExistsError:
        return False
    except OSError as err:
        raise OutputError(f"cannot create the output folder {folder}: {err.strerror or err}") from err
    return True


def publish(tmp_path: str, path: str, *, dst: str | None = None, frames_written: int = 0) -> None:
    """Move the finished temporary file ``tmp_path`` onto ``path`` with the
    permissions a plain write of ``path`` would give it (see
    ``plain_file_mode``). The one place every file output is finished.

    Args:
        tmp_path: a complete file beside ``path`` (same folder: the rename is
            atomic, ``path`` never holds half an output).
        path: where it goes (the output, or its ``.partial`` name).
        dst: the output ``path`` stands for, for messages (default ``path``).
        frames_written: for the message when the folder has disappeared.

    Raises:
        OutputFolderRemoved: the folder was deleted while the file was written.
        OutputError: exit code 1 for any other failure; ``tmp_path`` is removed.
    """
    try:
        os.chmod(tmp_path, plain_file_mode(path))
        os.replace(tmp_path, path)
    except OSError as err:
        discard(tmp_path)
        folder = os.path.dirname(os.path.abspath(path))
        check_folder_still_there(folder, dst=dst or path, frames_written=frames_written)
        raise OutputError(f"cannot move the finished output onto {path}: {err.strerror or err}", exit_code=1) from err


def discard(path: str) -> None:
    """Remove a temporary file; a missing one is not an error."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------ finish or discard


class AtomicWriter:
    """Base of the writers whose output appears only when complete: leaving a
    ``with`` block normally calls ``close()`` (finish and rename into place),
    leaving it by an exception, or a ``close()`` that fails, calls ``abort()``
    (remove the temporary output)."""

    def close(self) -> str:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:
            self.abort()
            raise
