"""A stroke's onset and offset, fitted from its own samples, whatever its shape.

The strokes are drawn with the simulator's shape profiles (position against time), so
each test states exactly where the movement began and ended.
"""

from __future__ import annotations

import numpy as np
import pytest

from pi_service.pipeline.fit import smooth, stroke
from pi_service.pipeline.params import DetectorParams
from pi_service.sources.foot import MIN_JERK, Beta, Cosine, Shape, Trapezoid

PARAMS = DetectorParams()
SHAPES = [MIN_JERK, Cosine(), Beta(2.5, 3.5), Beta(3.5, 2.5), Trapezoid(0.1), Trapezoid(0.3),
          Trapezoid(0.5)]


def fitted_ends(shape: Shape, duration_s: float, travel_deg: float = 25.0,
                noise_deg: float = 0.02, seed: int = 0) -> tuple[float, float]:
    """(onset, offset) errors (s) of one stroke starting at 1 s, with a second of rest
    either side and a little sensor noise."""
    t = np.arange(0.0, duration_s + 2.0, 1.0 / PARAMS.rate_hz)
    share = shape.profile(np.clip(t - 1.0, 0.0, duration_s) / duration_s)[0]
    noise = np.random.default_rng(seed).normal(0.0, noise_deg, len(t))
    x = smooth(travel_deg * share + noise, PARAMS)
    middle = int(np.flatnonzero(x >= 0.5 * travel_deg)[0])
    onset, offset = stroke(t, x, np.ones(len(t), bool), middle, 0.0, travel_deg, noise_deg,
                           noise_deg, PARAMS.fit_share, PARAMS.shape_prior)
    assert onset is not None and offset is not None
    return onset - 1.0, offset - 1.0 - duration_s


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: repr(s))
@pytest.mark.parametrize("duration_s", [0.4, 1.5, 4.0])
def test_ends_are_found_for_bell_and_trapezoidal_speed(shape: Shape, duration_s: float):
    """A slow count-to-three stroke at constant speed is not a minimum-jerk one: its
    ends are where it starts and stops, not a bell's extrapolation of its middle."""
    onset, offset = fitted_ends(shape, duration_s)
    limit = 0.03 * duration_s + 0.02
    assert abs(onset) <= limit and abs(offset) <= limit, (onset, offset)


def test_a_lowering_is_fitted_like_a_rise():
    """The fit does not care which way the stroke goes."""
    t = np.arange(0.0, 5.0, 1.0 / PARAMS.rate_hz)
    x = smooth(20.0 - 20.0 * Trapezoid(0.2).profile(np.clip(t - 1.0, 0.0, 3.0) / 3.0)[0],
               PARAMS)
    middle = int(np.flatnonzero(x <= 10.0)[0])
    onset, offset = stroke(t, x, np.ones(len(t), bool), middle, 20.0, 0.0, 0.0, 0.0,
                           PARAMS.fit_share, PARAMS.shape_prior)
    assert onset == pytest.approx(1.0, abs=0.1) and offset == pytest.approx(4.0, abs=0.1)


def test_an_end_hidden_by_a_gap_is_unknown():
    """Samples a gap hid do not get a guessed boundary."""
    t = np.arange(0.0, 5.0, 1.0 / PARAMS.rate_hz)
    x = smooth(20.0 * MIN_JERK.profile(np.clip(t - 1.0, 0.0, 3.0) / 3.0)[0], PARAMS)
    known = ~((t > 3.5) & (t < 4.5))
    middle = int(np.flatnonzero(x >= 10.0)[0])
    onset, offset = stroke(t, x, known, middle, 0.0, 20.0, 0.0, 0.0, PARAMS.fit_share,
                           PARAMS.shape_prior)
    assert onset == pytest.approx(1.0, abs=0.05) and offset is None
