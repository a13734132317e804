"""One error hierarchy. The CLI maps each class to one line on stderr and an exit code."""

from __future__ import annotations


class VidstyleError(Exception):
    """Base class of every error vidstyle reports to a user. Exit code 1."""

    exit_code = 1


class InputError(VidstyleError):
    """Bad usage or bad input: missing file, not a video, bad style image, bad option. Exit code 2."""

    exit_code = 2


class CorruptInputError(VidstyleError):
    """The input became undecodable part-way through.

    Attributes:
        frame_index: index of the first frame that could not be decoded
            (the number of frames decoded successfully before it).
    """

    exit_code = 1

    def __init__(self, message: str, *, frame_index: int):
        super().__init__(message)
        self.frame_index = frame_index


class OutputError(VidstyleError):
    """The output cannot be written: exists without -y (``OutputExistsError``), would overwrite the input,
    unknown extension, encoder failure, full disk. Exit code 2 for usage problems,
    1 for failures while writing (set per instance)."""

    def __init__(self, message: str, *, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class OutputExistsError(OutputError):
    """An output that exists, and replacing it was not asked for. Exit code 2.

    The check is the same for every caller; how to ask differs: the message
    names the command line's ``-y``, or the Python API's ``overwrite=True``
    once ``in_api_terms()`` has turned it (``vidstyle.api`` does; the CLI,
    which calls the API, turns it back).

    Attributes:
        situation: what exists (``out.mp4 exists``).
        many: the output is several files (an image sequence's frames).
    """

    def __init__(self, situation: str, *, many: bool = False):
        super().__init__(situation)  # args: the situation alone, so that a pickled copy (Ray) rebuilds
        self.situation, self.many, self.api = situation, many, False

    def in_api_terms(self, api: bool = True) -> OutputExistsError:
        """This error, naming ``overwrite=True`` (``api`` False: ``-y``)."""
        self.api = api
        return self

    def __str__(self) -> str:
        if self.api:
            return f"{self.situation}; pass overwrite=True to replace {'them' if self.many else 'it'}"
        return f"{self.situation}; pass -y to {'replace them' if self.many else 'overwrite it'}"


class OutOfMemoryError(VidstyleError):
    """The device ran out of memory while stylizing (or loading the network).
    Exit code 1. The message names the size that failed and what to change.

    Attributes:
        device: where it happened (``cuda:0``, ``cpu``...).
        size: the frame size ``(width, height)`` being stylized, or None
            when no frame was involved (loading the network).
        stage: what was running (``optimizing``, ``computing the style targets``...).
    """

    exit_code = 1

    def __init__(self, message: str, *, device: str, size: tuple[int, int] | None, stage: str):
        super().__init__(message)
        self.device = device
        self.size = size
        self.stage = stage
