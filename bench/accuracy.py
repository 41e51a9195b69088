"""Accuracy of the rep detector, condition by condition (issue 7).

Every condition issue 7 names gets its own sessions and its own row, so a weak one
shows instead of being averaged away: movement shapes, fast and motion-captured
raises, heel drops and hanging below a step, starts (settling, walking in, hanging,
mid-set, mid-hold), knocks, the sensor's mounting, rate and gyro, activities with no
raise (alone and between sets), perturbations of simulated sessions (gaps, host
timestamps, spikes, resampling, clock drift, time warps, cropping), the real foot-IMU
recordings in ../shared/data/real perturbed the same ways (they hold no heel raise:
every rep found there is false), and all of it combined.

The detector is run through its public API only, ``analyze(blocks, stage,
hold_stage=load_stage(1))``, fed in blocks of 10 samples as live. Conditions that
are about files (host timestamps, bad values) go through a file and
``read_recording``, the path ``heelraise analyze FILE`` takes. A session the
detector or the reader refuses (``SampleError``, ``InputError``) counts as
refused: its sets are not counted right and its reps are missed.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/accuracy.py [--sessions N]
        [--seed0 10000] [--conditions fast,real_gaps,...] [--jobs 2] [--failures 3]
        [--calibration self,learned,faces,truth]

``--calibration`` runs each session once per mode (bench/calibrations.py): ``self``
(the default) lets the detector calibrate itself from the stream; ``learned`` gives it
the calibration the session's person would make with ``heelraise calibrate``, simulated
on the same sensor, mounting and foot (``faces``: with the six faces first); ``truth``
the one the session's truth implies. A session with no truth (a real recording), or
whose calibration failed or does not exist (``truth`` after a rotation), runs
self-calibrated in every mode and is counted under "uncal". With more than one mode a
last table compares them condition by condition, on the same sessions.

Each condition's sessions have seeds seed0 + 1000·(its place in CONDITIONS) + i, so a
condition run alone (``--conditions``) gives the same sessions as in the full run.
Targets (issue 7): sets exact >= 99 %; rep precision and recall >= 0.99; no rep in
any negative; phase |error| median <= 0.15 s and p95 <= 0.4 s for every movement
shape; fast raises (rise < 0.5 s) found >= 99 % and all judged too fast.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parent))     # bench/calibrations.py
from calibrations import MODES, calibration_for  # noqa: E402

from pi_service.errors import InputError
from pi_service.pipeline import Analysis, SampleError, analyze
from pi_service.samples import SampleBlock
from pi_service.sources import perturb
from pi_service.sources.activities import ACTIVITIES, LOCOMOTION
from pi_service.sources.recording import read_recording, write_rows
from pi_service.sources.simulator import SHAPES, simulate, simulate_activities
from pi_service.sources.truth import Truth
from pi_service.stages import load_stage

REAL_DIR = Path(os.environ.get("HEELRAISE_REAL_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
BLOCK = 10                  # samples per block, as a live source delivers them
PER_CONDITION = 10          # sessions per condition by default: every real recording once
SEED_STRIDE = 1000          # condition k's sessions have seeds seed0 + 1000·k + i
NEGATIVE_STAGE = 2          # what a session with no raise is analysed as (the CLI's default)
RATES_HZ = {"mpu6050": (50.0, 100.0, 125.0, 200.0), "lsm6dsox": (52.0, 104.0, 208.0)}
PHASES = ("up", "hold", "down")
TARGETS = {"sets": 99.0, "precision": 0.99, "recall": 0.99, "median_s": 0.15, "p95_s": 0.4,
           "fast_found": 99.0, "fast_flagged": 100.0}


@dataclass
class Case:
    """One session to analyse: samples (or a file to read them from) and what is true."""

    stage: int
    truth: Truth | None              # None: a real recording, in which nothing is a rep
    block: SampleBlock | None = None
    path: Path | None = None
    note: str = ""


@dataclass
class Context:
    """What a condition's builder gets: its random draws, where to write files."""

    rng: np.random.Generator
    seed: int
    index: int
    workdir: Path
    real: list[Path]


# --- how sessions are drawn ----------------------------------------------------------------

def _sensor(ctx: Context, **forced) -> dict:
    """A chip at one of its real rates, a mount, a gyro or not, full-scale ranges."""
    rng = ctx.rng
    chip = str(rng.choice(list(RATES_HZ)))
    options = dict(rate_hz=float(rng.choice(RATES_HZ[chip])), chip=chip,
                   mount=str(rng.choice(["laces", "laces", "heel"])),
                   gyro=bool(rng.random() < 0.7),
                   accel_range_g=float(rng.choice([2.0, 4.0])),
                   gyro_range_dps=float(rng.choice([1000.0, 2000.0])))
    options.update(forced)
    return options


def _stage(ctx: Context, stages: tuple[int, ...]) -> int:
    return stages[ctx.index % len(stages)]


def _sim(ctx: Context, stages: tuple[int, ...] = (1, 2, 3, 4), sensor: dict | None = None,
         **options) -> Case:
    stage = _stage(ctx, stages)
    options.setdefault("walking", True)
    sim = simulate(stage, ctx.seed, **_sensor(ctx, **(sensor or {})), **options)
    return Case(stage, sim.truth, sim.block)


def _negative(ctx: Context, kinds: list[str], standing: bool = True) -> Case:
    sim = simulate_activities(kinds, ctx.seed, **_sensor(ctx), standing=standing)
    return Case(NEGATIVE_STAGE, sim.truth, sim.block, note=",".join(kinds))


def _real(ctx: Context) -> Case:
    path = ctx.real[ctx.index % len(ctx.real)]
    return Case(NEGATIVE_STAGE, None, read_recording(path), note=path.name)


def _to_file(ctx: Context, case: Case, t: np.ndarray, block: SampleBlock) -> Case:
    """The samples as a recording on disk (with times the block could not hold)."""
    path = ctx.workdir / f"{ctx.seed}.csv"
    write_rows(path, t, block.accel_g, block.gyro_dps)
    return Case(case.stage, case.truth, path=path, note=case.note)


# perturbations: each takes the context and a case, and returns the perturbed case

def _gaps(n: tuple[int, int], length_s: tuple[float, float], mid_rep: bool = False):
    def apply(ctx: Context, case: Case) -> Case:
        inside = None
        if mid_rep and case.truth is not None:
            inside = [(r.start_s, r.end_s) for r in case.truth.reps] or [
                (h.start_s, h.end_s) for h in case.truth.holds] or None
        spans = perturb.gap_spans(ctx.rng, case.block.t, int(ctx.rng.integers(*n)), length_s,
                                  inside)
        block, truth = perturb.drop(case.block, spans, case.truth)
        return Case(case.stage, truth, block, note=case.note)
    return apply


def _host_stamps(ctx: Context, case: Case) -> Case:
    return _to_file(ctx, case, perturb.host_stamps(case.block.t, ctx.rng), case.block)


def _repeated_stamps(ctx: Context, case: Case) -> Case:
    n = int(ctx.rng.integers(2, 12))
    return _to_file(ctx, case, perturb.repeat_stamps(case.block.t, ctx.rng, n), case.block)


def _spikes(ctx: Context, case: Case) -> Case:
    block = case.block
    for _ in range(int(ctx.rng.integers(1, 4))):
        block = perturb.spikes(block, ctx.rng, int(ctx.rng.integers(1, 4)),
                               str(ctx.rng.choice(perturb.SPIKES)))
    return _to_file(ctx, case, block.t, block)


def _rotated(ctx: Context, case: Case) -> Case:
    block, truth = perturb.rotate(case.block, Rotation.random(rng=ctx.rng).as_matrix(),
                                  case.truth)
    return Case(case.stage, truth, block, note=case.note)


def _resampled(ctx: Context, case: Case) -> Case:
    rate = float(ctx.rng.choice([50.0, 52.0, 100.0, 104.0, 125.0, 200.0, 208.0]))
    block, truth = perturb.resample(case.block, rate, case.truth)
    return Case(case.stage, truth, block, note=f"{case.note} @{rate:g} Hz")


def _drift(ctx: Context, case: Case) -> Case:
    scale = 1.0 + float(ctx.rng.uniform(-0.03, 0.03))
    offset = float(ctx.rng.choice([0.0, ctx.rng.uniform(10.0, 1e5), 1.7e9]))
    block, truth = perturb.drift(case.block, scale, offset, case.truth)
    return Case(case.stage, truth, block, note=f"{case.note} x{scale:.3f}+{offset:.0f}")


def _warped(ctx: Context, case: Case) -> Case:
    warp = perturb.Warp.random(ctx.rng, float(ctx.rng.uniform(0.15, 0.4)))
    block, truth = perturb.time_warp(case.block, warp, case.truth)
    return Case(case.stage, truth, block, note=case.note)


def _cropped(ctx: Context, case: Case) -> Case:
    t = case.block.t
    start = float(ctx.rng.uniform(t[0], t[0] + 0.5 * (t[-1] - t[0])))
    block, truth = perturb.crop_start(case.block, start, case.truth)
    return Case(case.stage, truth, block, note=f"{case.note} from {start:.0f} s")


PERTURBATIONS: dict[str, Callable[[Context, Case], Case]] = {
    "gaps_mid_rep": _gaps((2, 8), (0.1, 1.0), mid_rep=True),
    "gaps_anywhere": _gaps((2, 8), (0.1, 1.0)),
    "gaps_long": _gaps((1, 4), (1.2, 6.0)),
    "stamps_host": _host_stamps, "stamps_repeated": _repeated_stamps, "spikes": _spikes,
    "rotated": _rotated, "resampled": _resampled, "drift": _drift, "time_warp": _warped,
    "cropped": _cropped,
}
BLOCK_LEVEL = ("gaps_mid_rep", "gaps_anywhere", "gaps_long", "rotated", "resampled", "drift",
               "time_warp", "cropped")


def _combined(ctx: Context) -> Case:
    """Everything at once, drawn at random: a session as awkward as a real one can be."""
    rng = ctx.rng
    stage = int(rng.choice([2, 3, 4, 4, 3, 2, 1]))
    options: dict = dict(
        shapes=list(rng.choice(SHAPES, size=int(rng.integers(1, 4)), replace=False)),
        knock_fraction=float(rng.uniform(0.0, 0.5)),
        activities=list(rng.choice(sorted(ACTIVITIES), size=2, replace=False)))
    if stage == 1:
        options["start"] = str(rng.choice(["standing", "settling", "walking", "mid_hold"]))
    else:
        options.update(fast_fraction=float(rng.uniform(0.0, 0.4)),
                       mocap_fraction=float(rng.uniform(0.0, 0.3)),
                       hang=rng.choice([None, "first", "between"]),
                       start=str(rng.choice(["standing", "settling", "walking", "hanging",
                                             "mid_set"])))
    sim = simulate(stage, ctx.seed, **_sensor(ctx), **options)
    case = Case(stage, sim.truth, sim.block)
    for name in rng.choice(BLOCK_LEVEL, size=int(rng.integers(1, 3)), replace=False):
        case = PERTURBATIONS[str(name)](ctx, case)
    return case


def _perturbed(base: Callable[[Context], Case], name: str) -> Callable[[Context], Case]:
    def build(ctx: Context) -> Case:
        return PERTURBATIONS[name](ctx, base(ctx))
    return build


def _sim_plain(ctx: Context) -> Case:
    return _sim(ctx, n_sets=2)


REPS = (2, 3, 4)
CONDITIONS: dict[str, Callable[[Context], Case]] = {
    "baseline": lambda c: _sim(c),
    **{f"shape_{name}": (lambda c, name=name: _sim(c, REPS, shapes=[name]))
       for name in SHAPES},
    "shape_mixed": lambda c: _sim(c, REPS, shapes=list(SHAPES)),
    "fast": lambda c: _sim(c, REPS, fast_fraction=float(c.rng.uniform(0.3, 1.0)),
                           heel_drop=False),
    "mocap_floor": lambda c: _sim(c, REPS, mocap_fraction=float(c.rng.uniform(0.5, 1.0)),
                                  heel_drop=False),
    "mocap_box": lambda c: _sim(c, REPS, mocap_fraction=float(c.rng.uniform(0.5, 1.0)),
                                hang="between"),
    "step_drop": lambda c: _sim(c, REPS, heel_drop=True),
    "step_hang_first": lambda c: _sim(c, REPS, hang="first"),
    "step_hang_between": lambda c: _sim(c, REPS, hang="between"),
    "start_settling": lambda c: _sim(c, start="settling"),
    "start_walking": lambda c: _sim(c, start="walking"),
    "start_hanging": lambda c: _sim(c, REPS, start="hanging"),
    "start_mid_set": lambda c: _sim(c, REPS, start="mid_set"),
    "start_mid_hold": lambda c: _sim(c, (1,), start="mid_hold"),
    "knocks": lambda c: _sim(c, knock_fraction=float(c.rng.uniform(0.5, 1.0))),
    "accel_only": lambda c: _sim(c, sensor=dict(gyro=False)),
    "gyro": lambda c: _sim(c, sensor=dict(gyro=True)),
    "heel_counter": lambda c: _sim(c, sensor=dict(mount="heel")),
    "upside_down": lambda c: _sim(c, mount_rotation=(
        Rotation.from_euler("z", c.rng.uniform(0, 360), degrees=True)
        * Rotation.from_euler("x", 180, degrees=True)).as_matrix()),
    "rate_50": lambda c: _sim(c, sensor=dict(rate_hz=50.0)),
    "rate_200": lambda c: _sim(c, sensor=dict(rate_hz=200.0)),
    "between_activities": lambda c: _sim(c, activities=list(
        c.rng.choice(sorted(ACTIVITIES), size=int(c.rng.integers(2, 5)), replace=False))),
    **{f"sim_{name}": _perturbed(_sim_plain, name) for name in PERTURBATIONS
       if name != "rotated"},
    "neg_walk": lambda c: _negative(c, ["walk", "walk"]),
    "neg_run": lambda c: _negative(c, ["run", "walk"]),
    "neg_stairs": lambda c: _negative(c, ["stairs_up", "stairs_down"]),
    "neg_hops": lambda c: _negative(c, ["hops", "hops"]),
    "neg_jumps": lambda c: _negative(c, ["jumps", "landings"]),
    "neg_squats": lambda c: _negative(c, ["squats"]),
    "neg_lunges": lambda c: _negative(c, ["lunges"]),
    "neg_step_ups": lambda c: _negative(c, ["step_ups"]),
    "neg_sit_to_stand": lambda c: _negative(c, ["sit_to_stand"]),
    "neg_mixed": lambda c: _negative(c, list(c.rng.choice(sorted(ACTIVITIES), size=4))),
    "neg_no_standing": lambda c: _negative(c, list(c.rng.permutation(LOCOMOTION)),
                                           standing=False),
    "real": _real,
    **{f"real_{name}": _perturbed(_real, name) for name in PERTURBATIONS
       if name not in ("gaps_mid_rep",)},
    "combined": _combined,
}
REAL = tuple(name for name in CONDITIONS if name.startswith("real"))


# --- scoring one session -------------------------------------------------------------------

@dataclass
class Score:
    """What one session contributes to its condition's row."""

    condition: str
    seed: int
    mode: str = "self"              # how the session was calibrated (calibrations.MODES)
    uncalibrated: bool = False      # a calibration was asked for and none could be made
    refused: str = ""               # why the reader or the detector refused the session
    crashed: str = ""               # an exception that is not a refusal: a bug
    sets: int = 0
    sets_exact: int = 0
    true_reps: int = 0
    found_reps: int = 0
    hits: int = 0                   # found reps matching a true (not optional) rep
    false_reps: int = 0             # found reps matching nothing
    negative_reps: int = 0          # ... of which inside an activity with no raise
    errors: list = field(default_factory=list)      # (phase, shape, |error| s)
    unknown: int = 0                # phases reported unknown that the truth knows
    fast: int = 0
    fast_found: int = 0
    fast_flagged: int = 0
    elapsed_s: float = 0.0
    failures: list = field(default_factory=list)


def _span(item) -> tuple[float, float]:
    """A found rep's extent from whichever boundaries it reports."""
    times = [x for x in (getattr(item, n, None) for n in ("start_s", "top_s", "lower_s",
                                                         "end_s")) if x is not None]
    if not times:
        return (np.nan, np.nan)
    return min(times) - 0.05, max(times) + 0.05


def _pairs(found: list, truth: list) -> list[tuple[int, int]]:
    """Found and true items paired one to one by the largest total time overlap.

    An overlap counts when it is at least a quarter of the shorter of the two (a long
    false rep straddling two true ones matches one at most).
    """
    if not found or not truth:
        return []
    f = np.array([_span(x) for x in found])
    t = np.array([(x.start_s, x.end_s) for x in truth])
    overlap = np.minimum(f[:, 1:2], t[:, 1]) - np.maximum(f[:, 0:1], t[:, 0])
    shorter = np.minimum((f[:, 1] - f[:, 0])[:, None], (t[:, 1] - t[:, 0])[None, :])
    overlap = np.where(overlap >= 0.25 * shorter, np.nan_to_num(overlap, nan=0.0), 0.0)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0]


def _rushed(verdict: object) -> bool:
    flag = getattr(verdict, "rushed", None)
    return bool(flag) if flag is not None else str(verdict).startswith("too_fast")


def _score_sets(into: Score, found_sets: list, truth: Truth, where: str) -> None:
    """Each true set against the found sets that overlap it most (a split set is summed)."""
    counted = [s for s in truth.sets if s.reps + s.holds > 0]
    owner: dict[int, list] = {id(s): [] for s in counted}
    for found in found_sets:
        overlaps = [min(found.end_s, s.end_s) - max(found.start_s, s.start_s) for s in counted]
        if overlaps and max(overlaps) > 0:
            owner[id(counted[int(np.argmax(overlaps))])].append(found)
    for true in counted:
        got = sum(f.reps + getattr(f, "holds", 0) for f in owner[id(true)])
        want = true.reps + true.holds
        into.sets += 1
        exact = want <= got <= want + true.optional
        into.sets_exact += exact
        if not exact:
            into.failures.append(f"{where}: set at {true.start_s:.0f} s counted {got}, "
                                  f"truth {want}" + (f" (+{true.optional} optional)"
                                                     if true.optional else ""))


def score(case: Case, result: Analysis, where: str, into: Score) -> None:
    """Add to ``into`` how what the detector found compares with the truth.

    A case without a truth is a real recording: nothing in it is a rep.
    """
    found = list(result.reps)
    truth = case.truth
    true_reps = truth.reps if truth is not None else []
    into.found_reps = len(found)
    into.true_reps = sum(not r.optional for r in true_reps)
    pairs = _pairs(found, true_reps)
    matched = {f for f, _ in pairs}
    for f, t in pairs:
        rep, true = found[f], true_reps[t]
        if true.optional:
            continue
        into.hits += 1
        for phase in PHASES:
            known = getattr(true, f"{phase}_known")
            value = getattr(rep, f"{phase}_s", None)
            if known and value is None:
                into.unknown += 1
            elif known:
                shape = true.shape_down if phase == "down" else true.shape_up
                into.errors.append((phase, shape, abs(value - getattr(true, f"{phase}_s"))))
    found_of = {t: f for f, t in pairs}
    for t, true in enumerate(true_reps):
        if true.fast and not true.optional:
            into.fast += 1
            if t in found_of:
                into.fast_found += 1
                into.fast_flagged += _rushed(found[found_of[t]].verdict)
        if not true.optional and t not in found_of:
            into.failures.append(f"{where}: missed the {true.style} rep at "
                                  f"{true.start_s:.1f} s ({true.shape_up}, up "
                                  f"{true.up_s:.2f} s, {true.base_deg:.0f}->"
                                  f"{true.peak_deg:.0f} deg)")
    negatives = [] if truth is None else [*truth.negatives, *truth.walking]
    for f, rep in enumerate(found):
        if f in matched:
            continue
        into.false_reps += 1
        a, b = _span(rep)
        inside = truth is None or not truth.sets or any(
            n.start_s < b and n.end_s > a for n in negatives)
        into.negative_reps += inside
        what = "in a negative" if inside else "matching no true rep"
        into.failures.append(f"{where}: false rep {what} at {a:.1f} s")
    if truth is not None:
        _score_sets(into, list(result.sets), truth, where)


def run_one(job: tuple[str, int, int, list[str], tuple[str, ...]]) -> list[Score]:
    """Build one session of a condition, run the detector on it as live once per
    calibration mode, and score each run."""
    condition, index, seed, real, modes = job
    # absurd values overflow inside the detector; what counts is what it reports
    warnings.simplefilter("ignore", RuntimeWarning)
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(np.random.default_rng(seed), seed, index, Path(tmp),
                      [Path(p) for p in real])
        case = CONDITIONS[condition](ctx)
        for mode in modes:
            scores.append(_run_mode(case, condition, index, seed, mode))
    return scores


def _run_mode(case: Case, condition: str, index: int, seed: int, mode: str) -> Score:
    started = time.perf_counter()
    result = Score(condition, seed, mode)
    where = f"{condition} #{index} seed={seed}" + (f" [{mode}]" if mode != "self" else "") \
        + f" stage={case.stage}" + (f" {case.note}" if case.note else "")
    if case.truth is not None:
        result.true_reps = sum(not r.optional for r in case.truth.reps)
    try:
        calibration = calibration_for(mode, None if case.truth is None else case.truth.meta)
        result.uncalibrated = mode != "self" and calibration is None
        block = case.block if case.path is None else read_recording(case.path)
        found = analyze(block.split(BLOCK), load_stage(case.stage), calibration,
                        hold_stage=load_stage(1))
    except (SampleError, InputError) as exc:
        result.refused = f"{type(exc).__name__}: {exc}"
        result.failures.append(f"{where}: refused: {exc}")
    except Exception as exc:        # a crash must show as one, not stop the run
        result.crashed = f"{type(exc).__name__}: {exc}"
        result.failures.append(f"{where}: crashed: {result.crashed}")
    else:
        score(case, found, where, result)
    if (result.refused or result.crashed) and case.truth is not None:
        result.sets = sum(s.reps + s.holds > 0 for s in case.truth.sets)
    result.elapsed_s = time.perf_counter() - started
    return result


# --- the tables ----------------------------------------------------------------------------

@dataclass
class Row:
    sessions: int = 0
    refused: int = 0
    crashed: int = 0
    sets: int = 0
    sets_exact: int = 0
    true_reps: int = 0
    hits: int = 0
    false_reps: int = 0
    negative_reps: int = 0
    unknown: int = 0
    fast: int = 0
    fast_found: int = 0
    fast_flagged: int = 0
    errors: list = field(default_factory=list)

    def add(self, s: Score) -> None:
        self.sessions += 1
        self.refused += bool(s.refused)
        self.crashed += bool(s.crashed)
        for name in ("sets", "sets_exact", "true_reps", "hits", "false_reps", "negative_reps",
                     "unknown", "fast", "fast_found", "fast_flagged"):
            setattr(self, name, getattr(self, name) + getattr(s, name))
        self.errors += s.errors


def _mark(text: str, ok: bool | None) -> str:
    """A figure that misses its target carries a '!', so a weak row stands out."""
    return text + ("" if ok in (True, None) else "!")


def _pct(a: int, b: int, target: float | None) -> str:
    if not b:
        return "-"
    value = 100.0 * a / b
    return _mark(f"{value:.1f}%", None if target is None else value >= target)


def _ratio(a: int, b: int, target: float) -> str:
    return _mark(f"{a / b:.3f}", a / b >= target) if b else "-"


def _phase(errors: list, phase: str) -> str:
    e = np.array([x for p, _, x in errors if p == phase])
    if not len(e):
        return "-"
    median, p95 = np.median(e), np.percentile(e, 95)
    return _mark(f"{median:.2f}/{p95:.2f}", median <= TARGETS["median_s"]
                 and p95 <= TARGETS["p95_s"])


HEADER = ("condition", "sess", "refused", "sets exact", "rep P", "rep R", "up med/p95",
          "hold med/p95", "down med/p95", "unknown", "fast found", "too fast",
          "neg reps")
TARGET_ROW = ("target", "", "0", ">=99%", ">=0.99", ">=0.99", "<=.15/.40", "<=.15/.40",
              "<=.15/.40", "", ">=99%", "100%", "0")


def _cells(name: str, r: Row) -> tuple[str, ...]:
    precision_n = r.hits + r.false_reps
    refused = f"{r.refused}" + (f"+{r.crashed} crashed" if r.crashed else "")
    return (name, str(r.sessions), _mark(refused, r.refused + r.crashed == 0),
            _pct(r.sets_exact, r.sets, TARGETS["sets"]),
            _ratio(r.hits, precision_n, TARGETS["precision"]),
            _ratio(r.hits, r.true_reps, TARGETS["recall"]),
            *(_phase(r.errors, p) for p in PHASES), str(r.unknown) if r.unknown else "",
            _pct(r.fast_found, r.fast, TARGETS["fast_found"]),
            _pct(r.fast_flagged, r.fast_found, TARGETS["fast_flagged"]),
            _mark(str(r.negative_reps), r.negative_reps == 0))


def table(rows: list[tuple[str, ...]]) -> str:
    """A Markdown table, columns padded so it also reads as plain text."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(scores: list[Score], order: list[str], elapsed_s: float, failures: int) -> str:
    rows: dict[str, Row] = {name: Row() for name in order}
    total = Row()
    for s in scores:
        rows[s.condition].add(s)
        total.add(s)
    lines = [table([HEADER, TARGET_ROW, *(_cells(n, rows[n]) for n in order if rows[n].sessions),
                    _cells("all (pooled)", total)])]
    shapes = sorted({shape for _, shape, _ in total.errors})
    if shapes:
        per_shape = [("shape", "phases", "up med/p95", "hold med/p95", "down med/p95")]
        for shape in shapes:
            errors = [e for e in total.errors if e[1] == shape]
            per_shape.append((shape, str(len(errors)), *(_phase(errors, p) for p in PHASES)))
        lines += ["", "Phase |error| (s) by the stroke's shape (up and hold by the rise's "
                  "shape, down by the lowering's), all conditions:", "", table(per_shape)]
    sessions = len(scores)
    lines += ["", f"{sessions} sessions, {elapsed_s:.0f} s wall clock "
              f"({sum(s.elapsed_s for s in scores):.0f} s of work). A '!' marks a figure "
              "that misses its target. Refused or crashed sessions count their sets as "
              "wrong and their reps as missed."]
    crashes = [s for s in scores if s.crashed]
    if crashes:
        lines += ["", f"crashes ({len(crashes)}):"] + [
            f"  {s.condition} seed={s.seed}: {s.crashed}" for s in crashes[:10]]
    if failures:
        lines += ["", f"first failures (up to {failures} per condition):"]
        for name in order:
            for line in [f for s in scores if s.condition == name for f in s.failures][
                    :failures]:
                lines.append("  " + line)
    return "\n".join(lines)


def compare(scores: list[Score], order: list[str], modes: tuple[str, ...]) -> str:
    """The modes side by side, condition by condition, on the same sessions: sets exact,
    rep precision and recall, the rise's phase error, and sessions left uncalibrated."""
    rows: dict[tuple[str, str], Row] = {}
    uncal: dict[tuple[str, str], int] = {}
    for s in scores:
        for name in (s.condition, "all (pooled)"):
            rows.setdefault((name, s.mode), Row()).add(s)
            uncal[(name, s.mode)] = uncal.get((name, s.mode), 0) + s.uncalibrated
    header = ["condition"] + [f"{m}: {what}" for m in modes
                              for what in ("sets", "P", "R", "up med/p95", "uncal")]
    out = [tuple(header)]
    for name in [*order, "all (pooled)"]:
        if (name, modes[0]) not in rows:
            continue
        cells = [name]
        for mode in modes:
            r = rows[(name, mode)]
            cells += [_pct(r.sets_exact, r.sets, TARGETS["sets"]),
                      _ratio(r.hits, r.hits + r.false_reps, TARGETS["precision"]),
                      _ratio(r.hits, r.true_reps, TARGETS["recall"]), _phase(r.errors, "up"),
                      str(uncal[(name, mode)] or "")]
        out.append(tuple(cells))
    return table(out)


def run_all(run_one: Callable[[tuple], list], jobs: list[tuple], processes: int) -> list:
    """Every job's results in one list, the jobs spread over ``processes`` workers."""
    if processes > 1:
        with multiprocessing.Pool(processes) as pool:
            runs = list(pool.imap_unordered(run_one, jobs, chunksize=1))
    else:
        runs = [run_one(job) for job in jobs]
    return [r for run in runs for r in run]


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
            f"{datetime.date.today().isoformat()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=None,
                        help="sessions in all, spread evenly over the conditions "
                             f"(default {PER_CONDITION} per condition)")
    parser.add_argument("--seed0", type=int, default=10_000)
    parser.add_argument("--conditions", default="",
                        help="comma-separated subset (default: all); 'list' lists them")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--failures", type=int, default=0,
                        help="print up to N failures per condition (default 0)")
    parser.add_argument("--real-dir", type=Path, default=REAL_DIR,
                        help=f"the real recordings (default {REAL_DIR})")
    parser.add_argument("--calibration", default="self",
                        help="comma-separated calibration modes, each run on every session: "
                             f"{', '.join(MODES)} (default self; see bench/calibrations.py)")
    args = parser.parse_args(argv)
    modes = tuple(m for m in args.calibration.split(",") if m)
    if not modes or any(m not in MODES for m in modes):
        parser.error(f"--calibration takes modes from {', '.join(MODES)}")
    if args.conditions == "list":
        print("\n".join(CONDITIONS))
        return 0
    order = [c for c in args.conditions.split(",") if c] or list(CONDITIONS)
    unknown = [c for c in order if c not in CONDITIONS]
    if unknown:
        parser.error(f"unknown conditions: {', '.join(unknown)} (see --conditions list)")
    real = sorted(str(p) for p in args.real_dir.glob("*.csv"))
    if not real:
        print(f"no real recordings in {args.real_dir}: skipping {', '.join(REAL)}",
              file=sys.stderr)
        order = [c for c in order if c not in REAL]
    per = PER_CONDITION if args.sessions is None else max(1, -(-args.sessions // len(order)))
    if per > SEED_STRIDE:
        parser.error(f"at most {SEED_STRIDE} sessions per condition (their seeds would overlap)")
    position = {name: i for i, name in enumerate(CONDITIONS)}
    jobs = [(name, i, args.seed0 + SEED_STRIDE * position[name] + i, real, modes)
            for i in range(per) for name in order]
    started = time.perf_counter()
    scores = run_all(run_one, jobs, args.jobs)
    elapsed_s = time.perf_counter() - started
    print(f"accuracy of the rep detector by condition: {per} sessions each, seeds from "
          f"{args.seed0}; {machine()}")
    for mode in modes:
        print(f"\ncalibration: {mode}\n")
        print(report([s for s in scores if s.mode == mode], order, elapsed_s, args.failures))
    if len(modes) > 1:
        print("\nthe modes compared, on the same sessions:\n")
        print(compare(scores, order, modes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
