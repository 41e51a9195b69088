"""Conditions applied to any recording, with its truth mapped alongside.

A figure measured only on our own simulator is a figure about the simulator. These
small, pure functions put a condition (a gap, a clock that drifts, a sensor turned
over, a spike) on *any* :class:`~pi_service.samples.SampleBlock`, simulated or real,
so each condition is measured on more than one generator. Where there is a
:class:`~.truth.Truth`, it is mapped consistently: times follow a time map, a rep
whose top falls in a gap becomes ``optional``, a phase a gap cuts is not ``known``.
None of them changes its inputs.

Equal timestamps cannot be put in a SampleBlock (its times increase strictly), so
the host-stamping functions work on the time column and the result is written as a
file (:func:`~.recording.write_rows`), which is where such timestamps come from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from ..samples import SampleBlock
from .foot import G_MPS2
from .recording import write_rows
from .truth import FAST_RISE_S, TrueGap, Truth

LONG_GAP_S = 1.0        # a longer dropout restarts the detector: reps it cuts are optional
TOP_WINDOW_S = 0.1      # a rep's top is seen if a sample lies this close to its hold


# --- time maps -----------------------------------------------------------------------------

def map_truth(truth: Truth, fn: Callable[[np.ndarray], np.ndarray]) -> Truth:
    """The truth with every time passed through the monotone map ``fn`` (durations follow)."""
    def f(x: float) -> float:
        return float(fn(np.asarray([x], dtype=float))[0])

    reps = []
    for r in truth.reps:
        start, top, lower, end = f(r.start_s), f(r.top_s), f(r.lower_s), f(r.end_s)
        up_s = top - start
        reps.append(replace(r, start_s=start, top_s=top, lower_s=lower, end_s=end, up_s=up_s,
                            hold_s=lower - top, down_s=f(r.lower_s + r.down_s) - lower,
                            fast=up_s < FAST_RISE_S))

    def spans(items: list) -> list:
        return [replace(i, start_s=f(i.start_s), end_s=f(i.end_s)) for i in items]

    holds = [replace(h, start_s=f(h.start_s), end_s=f(h.end_s),
                     hold_s=f(h.end_s) - f(h.start_s)) for h in truth.holds]
    return replace(truth, meta=dict(truth.meta), reps=reps, partials=spans(truth.partials),
                   holds=holds, sets=spans(truth.sets), walking=spans(truth.walking),
                   fidgets=spans(truth.fidgets), negatives=spans(truth.negatives),
                   knocks=[replace(k, t_s=f(k.t_s)) for k in truth.knocks],
                   gaps=spans(truth.gaps))


def drift(block: SampleBlock, scale: float, offset_s: float = 0.0,
          truth: Truth | None = None) -> tuple[SampleBlock, Truth | None]:
    """The sensor's clock runs ``scale`` times as fast and starts at ``offset_s``.

    An MPU-6050's internal oscillator is good to about ±1-3 %; a host that stamps with
    Unix time starts near 1.7e9 s. Rates are untouched: the gyro still measures
    degrees per real second.
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")

    def fn(t: np.ndarray) -> np.ndarray:
        return offset_s + scale * t

    return (SampleBlock(fn(block.t), block.accel_g, block.gyro_dps),
            None if truth is None else _noted(map_truth(truth, fn), "drift",
                                              [scale, offset_s]))


@dataclass(frozen=True)
class Warp:
    """A smooth monotone time map u = t + Σ aₖ·sin(2π t / Pₖ + φₖ).

    Movements slow down and speed up by up to ``max_rate_change`` (the slope stays in
    [1 - c, 1 + c]), which reshapes every stroke: a minimum-jerk rise becomes skewed, a
    hold stretches. Event order is kept because the map is increasing.
    """

    amplitudes_s: tuple[float, ...]
    periods_s: tuple[float, ...]
    phases: tuple[float, ...]

    @classmethod
    def random(cls, rng: np.random.Generator, max_rate_change: float = 0.3,
               periods_s: tuple[float, float] = (2.0, 15.0), n: int = 3) -> Warp:
        if not 0.0 < max_rate_change < 1.0:
            raise ValueError(f"max_rate_change must be in (0, 1), got {max_rate_change}")
        periods = rng.uniform(*periods_s, size=n)
        weights = rng.uniform(0.3, 1.0, size=n)
        # the slope's swing Σ aₖ·2π/Pₖ is at most max_rate_change
        amplitudes = max_rate_change * weights / np.sum(weights) * periods / (2 * np.pi)
        return cls(tuple(amplitudes), tuple(periods), tuple(rng.uniform(0, 2 * np.pi, n)))

    def __call__(self, t: np.ndarray) -> np.ndarray:
        out = np.array(t, dtype=float)
        for a, p, phase in zip(self.amplitudes_s, self.periods_s, self.phases, strict=True):
            out += a * (np.sin(2 * np.pi * t / p + phase) - np.sin(phase))
        return out

    def rate(self, t: np.ndarray) -> np.ndarray:
        """du/dt: how much slower (> 1) the movement runs at ``t``."""
        out = np.ones_like(t, dtype=float)
        for a, p, phase in zip(self.amplitudes_s, self.periods_s, self.phases, strict=True):
            out += a * 2 * np.pi / p * np.cos(2 * np.pi * t / p + phase)
        return out


def time_warp(block: SampleBlock, warp: Warp,
              truth: Truth | None = None) -> tuple[SampleBlock, Truth | None]:
    """The same movements on a warped time axis, sampled again at the original rate.

    Angular rates scale with the warp (the same angle covered in more or less time);
    the accelerometer keeps its values, gravity's direction being what it mostly
    measures (the movement's own small accelerations are not rescaled).
    """
    u = warp(block.t)
    gyro = None if block.gyro_dps is None else block.gyro_dps / warp.rate(block.t)[:, None]
    warped = _regrid(SampleBlock(u, block.accel_g, gyro), nominal_rate_hz(block))
    return warped, None if truth is None else _noted(map_truth(truth, warp), "time_warp",
                                                     list(warp.periods_s))


# --- sampling ------------------------------------------------------------------------------

def nominal_rate_hz(block: SampleBlock) -> float:
    """The rate a stream was sampled at: the median spacing of its samples."""
    return float(1.0 / np.median(np.diff(block.t)))


def _runs(t: np.ndarray, rate_hz: float) -> list[slice]:
    """Stretches without a gap (a jump over 2.5 sample periods ends one)."""
    breaks = np.flatnonzero(np.diff(t) > 2.5 / rate_hz) + 1
    edges = [0, *breaks.tolist(), len(t)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _columns(block: SampleBlock) -> np.ndarray:
    parts = [block.accel_g] if block.gyro_dps is None else [block.accel_g, block.gyro_dps]
    return np.hstack(parts)


def _block(t: np.ndarray, columns: np.ndarray, gyro: bool) -> SampleBlock:
    return SampleBlock(t, columns[:, :3], columns[:, 3:6] if gyro else None)


def _regrid(block: SampleBlock, rate_hz: float) -> SampleBlock:
    """Even samples at ``rate_hz`` (linear interpolation), gaps kept as gaps."""
    columns, parts = _columns(block), []
    for run in _runs(block.t, rate_hz):
        t = block.t[run]
        grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * rate_hz)) + 1) / rate_hz
        parts.append(_block(grid, np.column_stack(
            [np.interp(grid, t, c) for c in columns[run].T]), block.gyro_dps is not None))
    return SampleBlock.concat(parts)


def resample(block: SampleBlock, rate_hz: float,
             truth: Truth | None = None) -> tuple[SampleBlock, Truth | None]:
    """The stream as a sensor at ``rate_hz`` would have sampled it (anti-aliased).

    Each stretch between gaps is put on an even grid at its own rate, then resampled
    by a rational factor with a polyphase filter (``scipy.signal.resample_poly``,
    edges extended linearly rather than with zeros, which would fake a fall to 0 g).
    """
    source_hz = nominal_rate_hz(block)
    ratio = Fraction(rate_hz / source_hz).limit_denominator(100)
    even, parts = _regrid(block, source_hz), []
    out_hz = source_hz * ratio.numerator / ratio.denominator
    for run in _runs(even.t, source_hz):
        columns = _columns(even[run])
        if len(columns) < 8:
            continue        # too short a stretch to filter: dropped, as a FIFO overflow would
        new = resample_poly(columns, ratio.numerator, ratio.denominator, axis=0,
                            padtype="line")
        parts.append(_block(even.t[run][0] + np.arange(len(new)) / out_hz, new,
                            block.gyro_dps is not None))
    out = SampleBlock.concat(parts)
    if truth is not None:
        truth = _noted(replace(truth, meta=dict(truth.meta)), "resample", out_hz)
        truth.meta["rate_hz"] = out_hz
    return out, truth


# --- what is missing -----------------------------------------------------------------------

def crop_start(block: SampleBlock, start_s: float,
               truth: Truth | None = None) -> tuple[SampleBlock, Truth | None]:
    """The stream starts at ``start_s``: mid-set, mid-hold, mid-stride, anywhere.

    Reps and holds already under way become optional (neither counting them nor
    leaving them out is wrong) and their phases unknown; whatever ended before the
    start is gone, and spans that straddle it begin at it.
    """
    keep = block.t >= start_s
    out = SampleBlock(block.t[keep], block.accel_g[keep],
                      None if block.gyro_dps is None else block.gyro_dps[keep])
    if truth is None:
        return out, None
    first = float(out.t[0]) if len(out) else start_s

    def cut(r):
        return replace(r, optional=True, up_known=False, hold_known=r.top_s >= first,
                       down_known=r.lower_s >= first)

    def clip(items: list) -> list:
        return [replace(i, start_s=max(i.start_s, first)) for i in items if i.end_s > first]

    reps = [r if r.start_s >= first else cut(r) for r in truth.reps if r.end_s > first]
    holds = [h if h.start_s >= first else replace(h, optional=True, known=False)
             for h in truth.holds if h.end_s > first]
    mapped = replace(truth, meta=dict(truth.meta), reps=reps,
                     partials=[p for p in truth.partials if p.start_s >= first],
                     holds=holds, sets=clip(truth.sets), walking=clip(truth.walking),
                     fidgets=clip(truth.fidgets), negatives=clip(truth.negatives),
                     knocks=[k for k in truth.knocks if k.t_s >= first],
                     gaps=[g for g in truth.gaps if g.start_s >= first])
    return out, _noted(_recount(mapped), "crop_start", first)


def drop(block: SampleBlock, spans_s: Sequence[tuple[float, float]],
         truth: Truth | None = None) -> tuple[SampleBlock, Truth | None]:
    """Dropouts: the samples in each ``(start_s, end_s)`` never arrive.

    A rep whose top is still seen must be counted, with the phases a gap cuts
    unknown; a rep whose top fell in a gap, or that a gap over :data:`LONG_GAP_S`
    cuts (the detector restarts), is optional. Each gap, as the samples show it
    (last sample before to first after), is added to the truth's ``gaps``.
    """
    keep = np.ones(len(block), bool)
    for start, end in spans_s:
        keep &= (block.t < start) | (block.t >= end)
    out = SampleBlock(block.t[keep], block.accel_g[keep],
                      None if block.gyro_dps is None else block.gyro_dps[keep])
    if truth is None:
        return out, None
    t = out.t
    gaps = []
    for start, end in spans_s:
        before, after = np.searchsorted(t, start) - 1, np.searchsorted(t, end)
        if before >= 0 and after < len(t) and t[after] > t[before]:
            gaps.append(TrueGap(float(t[before]), float(t[after])))
        elif before < 0 and after < len(t):         # the stream now starts later
            gaps.append(TrueGap(float(block.t[0]), float(t[after])))

    def hit(a: float, b: float, long_only: bool = False) -> bool:
        return any(g.start_s < b and g.end_s > a and (
            not long_only or g.end_s - g.start_s > LONG_GAP_S) for g in gaps)

    def seen(a: float, b: float) -> bool:
        lo, hi = np.searchsorted(t, [a - TOP_WINDOW_S, b + TOP_WINDOW_S])
        return hi > lo

    reps = []
    for r in truth.reps:
        optional = r.optional or not seen(r.top_s, r.lower_s) or hit(r.start_s, r.end_s, True)
        reps.append(replace(r, optional=optional,
                            up_known=r.up_known and not hit(r.start_s, r.top_s),
                            hold_known=r.hold_known and not hit(r.top_s, r.lower_s),
                            down_known=r.down_known and not hit(r.lower_s, r.end_s)))
    holds = [replace(h, known=h.known and not hit(h.start_s, h.end_s),
                     optional=h.optional or hit(h.start_s, h.end_s, True)
                     or not seen(h.start_s, h.end_s)) for h in truth.holds]
    mapped = replace(truth, meta=dict(truth.meta), reps=reps, holds=holds,
                     gaps=sorted([*truth.gaps, *gaps], key=lambda g: g.start_s))
    return out, _noted(_recount(mapped), "gaps", [[g.start_s, g.end_s] for g in gaps])


def gap_spans(rng: np.random.Generator, t: np.ndarray, n: int,
              length_s: tuple[float, float],
              inside: Sequence[tuple[float, float]] | None = None) -> list[tuple[float, float]]:
    """``n`` dropouts of random length, anywhere in ``t`` or starting inside ``inside``.

    ``inside`` (say, each rep's start to end) puts gaps where they hurt: mid-rep.
    """
    spans = []
    lo, hi = float(t[0]) + 1.0, float(t[-1]) - 1.0
    for _ in range(n):
        if inside:
            a, b = inside[int(rng.integers(len(inside)))]
            start = float(rng.uniform(a, b))
        else:
            start = float(rng.uniform(lo, hi))
        spans.append((start, start + float(rng.uniform(*length_s))))
    return spans


def _recount(truth: Truth) -> Truth:
    """Each set's count again from the reps and holds inside it (optional ones apart)."""
    def members(a_set, items: list) -> list:
        # those starting inside the set, and one the stream's start cut (starts before it)
        return [i for i in items if a_set.start_s - 1e-9 <= i.start_s <= a_set.end_s + 1e-9
                or i.start_s < a_set.start_s <= i.end_s]

    sets = []
    for a_set in truth.sets:
        reps, holds = members(a_set, truth.reps), members(a_set, truth.holds)
        sets.append(replace(a_set, reps=sum(not r.optional for r in reps),
                            holds=sum(not h.optional for h in holds),
                            optional=sum(i.optional for i in [*reps, *holds])))
    return replace(truth, sets=sets)


def _noted(truth: Truth, name: str, value: object) -> Truth:
    """Record in the truth's meta what was done to the stream, in order."""
    truth.meta["perturbations"] = [*truth.meta.get("perturbations", []), [name, value]]
    return truth


# --- what is wrong -------------------------------------------------------------------------

def rotate(block: SampleBlock, rotation: np.ndarray,
           truth: Truth | None = None) -> tuple[SampleBlock, Truth | None]:
    """The sensor mounted turned by ``rotation`` (3×3): accelerometer and gyro together."""
    rotation = np.asarray(rotation, dtype=float)
    if rotation.shape != (3, 3) or not np.allclose(rotation @ rotation.T, np.eye(3),
                                                   atol=1e-6):
        raise ValueError("rotation must be a 3x3 rotation matrix")
    gyro = None if block.gyro_dps is None else block.gyro_dps @ rotation.T
    out = SampleBlock(block.t, block.accel_g @ rotation.T, gyro)
    if truth is None:
        return out, None
    truth = _noted(replace(truth, meta=dict(truth.meta)), "rotate", rotation.tolist())
    if "mount_rotation" in truth.meta:
        truth.meta["mount_rotation"] = (rotation @ np.asarray(
            truth.meta["mount_rotation"])).tolist()
    return out, truth


SPIKES = ("huge", "nan", "inf", "range")


def spikes(block: SampleBlock, rng: np.random.Generator, n: int, kind: str = "huge",
           range_g: float = 2.0, range_dps: float = 2000.0) -> SampleBlock:
    """``n`` single bad values: 1e308 ("huge"), NaN, ±inf, or beyond the chip's range.

    A corrupted frame or a logger bug puts one absurd number in an otherwise good
    file; each lands on one random channel of one random sample. A SampleBlock does
    not check its values, so the result can be fed on or written as a file.
    """
    if kind not in SPIKES:
        raise ValueError(f"kind must be one of {SPIKES}, got {kind!r}")
    accel, gyro = block.accel_g.copy(), None if block.gyro_dps is None else block.gyro_dps.copy()
    for i in rng.choice(len(block), size=n, replace=False):
        target = gyro if gyro is not None and rng.random() < 0.3 else accel
        limit = range_dps if target is gyro else range_g
        sign = float(rng.choice([-1.0, 1.0]))
        value = {"huge": 1e308, "nan": np.nan, "inf": sign * np.inf,
                 "range": sign * limit * rng.uniform(1.5, 8.0)}[kind]
        target[i, int(rng.integers(3))] = value
    return SampleBlock(block.t, accel, gyro)


# --- files as real loggers write them ------------------------------------------------------

def host_stamps(t: np.ndarray, rng: np.random.Generator,
                period_s: tuple[float, float] = (0.02, 0.12)) -> np.ndarray:
    """Times as a host stamps them: every sample of a FIFO read gets the read's time.

    Reads come every ``period_s`` (jittered), so bursts of samples share a stamp; the
    result never decreases but often repeats.
    """
    t = np.asarray(t, dtype=float)
    span = float(t[-1] - t[0])
    reads = t[0] + np.cumsum(rng.uniform(*period_s, size=int(span / period_s[0]) + 2))
    return reads[np.searchsorted(reads, t, side="left")]


def repeat_stamps(t: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples stamped with their predecessor's time (two samples, one timestamp)."""
    out = np.array(t, dtype=float)
    for i in np.sort(rng.choice(np.arange(1, len(out), 2), size=n, replace=False)):
        out[i] = out[i - 1]
    return out


def write_unit_change(path: str | Path, block: SampleBlock, after_row: int) -> None:
    """A file whose accelerations turn to m/s² after data row ``after_row`` (a logger bug)."""
    accel = block.accel_g.copy()
    accel[after_row:] *= G_MPS2
    write_rows(path, block.t, accel, block.gyro_dps)


def write_ms_time(path: str | Path, block: SampleBlock) -> None:
    """A file whose ``t`` is in milliseconds, as many microcontroller loggers write it."""
    write_rows(path, block.t * 1000.0, block.accel_g, block.gyro_dps)
