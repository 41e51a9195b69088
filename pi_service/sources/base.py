"""The seam between hardware and the pipeline: a source yields sample blocks.

Every source — an I2C IMU, the wireless sensor, a recording, the simulator — is
an iterable of :class:`~pi_service.samples.SampleBlock` and a context manager
with an idempotent ``close()``. The service does not care which one it has.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

from ..samples import SampleBlock


class Source(Protocol):
    """What the service needs from any sensor."""

    def __iter__(self) -> Iterator[SampleBlock]: ...

    def close(self) -> None: ...


def paced(
    blocks: Iterator[SampleBlock],
    speed: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[SampleBlock]:
    """Release each block when its last sample would have been measured live.

    Replays (recordings, the simulator) use this to behave like a sensor, so
    the demo and the service's tests see real-time arrival. ``speed`` > 1 plays
    faster; ``sleep`` and ``clock`` are passed in so tests control time.
    """
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    start_wall = None
    start_sensor = 0.0
    for block in blocks:
        if len(block) == 0:
            continue
        if start_wall is None:
            start_wall, start_sensor = clock(), float(block.t[0])
        due = start_wall + (float(block.t[-1]) - start_sensor) / speed
        delay = due - clock()
        if delay > 0:
            sleep(delay)
        yield block
