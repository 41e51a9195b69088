"""Memory over hours of standing still: the Pi on the shelf with nobody exercising (issue 7).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/memory.py [--hours 2] [--no-gyro]

A still sensor (MPU-6050-like noise, a gyro bias unless ``--no-gyro``) at 100 Hz is
fed in blocks of 10 to one :class:`Pipeline` for ``--hours`` of sensor time, with
a few small weight shifts that decide nothing. Every 10 minutes of sensor time the
Python heap (tracemalloc) and the process's resident set (/proc/self/statm) are
printed. Target: <= 15 MB of growth over 2 h.
"""

from __future__ import annotations

import argparse
import os
import tracemalloc

import numpy as np

from pi_service.pipeline import Pipeline
from pi_service.samples import SampleBlock
from pi_service.stages import load_stage

RATE_HZ = 100.0
TARGET_MB = 15.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--no-gyro", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(7)
    pipeline = Pipeline(load_stage(2))
    tracemalloc.start()
    minute_n = int(60 * RATE_HZ)
    first = None
    print("sensor time   heap MB   RSS MB   state")
    for minute in range(int(args.hours * 60)):
        t = minute * 60.0 + np.arange(minute_n) / RATE_HZ
        # still, with a 2 deg weight shift now and then
        tilt = np.radians(2.0) * (np.sin(2 * np.pi * t / 300.0) > 0.95)
        accel = np.column_stack([np.sin(tilt), 0 * t, np.cos(tilt)])
        accel += rng.normal(0, 0.003, accel.shape)
        gyro = None if args.no_gyro else rng.normal(0, 0.05, accel.shape) + [1.5, -0.8, 0.4]
        for block in SampleBlock(t, accel, gyro).split(10):
            pipeline.feed(block)
        if minute % 10 == 9:
            heap, rss = tracemalloc.get_traced_memory()[0] / 1e6, _rss_mb()
            first = first or (heap, rss)
            print(f"{(minute + 1) / 60:6.2f} h    {heap:7.2f}   {rss:6.1f}   {pipeline.state}")
    heap, rss = tracemalloc.get_traced_memory()[0] / 1e6, _rss_mb()
    tracemalloc.stop()
    growth = rss - first[1]
    print(f"growth after the first 10 min: heap {heap - first[0]:+.2f} MB, RSS {growth:+.1f} MB "
          f"(target <= {TARGET_MB:.0f} MB: {'met' if growth <= TARGET_MB else 'missed'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
