"""One exception root, so callers can catch "anything the coach rejected" at the edge.

Each specific error also inherits the builtin it resembles, as gpiozero does, so
code that only knows ``ValueError`` or ``OSError`` still catches it.
"""

from __future__ import annotations


class HeelRaiseError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(HeelRaiseError, ValueError):
    """A recording, config or calibration file we cannot use.

    The message is one line naming the file, the line (where there is one) and
    the fault, because it is shown to a person as it is.
    """

    def __init__(self, path: object, fault: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.fault = fault
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {fault}")

    def __reduce__(self) -> tuple:
        # rebuilt from its parts (multiprocessing pickles errors raised in workers)
        return type(self), (self.path, self.fault, self.line)


class SensorError(HeelRaiseError, OSError):
    """The sensor is missing, is the wrong chip, or stopped answering."""


class ConfigError(InputError):
    """A bad value in the service's TOML config."""


class PayloadError(HeelRaiseError, ValueError):
    """A payload, topic or command that breaks the contract; the message is one line.

    ``reason`` is the same fault by kind, without the offending value or array
    index, for counting rejections (default: the message itself).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message
