"""Where a finished movement started and stopped: onsets and offsets from its own samples.

People move a limb point to point along smooth paths that creep out of rest and
into the target: a minimum-jerk raise spends its first 8.6 % below a tenth of
its peak speed, a cosine one less, a trapezoidal-velocity one less still. A
threshold crossing therefore fires late at the start and early at the end, by
an amount that depends on the shape, and a fixed minimum-jerk correction is off
by up to a fifth of the duration on other shapes.

So each stroke (the rise, the lowering, the return from a heel drop) is fitted
with a family of shapes of two kinds people move in: bell-shaped speed, the
regularized incomplete beta functions ``I(a, b)`` (minimum jerk exactly at
a = b = 3, cosine within a few per cent, skewed either way when a != b), and
trapezoidal speed (speeding up for a share of the time, cruising, slowing down
for another share: how people move when they count "one, two, three"), which no
bell fits at its ends. The data are the times the stroke crosses fixed shares
of its travel; for each shape in a table the onset and duration follow by
linear least squares, and the shape that fits best gives the stroke's ends.
Crossings near an end weigh more (the ends are what is measured), and crossings
that noise at that end (sway at the top on one leg, tremor) could fake are left
out: the fit extrapolates over them. Cheap enough to run for every stroke: a
few thousand multiply-adds over a precomputed table.

Everything here is a pure function of one movement's samples: the state
machine hands them over once the foot is back at rest, or when a gap or the
end of the stream cut it. A boundary that falls among samples a gap hid, or
with no crossing near it, is None, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import butter, sosfiltfilt
from scipy.special import betaincinv

from .params import DetectorParams

LEVELS = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95, 0.98])
"""Shares of a stroke's travel whose crossing times are fitted."""
_WEIGHTS = 1.0 / np.sqrt(np.minimum(LEVELS, 1.0 - LEVELS))
_EXPONENTS = np.array([1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0])
_RAMPS = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5])


def _trapezoid(up: np.ndarray, down: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Share of its duration at which a trapezoidal-speed stroke crosses ``share`` of its
    travel, speeding up for ``up`` of the time and slowing down for the last ``down``."""
    cruise = 1.0 / (1.0 - 0.5 * (up + down))
    return np.where(share <= 0.5 * cruise * up, np.sqrt(2.0 * up * share / cruise),
                    np.where(share >= 1.0 - 0.5 * cruise * down,
                             1.0 - np.sqrt(2.0 * down * (1.0 - share) / cruise),
                             share / cruise + 0.5 * up))


def _lines(u: np.ndarray, w: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset and duration, for each shape (rows of ``u``, the shares of its duration
    at which it crosses the levels), that best put its crossings at ``times``
    (weighted linear least squares)."""
    sw, su, suu = w.sum(), (w * u).sum(axis=1), (w * u * u).sum(axis=1)
    st, sut = (w * times).sum(), (w * u * times).sum(axis=1)
    duration = (sw * sut - su * st) / (sw * suu - su * su)
    return (st - duration * su) / sw, duration


def _end_shift(u: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How far (shares of the duration, both ends summed) each shape in ``u`` puts the
    ends of a stroke that moved as ``reference``: what wrongly trusting it costs."""
    onset, duration = _lines(u, _WEIGHTS, reference)
    return np.abs(onset) + np.abs(onset + duration - 1.0)


_A, _B = (g.ravel() for g in np.meshgrid(_EXPONENTS, _EXPONENTS, indexing="ij"))
_UP, _DOWN = (g.ravel() for g in np.meshgrid(_RAMPS, _RAMPS, indexing="ij"))
_SHAPES = np.vstack((betaincinv(_A[:, None], _B[:, None], LEVELS[None, :]),
                     _trapezoid(_UP[:, None], _DOWN[:, None], LEVELS[None, :])))
"""For each shape (bell: a, b; trapezoid: up, down), the share of its duration at which it
crosses each level."""
_MIN_JERK = betaincinv(3.0, 3.0, LEVELS)
_PRIOR = np.concatenate(((_A - 3.0) ** 2 + (_B - 3.0) ** 2,
                         0.25 + _end_shift(_SHAPES[len(_A):], _MIN_JERK) ** 2 / 0.02))
"""Distance of each shape from minimum jerk, the shape people move in unless shown otherwise.

A bell's is that of its exponents: how it creeps out of rest and into the end. A
trapezoid's is how far it would put the ends of a minimum-jerk stroke, in the bells'
units (0.02 squared shares of the duration per unit, their median ratio), plus 0.25
for being the other family: with sensor noise, near-triangular trapezoids otherwise
fit a skewed bell's crossings as well and take its ends (bench/accuracy.py, shape
conditions: 0 puts skewed strokes' p95 at 0.9 s; 2, trapezoids never chosen, leaves
trapezoidal ones at 0.8-1.2 s; 0.25 balances them at 0.5-0.8 s).
"""
MAX_SHARE = 0.2   # noise never pushes the fitted levels further in than this from an end


@dataclass(frozen=True)
class Bounds:
    """A raise's phase boundaries (sensor clock, s) and levels (deg); None = unknown."""

    start_s: float | None
    top_s: float | None
    lower_s: float | None
    bottom_s: float | None
    end_s: float | None
    peak_deg: float
    bottom_deg: float | None


def smooth(p: np.ndarray, params: DetectorParams) -> np.ndarray:
    """Zero-phase low-pass of a movement's pitch: noise down, no delay, shape kept.

    A median of five first takes out a reading or two that are no pitch (a corrupted
    value in range, a knock's peak), which the low-pass would spread into a bump; on a
    smooth stroke a median changes nothing but the odd sample at a turn.
    """
    sos = butter(2, min(params.fit_cutoff_hz, 0.4 * params.rate_hz), fs=params.rate_hz,
                 output="sos")
    if len(p) <= 3 * (2 * len(sos) + 1):
        return p.copy()
    return sosfiltfilt(sos, median_filter(p, size=5, mode="nearest"))


def _cross(t: np.ndarray, x: np.ndarray, level: float, start: int, step: int) -> int | None:
    """Index ``i`` such that ``level`` lies between x[i] and x[i+1], found going from
    ``start`` in direction ``step`` (x[start] on one side); None if it never does."""
    side = x >= level if x[start] >= level else x <= level
    if step < 0:
        other = np.flatnonzero(~side[:start + 1])
        return int(other[-1]) if len(other) else None
    other = np.flatnonzero(~side[start:])
    return start + int(other[0]) - 1 if len(other) else None


def stroke(t: np.ndarray, x: np.ndarray, known: np.ndarray, middle: int, begin_deg: float,
           end_deg: float, begin_noise: float, end_noise: float, min_share: float,
           shape_prior: float, open_end: bool = False) -> tuple[float | None, float | None]:
    """Onset and offset (s) of one stroke from ``begin_deg`` to ``end_deg``.

    Parameters
    ----------
    t, x, known : arrays
        Times (s), smoothed pitch (deg) and which samples were measured.
    middle : int
        An index inside the stroke, on the ``end_deg`` side of its half-way level.
    begin_deg, end_deg : float
        Levels before and after the stroke (rest, plateau, bottom).
    begin_noise, end_noise : float
        How much the pitch wanders at each end (deg, standard deviation): crossings
        closer to that end than three times it are not used.
    min_share : float
        The closest share of the travel to an end that is ever used.
    shape_prior : float
        How much a shape's distance from minimum jerk costs, against its misfit
        (mean squared crossing error in shares of the duration): small crossing
        errors (sensor noise, the sensor's own acceleration) must not buy a shape
        whose extrapolated ends are far off.
    open_end : bool
        The samples stop short (a gap, the end of the stream): an offset after the
        last one is unknown. Otherwise the movement was seen settling, and its
        offset may fall a little after the last sample handed over.
    """
    travel = end_deg - begin_deg
    if travel == 0:
        return None, None
    lo = min(max(min_share, 3.0 * begin_noise / abs(travel)), MAX_SHARE)
    hi = 1.0 - min(max(min_share, 3.0 * end_noise / abs(travel)), MAX_SHARE)
    times = np.full(len(LEVELS), np.nan)
    for n, share in enumerate(LEVELS):
        if not lo <= share <= hi:
            continue
        level = begin_deg + share * travel
        i = _cross(t, x, level, middle, -1 if share <= 0.5 else 1)
        if i is None or i + 1 >= len(x) or not (known[i] and known[i + 1]):
            continue
        dx = x[i + 1] - x[i]
        frac = 0.5 if dx == 0 else (level - x[i]) / dx
        times[n] = t[i] + min(max(frac, 0.0), 1.0) * (t[i + 1] - t[i])
    use = ~np.isnan(times)
    if np.count_nonzero(use) < 3:
        return None, None
    u, w, tt = _SHAPES[:, use], _WEIGHTS[use], times[use]
    onset, duration = _lines(u, w, tt)
    # misfit in shares of the duration, so the prior weighs the same for quick and slow
    misfit = (w * (onset[:, None] + duration[:, None] * u - tt) ** 2).sum(axis=1) / (
        w.sum() * np.maximum(duration, 1e-3) ** 2) + shape_prior * _PRIOR
    best = int(np.argmin(misfit))
    begin_s, end_s = float(onset[best]), float(onset[best] + duration[best])
    shares = LEVELS[use]
    # an end is only known where the stroke was seen near it, and not inside a gap
    if shares[0] > 0.5 or not _measured(t, known, begin_s, True):
        begin_s = None
    if shares[-1] < 0.5 or not _measured(t, known, end_s, not open_end):
        end_s = None
    return begin_s, end_s


def _measured(t: np.ndarray, known: np.ndarray, at_s: float, beyond: bool) -> bool:
    """Whether ``at_s`` lies among measured samples (or beyond them, if ``beyond``)."""
    i = int(np.searchsorted(t, at_s))
    if i >= len(t) or i == 0:
        return beyond and bool(known[min(i, len(t) - 1)])
    return bool(known[i - 1] and known[i])


def _rest(x: np.ndarray, guess_deg: float) -> tuple[float, float]:
    """The level of a stretch of rest and how much it wanders about its trend (deg).

    The live state machine's rest is one low-passed sample; the stroke's levels are
    measured against the median of the unfiltered samples instead, since at the
    creeping start of a slow raise a tenth of a degree moves a crossing by tens of ms.
    """
    if len(x) < 4:
        return guess_deg, 0.0
    n = np.arange(len(x))
    residual = x - np.polyval(np.polyfit(n, x, 1), n)
    return float(np.median(x)), 1.4826 * float(np.median(np.abs(residual
                                                               - np.median(residual))))


def fit_raise(t: np.ndarray, p: np.ndarray, known: np.ndarray, rest_deg: float,
              detect_s: float, top_detect_s: float, lower_detect_s: float,
              heel_drop: bool, cut: bool, shape_prior: float, params: DetectorParams,
              fused: bool = True) -> Bounds:
    """Boundaries of one raise from its samples.

    Parameters
    ----------
    t, p, known : arrays
        The movement's samples, with some rest before: times (s), unfiltered
        pitch (deg, delay-free) and whether each was measured.
    rest_deg : float
        Pitch at rest before the raise.
    detect_s, top_detect_s, lower_detect_s : float
        When the live state machine saw the rise start, the top and the lowering,
        corrected for its filter's delay (search anchors only). ``lower_detect_s``
        is NaN when the samples stop at the top.
    heel_drop : bool
        The lowering went below rest and came back up (off a step).
    cut : bool
        The samples stop because a gap or the end of the stream cut the movement,
        not because it was seen back at rest.
    shape_prior : float
        How strongly the strokes are taken to be minimum-jerk (see :func:`stroke`).
    fused : bool
        The pitch holds through quick movements (the gyro was fused). Without it, a
        quick raise's top is read where the foot stood still (see :func:`_still_top`).
    """
    rate = params.rate_hz
    x = smooth(p, params)
    i_det = min(int(np.searchsorted(t, detect_s)), len(t) - 1)
    at_top = np.isnan(lower_detect_s)
    i_low = len(t) if at_top else int(np.searchsorted(t, lower_detect_s, side="right"))
    i_low = min(max(i_low, i_det + 1), len(t))
    i_peak = i_det + int(np.argmax(x[i_det:i_low]))
    i_top = min(int(np.searchsorted(t, top_detect_s)), i_peak)
    # the top: from where the rise was seen to slow to where the lowering leaves it
    top_up, top_noise = _plateau(x, known, i_top, i_low, float(x[i_peak]), rest_deg, params)
    # the strokes are fitted to the top as read; the height is where the foot stood still
    height = top_up
    i_bottom = len(x) if at_top else i_low - 1 + int(np.argmin(x[i_low - 1:]))
    if not fused:
        rise_dps = float(np.max(np.diff(x[i_det:i_peak + 1]), initial=0.0)) * rate
        if rise_dps >= params.still_top_dps:
            still = _still_top(p, known, i_det, i_bottom, rest_deg, top_up, rise_dps, params)
            height = top_up if still is None else min(still, top_up)
    middle = _middle(x, rest_deg, top_up, i_peak)
    rest_deg, rest_noise = _rest(_near(x, rest_deg, top_up, middle, -1, rate, params), rest_deg)
    rise_open = cut and at_top
    if rise_open and i_peak >= len(x) - 3:
        return Bounds(stroke(t, x, known, middle, rest_deg, top_up, rest_noise, top_noise,
                             params.fit_share, shape_prior, True)[0],
                      None, None, None, None, height, None)
    start_s, top_s = stroke(t, x, known, middle, rest_deg, top_up, rest_noise, top_noise,
                            params.fit_share, shape_prior, rise_open)
    if at_top:
        return Bounds(start_s, top_s, None, None, None, height, None)
    # the lowering: from the end of the plateau down to the bottom
    bottom = float(x[i_bottom])
    if cut and i_bottom >= len(x) - 3:
        # still going down when the samples stopped: where it ended is not known
        lower_s, _ = stroke(t, x, known, _middle(x, top_up, bottom, i_bottom), top_up,
                            bottom, top_noise, 0.0, params.fit_share, shape_prior, True)
        return Bounds(start_s, top_s, lower_s, None, None, height, None)
    middle = _middle(x, top_up, bottom, i_bottom)
    bottom_noise = _noise_after(x, bottom, top_up, middle, rate, params)
    lower_s, bottom_s = stroke(t, x, known, middle, top_up, bottom, top_noise, bottom_noise,
                               params.fit_share, shape_prior, cut and not heel_drop)
    end_s = bottom_s
    if heel_drop:
        middle = _middle(x, bottom, rest_deg, i_bottom, step=1)
        _, end_s = (None, None) if middle is None else stroke(
            t, x, known, middle, bottom, rest_deg, bottom_noise, rest_noise,
            params.fit_share, shape_prior, cut)
    return Bounds(start_s, top_s, lower_s, bottom_s, end_s, height,
                  bottom if known[i_bottom] else None)


def _noise_after(x: np.ndarray, bottom: float, top: float, middle: int, rate: float,
                 params: DetectorParams) -> float:
    return _rest(_near(x, bottom, top, middle, 1, rate, params), bottom)[1]


def _plateau(x: np.ndarray, known: np.ndarray, i_top: int, i_low: int, peak_deg: float,
             rest_deg: float, params: DetectorParams) -> tuple[float, float]:
    """The level of the top and how much it sways (deg).

    The samples from where the rise was seen to slow (``i_top``) to where the
    lowering was seen (``i_low``) hold the hold, but also the first fifth of the
    lowering: so the plateau ends where the pitch last stood within a sliver of
    the top before leaving it, and its sway is the spread about its median.
    """
    window = x[i_top:i_low][known[i_top:i_low]]
    if len(window) < params.plateau_s * params.rate_hz:
        return peak_deg, 0.0
    level = float(np.median(window))
    near = (x[i_top:i_low] >= level - params.fit_share * (level - rest_deg)) & known[i_top:i_low]
    stay = np.flatnonzero(near)
    if len(stay) >= params.plateau_s * params.rate_hz:
        window = x[i_top:i_top + int(stay[-1]) + 1][known[i_top:i_top + int(stay[-1]) + 1]]
        level = float(np.median(window))
    return level, 1.4826 * float(np.median(np.abs(window - level)))


def _still_top(p: np.ndarray, known: np.ndarray, lo: int, hi: int, rest_deg: float,
               peak_deg: float, rise_dps: float, params: DetectorParams) -> float | None:
    """Where a quick raise stood still at its top, read from the accelerometer alone.

    Its own acceleration bends the reading as the rise stops and as the lowering
    starts, 10-20 deg above the true top either side of it (DESIGN.md: 65 deg read for
    52 deg turned), so neither the highest sample nor the median of the top is its
    height. Only while the foot stands still is the reading gravity's. The top is the
    lowest still stretch of the unfiltered pitch (a low-pass would smear the bends into
    a hold of a tenth of a second) in the upper half of the movement (of at most
    ``max_raise_deg``: the bends can read far past what a foot turns) that lasted
    ``still_top_s`` (the bends only ever read higher, and their crests stand still for a
    moment too, so the caller keeps the lower of this and the top as read); None if the
    foot never stood still. Still is slow against the rise's peak speed (``rise_dps``).
    Only quick rises are read so: a slower one reads true throughout, and the still part
    of a swaying hold is no truer than the rest.
    """
    rate = params.rate_hz
    seg = p[lo:hi]
    if len(seg) < 3:
        return None
    slow = np.abs(np.gradient(seg)) * rate < params.still_top_share * rise_dps
    reach = min(peak_deg - rest_deg, params.max_raise_deg)
    still = slow & known[lo:hi] & (seg > rest_deg + 0.5 * reach)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], still.view(np.int8), [0]))))
    if len(edges) == 0:
        return None
    starts, stops = edges[::2], edges[1::2]
    levels = [float(np.median(seg[a:b])) for a, b in zip(starts, stops, strict=True)
              if b - a >= params.still_top_s * rate]
    return min(levels) if levels else None


def _near(x: np.ndarray, level: float, other: float, middle: int, step: int, rate: float,
          params: DetectorParams) -> np.ndarray:
    """Up to half a second of samples at one end of a stroke, beyond its first crossing.

    How much these wander (sway, tremor, noise) sets how close to that end the
    fit may look.
    """
    i = _cross(x, x, level + params.fit_share * (other - level), middle, step)
    if i is None:
        return x[:0]
    n, gap = int(0.5 * rate), int(0.1 * rate)
    return x[max(0, i - gap - n):max(0, i - gap)] if step < 0 else x[i + gap:i + gap + n]


def _middle(x: np.ndarray, begin: float, end: float, anchor: int, step: int = -1) -> int | None:
    """The stroke's first sample past half-way, found from ``anchor`` (at its far end).

    Going back (``step`` -1) from the far end, or forward from its start (+1),
    to where the pitch is last on the far side of the half-way level.
    """
    half = 0.5 * (begin + end)
    far = x >= half if end > begin else x <= half
    if step < 0:
        near = np.flatnonzero(~far[:anchor + 1])
        return int(near[-1]) + 1 if len(near) else 0
    ahead = np.flatnonzero(far[anchor:])
    return anchor + int(ahead[0]) if len(ahead) else None
