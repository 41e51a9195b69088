"""Pipeline throughput: real-time factor, fed as a live sensor feeds it (issue 7).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/throughput.py [--block 10]
        [--sessions 4] [--no-gyro]

Simulated 100 Hz sessions of each stage (walking included), with the gyro and so
the AHRS fusion on unless ``--no-gyro``, are cut into blocks of ``--block``
samples and fed to a fresh :class:`Pipeline`; only the pipeline is timed, and the
per-block cost of each stage is timed separately in a second pass (that pass's
timers add a little). Target: >= 1,000 x real time in blocks of 10 with the fusion
on, on the development machine (about 1 % of a Pi Zero 2 W core).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter
from collections.abc import Callable

from pi_service.pipeline import Pipeline
from pi_service.pipeline.condition import Conditioner
from pi_service.pipeline.gravity import GravityEstimator
from pi_service.pipeline.phases import PhaseDetector
from pi_service.pipeline.posture import Posture
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage

RATE_HZ = 100.0
TARGET_X = 1_000
STAGES = {"conditioning (checks, grid)": (Conditioner, "feed"),
          "gravity (filters, impacts, AHRS)": (GravityEstimator, "__call__"),
          "posture (level, raise axis)": (Posture, "update"),
          "phases (state machine, fits)": (PhaseDetector, "process")}


def _run(sessions: list, block: int) -> tuple[float, float]:
    """Seconds of sensor time and of pipeline time over the sessions."""
    sensor_s = elapsed_s = 0.0
    for stage, sim in sessions:
        blocks = sim.block.split(block)
        pipeline = Pipeline(load_stage(stage))
        started = time.perf_counter()
        for piece in blocks:
            pipeline.feed(piece)
        pipeline.finish()
        elapsed_s += time.perf_counter() - started
        sensor_s += float(sim.block.t[-1] - sim.block.t[0])
    return sensor_s, elapsed_s


def _timed(spent: Counter, name: str, method: Callable) -> Callable:
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
    return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=10, help="samples per block")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--seed0", type=int, default=20_000)
    parser.add_argument("--no-gyro", action="store_true", help="accelerometer only")
    args = parser.parse_args(argv)
    gyro = not args.no_gyro
    sessions = [(1 + i % 4, simulate(1 + i % 4, args.seed0 + i, RATE_HZ, walking=True,
                                     gyro=gyro)) for i in range(args.sessions)]
    sensor_s, elapsed_s = _run(sessions, args.block)
    blocks = sensor_s * RATE_HZ / args.block
    spent: Counter = Counter()
    originals = {name: getattr(cls, attr) for name, (cls, attr) in STAGES.items()}
    for name, (cls, attr) in STAGES.items():
        setattr(cls, attr, _timed(spent, name, originals[name]))
    try:
        _run(sessions, args.block)
    finally:
        for name, (cls, attr) in STAGES.items():
            setattr(cls, attr, originals[name])
    factor = sensor_s / elapsed_s
    print(f"machine            {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    print(f"sessions           {args.sessions} ({sensor_s / 60:.1f} min of 100 Hz samples, "
          f"gyro {'fused' if gyro else 'absent'})")
    print(f"block size         {args.block} samples")
    print(f"throughput         {sensor_s * RATE_HZ / elapsed_s:,.0f} samples/s")
    print(f"real-time factor   {factor:,.0f} x   (target >= {TARGET_X:,} x: "
          f"{'met' if factor >= TARGET_X else 'missed'})")
    print(f"per block          {1e6 * elapsed_s / blocks:.1f} us")
    for name, seconds in spent.items():
        print(f"  {name:34s} {1e6 * seconds / blocks:6.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
