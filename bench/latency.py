"""Live latency: from the sample where a phase truly ends to the sample where it is reported.

    .venv/bin/python bench/latency.py [--sessions 8]

Simulated sessions are fed one sample at a time; an event's report time is the
time of the sample whose feed returned it. Boundaries (truth -> event):
the rise's end (top_s -> PhaseChange "top"), the rep's end (end_s -> the Rep,
which carries the verdict the LED shows), and the hold's start (lower_s ->
PhaseChange "lowering"). Negative means reported before the true boundary
(the detector calls the top when the rise has slowed, just before it stops).
Target: p95 <= 250 ms. Also: how long before the top of a rushed rise the
PaceWarning cue comes.
"""

from __future__ import annotations

import argparse

import numpy as np

from pi_service.pipeline import PaceWarning, Phase, PhaseChange, Pipeline, Rep
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage


def _nearest_after(times: list[float], boundary_s: float, window_s: float = 2.0) -> float | None:
    later = [t for t in times if boundary_s - window_s <= t <= boundary_s + window_s]
    return min(later, key=lambda t: abs(t - boundary_s)) if later else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seed0", type=int, default=30_000)
    args = parser.parse_args(argv)
    lat = {"rise end (top)": [], "rep end (Rep event)": [], "lowering onset": []}
    cues_ms: list[float] = []   # PaceWarning time - true top, for rushed rises
    rushed = cued = 0
    for i in range(args.sessions):
        stage = 2 + i % 3
        sim = simulate(stage, args.seed0 + i, 100.0, walking=True)
        pipeline = Pipeline(load_stage(stage))
        tops, lowers, reps, cues = [], [], [], []
        for block in sim.block.split(1):
            now = float(block.t[-1])
            for event in pipeline.feed(block):
                if isinstance(event, PhaseChange) and event.phase == Phase.TOP:
                    tops.append(now)
                elif isinstance(event, PhaseChange) and event.phase == Phase.LOWERING:
                    lowers.append(now)
                elif isinstance(event, Rep):
                    reps.append(now)
                elif isinstance(event, PaceWarning):
                    cues.append(now)
        for rep in sim.truth.reps:
            for name, times, boundary in (("rise end (top)", tops, rep.top_s),
                                          ("rep end (Rep event)", reps, rep.end_s),
                                          ("lowering onset", lowers, rep.lower_s)):
                reported = _nearest_after(times, boundary)
                if reported is not None:
                    lat[name].append(1000.0 * (reported - boundary))
            if rep.rushed_up:
                rushed += 1
                cue = [c for c in cues if rep.start_s <= c <= rep.top_s + 0.5]
                if cue:
                    cued += 1
                    cues_ms.append(1000.0 * (cue[0] - rep.top_s))
    print(f"sessions {args.sessions} (stages 2-4, 100 Hz, fed one sample at a time)")
    for name, values in lat.items():
        v = np.asarray(values)
        print(f"{name:22s} n={len(v):4d}  median {np.median(v):7.0f} ms  "
              f"p95 {np.percentile(v, 95):7.0f} ms  (target p95 <= 250 ms)")
    if cues_ms:
        c = np.asarray(cues_ms)
        print(f"pace cue before a rushed top: {cued}/{rushed} rises cued, median "
              f"{-np.median(c):.0f} ms, least {-c.max():.0f} ms before the top")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
