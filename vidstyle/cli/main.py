"""Command line entry: argv -> the command; errors -> one line on stderr + an exit code.

    vidstyle IN --style ART ...      cli/file.py   (a video or a still image)
    vidstyle eval IN STYLIZED ...    cli/eval.py
    vidstyle live SOURCE ...         cli/live.py

Exit codes: 0 success, 1 failure during processing, 2 bad usage or bad input,
130 interrupted, 141 the reader of standard output stopped reading (``| head``).
"""

from __future__ import annotations

import importlib
import os
import select
import signal
import sys
import threading

from vidstyle.cli.options import PROG
from vidstyle.errors import OutputExistsError, VidstyleError

# Command name -> "module:function(argv) -> exit code", imported when used so
# that one command does not pay for another's imports.
COMMANDS = {
    "eval": "vidstyle.cli.eval:run_eval",
    "live": "vidstyle.cli.live:run",
    "train": "vidstyle.cli.train:run",
}
FILE_COMMAND = "vidstyle.cli.file:run_file"


def _command(target: str):
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM ends as cleanly as Ctrl-C
        # A shell without job control starts background commands with SIGINT
        # ignored, and Python then never raises KeyboardInterrupt: `kill -INT`
        # would be lost. An explicit interrupt request always ends the run cleanly.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    target = COMMANDS.get(argv[0], FILE_COMMAND) if argv else FILE_COMMAND
    if target != FILE_COMMAND:
        argv = argv[1:]
    try:
        return _command(target)(argv)
    except VidstyleError as err:
        if isinstance(err, OutputExistsError):
            err.in_api_terms(False)  # -y: the API (which the file command calls) names overwrite=True
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        detail = f": {err}" if str(err) else ""
        print(f"{PROG}: interrupted{detail}", file=sys.stderr)
        return 130
    except BrokenPipeError as err:
        if not _stdout_closed():
            return _internal_error(err)
        return 128 + 13  # SIGPIPE's exit code, quietly, as Unix tools end under `| head`
    except Exception as err:  # a bug: still one line, unless debugging
        return _internal_error(err)


def _stdout_closed() -> bool:
    """Whether standard output's reader has gone (a pipe with no reader polls
    as an error). If so, standard output is pointed at /dev/null, so that the
    interpreter's last flush does not print a second error."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        broken = any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or stdout is not a file
        return False
    if broken:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return broken


def _internal_error(err: BaseException) -> int:
    """A bug: one line on stderr and exit code 1 (the traceback with VIDSTYLE_DEBUG=1)."""
    if os.environ.get("VIDSTYLE_DEBUG"):
        raise err
    print(
        f"{PROG}: internal error: {type(err).__name__}: {err} (set VIDSTYLE_DEBUG=1 for a traceback)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
