"""A wired sensor that is not there yet: waited for, reported lost, never replaced.

On a new Pi the commonest slip is I2C not enabled: there is no ``/dev/i2c-1`` at
all, so the I2C source cannot even be built. A configured wired sensor must then be
waited for (the person enables I2C and reboots, or plugs the sensor in) and
reported lost meanwhile, not swapped for the simulator: simulated sets published
as the patient's would be fake reps in a clinical log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import SensorError
from ..samples import SampleBlock

log = logging.getLogger(__name__)


class AwaitedSource:
    """Builds the real source with ``open_source()`` once it can; until then, absent.

    While absent it is ``connected = False`` and yields an empty block every
    ``retry_s``, so the service keeps answering commands, pinging the watchdog and
    showing the sensor as lost. ``kind`` is ``absent_kind`` until the real source
    names its chip. A context manager; ``close()`` is idempotent and wakes a wait.
    """

    def __init__(self, open_source: Callable[[], Any], absent_kind: str = "i2c",
                 retry_s: float = 2.0) -> None:
        if retry_s <= 0:
            raise ValueError(f"retry_s must be > 0, got {retry_s}")
        self._open = open_source
        self._absent_kind = absent_kind
        self._retry_s = retry_s
        self._source: Any = None
        self._closed = threading.Event()

    @property
    def connected(self) -> bool:
        return self._source is not None and getattr(self._source, "connected", True)

    @property
    def kind(self) -> str:
        return self._absent_kind if self._source is None else \
            getattr(self._source, "kind", self._absent_kind)

    def __iter__(self) -> Iterator[SampleBlock]:
        said = None
        while self._source is None and not self._closed.is_set():
            try:
                self._source = self._open()
            except (SensorError, OSError) as exc:
                if str(exc) != said:
                    log.warning("the wired sensor is not there (%s); waiting for it", exc)
                    said = str(exc)
                yield SampleBlock(np.empty(0), np.empty((0, 3)))
                self._closed.wait(self._retry_s)
        if self._source is not None and not self._closed.is_set():
            log.info("the wired sensor is there: %s", self.kind)
            yield from self._source

    def close(self) -> None:
        self._closed.set()
        if self._source is not None:
            self._source.close()

    def __enter__(self) -> AwaitedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
