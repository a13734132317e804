"""The command line: ``vidstyle`` (files), ``vidstyle live``, ``vidstyle eval``."""

from vidstyle.cli.main import main

__all__ = ["main"]
