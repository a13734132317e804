"""Command line entry: argv -> the command; errors -> one line on stderr + an exit code.

    vidstyle IN --style ART ...      cli/file.py   (a video or a still image)
    vidstyle eval IN STYLIZED ...    cli/eval.py
    vidstyle live SOURCE ...         cli/live.py

Exit codes: 0 success, 1 failure during processing, 2 bad usage or bad input,
130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading

from vidstyle.cli.options import PROG
from vidstyle.errors import VidstyleError

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
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        detail = f": {err}" if str(err) else ""
        print(f"{PROG}: interrupted{detail}", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: still one line, unless debugging
        if os.environ.get("VIDSTYLE_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(err).__name__}: {err} (set VIDSTYLE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
