"""The sample block every source yields and the pipeline consumes.

Blocks rather than single samples because sensors deliver bursts (a FIFO read,
a wireless frame) and numpy is cheap per block, dear per call. Timestamps are
on the sensor's clock: the pipeline never looks at the wall clock, so a
recording replayed at any speed gives the same reps. Gaps (dropped samples, a
FIFO overflow, a reconnect) are simply jumps in ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleBlock:
    """Consecutive samples from one sensor.

    Attributes
    ----------
    t : (n,) float64 array
        Sample times in seconds on the sensor clock, strictly increasing.
    accel_g : (n, 3) float64 array
        Acceleration in g along the sensor's own axes, as mounted.
    gyro_dps : (n, 3) float64 array or None
        Angular rate in degrees per second, where the sensor has a gyro.
    """

    t: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        a = np.asarray(self.accel_g, dtype=np.float64).reshape(-1, 3)
        if len(a) != len(t):
            raise ValueError(f"accel_g has {len(a)} rows for {len(t)} timestamps")
        g = self.gyro_dps
        if g is not None:
            g = np.asarray(g, dtype=np.float64).reshape(-1, 3)
            if len(g) != len(t):
                raise ValueError(f"gyro_dps has {len(g)} rows for {len(t)} timestamps")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "accel_g", a)
        object.__setattr__(self, "gyro_dps", g)

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, index: slice) -> SampleBlock:
        """Slice a block into a smaller one (``block[a:b]``)."""
        if not isinstance(index, slice):
            raise TypeError("SampleBlock supports slicing only")
        gyro = None if self.gyro_dps is None else self.gyro_dps[index]
        return SampleBlock(self.t[index], self.accel_g[index], gyro)

    @classmethod
    def concat(cls, blocks: list[SampleBlock]) -> SampleBlock:
        """Join blocks end to end; the gyro survives only if every block has one."""
        if not blocks:
            return cls(np.empty(0), np.empty((0, 3)))
        gyro = None
        if all(b.gyro_dps is not None for b in blocks):
            gyro = np.concatenate([b.gyro_dps for b in blocks])
        return cls(
            np.concatenate([b.t for b in blocks]),
            np.concatenate([b.accel_g for b in blocks]),
            gyro,
        )

    def split(self, size: int) -> list[SampleBlock]:
        """Cut into blocks of at most ``size`` samples, as a live source would deliver."""
        return [self[i : i + size] for i in range(0, len(self), size)]
