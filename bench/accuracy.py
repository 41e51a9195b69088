"""Counting and timing accuracy of the pipeline on simulated sessions with known truth.

Sessions vary stage (1-4), rate (50-200 Hz), chip, mount and mounting rotation,
and always include walking between sets. Seeds start at 10 000: the pipeline
was developed on seeds below 100, so these are sessions it has not been tuned on.

    .venv/bin/python bench/accuracy.py [--sessions 200] [--seed0 10000]

Targets: exact count in >= 99 % of sets; no reps while walking; median |error|
of up/hold/down <= 0.15 s and p95 <= 0.4 s; too-fast precision and recall
>= 0.97; isometric hold durations within 0.5 s.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

from pi_service.pipeline import Rep, analyze
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage

RATES_HZ = (50.0, 100.0, 200.0)
CHIPS = ("mpu6050", "lsm6dsox")
MOUNTS = ("laces", "heel")


@dataclass
class Tally:
    sets: int = 0
    sets_exact: int = 0
    sets_within_one: int = 0
    walking_reps: int = 0
    true_reps: int = 0
    found_reps: int = 0
    matched: int = 0
    errors_s: dict = field(default_factory=lambda: {"up": [], "hold": [], "down": []})
    height_errors_cm: list = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    hold_errors_s: list = field(default_factory=list)
    true_holds: int = 0
    found_holds: int = 0
    failures: list = field(default_factory=list)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _match(found: list, truth: list) -> list[tuple]:
    """Pair each true item with the found one that overlaps it most (each used once)."""
    pairs, used = [], set()
    for true in truth:
        best, best_overlap = None, 0.0
        for k, item in enumerate(found):
            if k in used:
                continue
            overlap = _overlap(item.start_s, item.end_s, true.start_s, true.end_s)
            if overlap > best_overlap:
                best, best_overlap = k, overlap
        if best is not None:
            used.add(best)
            pairs.append((found[best], true))
    return pairs


def _set_pairs(found: list, truth: list) -> list[tuple]:
    """Each true set with the found set overlapping it most (None if none does)."""
    pairs = []
    for true in truth:
        best = max(found, default=None,
                   key=lambda s: _overlap(s.start_s, s.end_s, true.start_s, true.end_s))
        if best is not None and _overlap(best.start_s, best.end_s, true.start_s,
                                         true.end_s) <= 0:
            best = None
        pairs.append((true, best))
    return pairs


def run_session(index: int, seed: int, tally: Tally) -> None:
    rng = np.random.default_rng(seed)
    stage_number = 1 + index % 4
    rate = float(rng.choice(RATES_HZ))
    chip = CHIPS[index // 4 % 2]
    mount = MOUNTS[index // 8 % 2]
    sim = simulate(stage_number, seed, rate, chip, mount, walking=True)
    truth = sim.truth
    result = analyze(sim.block.split(10), load_stage(stage_number))
    where = f"seed={seed} stage={stage_number} rate={rate:g} chip={chip} mount={mount}"

    for true_set, found in _set_pairs(result.sets, truth.sets):
        tally.sets += 1
        want = true_set.reps + true_set.holds
        got = 0 if found is None else found.reps + found.holds
        tally.sets_exact += got == want
        tally.sets_within_one += abs(got - want) <= 1
        if got != want:
            tally.failures.append(f"{where}: set at {true_set.start_s:.0f} s has {got}, "
                                  f"truth {want}")
    for walk in truth.walking:
        bad = [r for r in result.reps if _overlap(r.start_s, r.end_s, walk.start_s, walk.end_s)
               > 0]
        tally.walking_reps += len(bad)
        if bad:
            tally.failures.append(f"{where}: {len(bad)} reps while walking at "
                                  f"{walk.start_s:.0f} s")

    tally.true_reps += len(truth.reps)
    tally.found_reps += len(result.reps)
    pairs = _match(result.reps, truth.reps)
    tally.matched += len(pairs)
    for found, true in pairs:
        assert isinstance(found, Rep)
        tally.errors_s["up"].append(abs(found.up_s - true.up_s))
        tally.errors_s["hold"].append(abs(found.hold_s - true.hold_s))
        tally.errors_s["down"].append(abs(found.down_s - true.down_s))
        tally.height_errors_cm.append(abs(found.height_cm - true.height_cm))
    found_of = {id(t): f for f, t in pairs}
    for true in truth.reps:
        rushed = true.rushed_up or true.rushed_down
        found = found_of.get(id(true))
        flagged = found is not None and found.verdict.rushed
        tally.tp += rushed and flagged
        tally.fn += rushed and not flagged
    matched_found = {id(f) for f, _ in pairs}
    truth_of = {id(f): t for f, t in pairs}
    for found in result.reps:
        if found.verdict.rushed:
            true = truth_of.get(id(found))
            if true is None or not (true.rushed_up or true.rushed_down):
                tally.fp += 1
        if id(found) not in matched_found:
            tally.failures.append(f"{where}: rep at {found.start_s:.1f} s matches no true rep")

    tally.true_holds += len(truth.holds)
    tally.found_holds += len(result.holds)
    for found, true in _match(result.holds, truth.holds):
        tally.hold_errors_s.append(abs(found.hold_s - true.hold_s))


def report(tally: Tally, sessions: int, elapsed_s: float) -> None:
    def pct(a: int, b: int) -> str:
        return f"{100.0 * a / b:.2f} %" if b else "n/a"

    precision = tally.tp / (tally.tp + tally.fp) if tally.tp + tally.fp else float("nan")
    recall = tally.tp / (tally.tp + tally.fn) if tally.tp + tally.fn else float("nan")
    print(f"sessions                  {sessions} ({elapsed_s:.0f} s)")
    print(f"sets exact count          {pct(tally.sets_exact, tally.sets)} of {tally.sets}"
          f"   (target >= 99 %; within +-1: {pct(tally.sets_within_one, tally.sets)})")
    print(f"reps while walking        {tally.walking_reps}   (target 0)")
    print(f"reps found / true         {tally.found_reps} / {tally.true_reps}"
          f"   (matched {tally.matched})")
    for name, errors in tally.errors_s.items():
        e = np.asarray(errors)
        if len(e):
            print(f"{name:5s} |error| median      {np.median(e):.3f} s   p95 "
                  f"{np.percentile(e, 95):.3f} s   max {e.max():.2f} s"
                  "   (targets 0.15 / 0.4 s)")
    hc = np.asarray(tally.height_errors_cm)
    if len(hc):
        print(f"height |error| median     {np.median(hc):.2f} cm  p95 "
              f"{np.percentile(hc, 95):.2f} cm   (uncalibrated lever; an encoder's SE: 0.8 cm)")
    print(f"too-fast precision        {precision:.4f}   recall {recall:.4f}"
          f"   (tp {tally.tp}, fp {tally.fp}, fn {tally.fn}; target >= 0.97)")
    h = np.asarray(tally.hold_errors_s)
    if len(h):
        print(f"holds found / true        {tally.found_holds} / {tally.true_holds}; "
              f"|error| max {h.max():.3f} s, within 0.5 s: "
              f"{pct(int(np.sum(h <= 0.5)), tally.true_holds)}")
    if tally.failures:
        print(f"\nfirst failures ({len(tally.failures)}):")
        for line in tally.failures[:15]:
            print("  " + line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed0", type=int, default=10_000)
    args = parser.parse_args(argv)
    tally = Tally()
    started = time.perf_counter()
    for i in range(args.sessions):
        run_session(i, args.seed0 + i, tally)
    report(tally, args.sessions, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
