"""Pipeline throughput: samples per second and real-time factor, fed as a live sensor feeds it.

    .venv/bin/python bench/throughput.py [--block 10] [--sessions 4]

Simulated 100 Hz sessions of each stage (walking included) are cut into blocks
of ``--block`` samples and fed to a fresh :class:`Pipeline`, timing only the
pipeline. Target: >= 200 000 samples/s (2 000 x real time at 100 Hz) with
blocks of <= 10 samples, on one core.
"""

from __future__ import annotations

import argparse
import platform
import time

from pi_service.pipeline import Pipeline
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage

RATE_HZ = 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=10, help="samples per block")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--seed0", type=int, default=20_000)
    args = parser.parse_args(argv)
    samples = 0
    sensor_s = 0.0
    elapsed_s = 0.0
    for i in range(args.sessions):
        stage = 1 + i % 4
        sim = simulate(stage, args.seed0 + i, RATE_HZ, walking=True)
        blocks = sim.block.split(args.block)
        pipeline = Pipeline(load_stage(stage))
        started = time.perf_counter()
        for block in blocks:
            pipeline.feed(block)
        pipeline.finish()
        elapsed_s += time.perf_counter() - started
        samples += len(sim.block)
        sensor_s += float(sim.block.t[-1] - sim.block.t[0])
    rate = samples / elapsed_s
    print(f"machine            {platform.machine()}, python {platform.python_version()}")
    print(f"sessions           {args.sessions} ({sensor_s / 60:.1f} min of 100 Hz samples)")
    print(f"block size         {args.block} samples")
    print(f"throughput         {rate:,.0f} samples/s   (target >= 200,000)")
    print(f"real-time factor   {sensor_s / elapsed_s:,.0f} x   (target >= 2,000 x)")
    print(f"per block          {1e6 * elapsed_s / (samples / args.block):.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
