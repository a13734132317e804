"""One run at a time in a work directory (``workdir.work_dir_for``).

Two runs writing the same output share its work directory, so without a
lock the second one would truncate, rewrite or delete the frames of the
first. ``WorkLock`` holds an exclusive advisory lock on ``run.lock`` inside
the work directory for the whole run; a second run onto the same output
is refused with one line (OutputError, exit code 2) before it writes
anything, and the first run's files are left alone.

The lock belongs to the open file, not to the file on disk: the operating
system drops it when the process ends in any way (``kill -9``, a power cut
clears it too), so a leftover ``run.lock`` is never stale and resuming
after a crash just works. POSIX: ``fcntl.flock``; Windows: ``msvcrt.locking``
on the file's first byte, likewise released when the process ends;
elsewhere (or on a filesystem that cannot lock, such as some network
mounts) no lock is taken and runs are not protected from each other.
"""

from __future__ import annotations

import errno
import os
import sys

from vidstyle.errors import OutputError

LOCK_NAME = "run.lock"
_ATTEMPTS = 5  # a lock file removed by the run that held it is opened again this often


class WorkLock:
    """The exclusive lock of one run on the work directory ``path``.

    Created once the output is known, before anything is written there
    (the directory is made if missing, private like the frames it will
    hold). ``release`` (or leaving the ``with`` block) unlocks it and removes
    the directory when it holds nothing but the lock file (a run that
    failed before its first frame leaves nothing behind).

    Raises:
        OutputError: (exit code 2) another run holds the lock; the message
            names ``output``. Also when the directory cannot be created.
    """

    def __init__(self, path, *, output):
        self.path = os.fspath(path)
        self.output = os.fspath(output)
        self._fd: int | None = None
        try:
            for _ in range(_ATTEMPTS):
                os.makedirs(self.path, mode=0o700, exist_ok=True)
                try:
                    fd = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o600)
                except FileNotFoundError:  # the run that held it removed the directory meanwhile
                    continue
                try:
                    locked = _lock(fd)
                except BaseException:
                    os.close(fd)
                    raise
                if locked and _same_file(fd, self._file):
                    self._fd = fd
                    return
                os.close(fd)
                if not locked:
                    break  # else the run that held it removed the file meanwhile: lock a new one
        except OSError as err:
            raise OutputError(f"cannot set up the work directory {self.path}: {err.strerror or err}") from err
        raise OutputError(
            f"another vidstyle run is writing {self.output} (its work directory {self.path} is locked): "
            "wait for it to finish, or write to another output"
        )

    @property
    def _file(self) -> str:
        return os.path.join(self.path, LOCK_NAME)

    def release(self) -> None:
        """Unlock (once); the directory goes too when only the lock file is left in it."""
        if self._fd is None:
            return
        try:
            if os.path.isdir(self.path) and os.listdir(self.path) == [LOCK_NAME]:
                os.remove(self._file)  # still held: no other run is inside
                os.rmdir(self.path)
        except OSError:
            pass  # a directory that cannot be tidied is harmless
        fd, self._fd = self._fd, None
        os.close(fd)  # closing the file drops the lock

    def __enter__(self) -> WorkLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting: False when another
    open file holds it; True when taken, or when this platform or filesystem
    cannot lock (see the module doc)."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # neither (WASI, Emscripten): no lock
        return True
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK):
            return False
        if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            return True  # a filesystem without locks: run unprotected, as before
        raise
    return True


def _same_file(fd: int, path: str) -> bool:
    """True when ``path`` is still the file open as ``fd`` (not removed or replaced)."""
    try:
        opened, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)
