"""A simulated single-leg heel-rise endurance test, with the answer key a clinician would give.

The test is judged on what the person really did, so the benchmark needs tests whose
truth is known: how many raises were valid, how high each went, when and why the test
should have stopped. The person here keeps to a 60 bpm metronome (up on one beat, down
on the next) with some timing jitter and a slow drift, tires so each raise is a little
lower than the one before, and ends the test one of three ways: two raises in a row
that no longer reach the height share, two in a row off the beat, or by stopping. The
failing raises are scripted well past the thresholds (see ``*_MARGIN``), so the truth
does not depend on a hair's breadth. The foot may stand level or on a 10° incline board
(forefoot up: the standing heel is 10° below the ball), and the sensor on the laces or
the heel counter; the sensor model, its mounting and its clock are the simulator's.

Heights are vertical heel displacement from standing on the board,
``L * (sin(top) - sin(base))`` in absolute foot pitches, L the heel-to-ball lever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..heelrise.guided import RELEARN_RAISES, leg_schedule
from ..heelrise.protocol import TestProtocol
from ..samples import SampleBlock
from ..stages import load_stage
from .foot import DEG
from .scenario import Script
from .simulator import SimulatedSource, _lever, _measure, _sensor

STOPS = ("height", "pace", "stopped")
"""How a simulated test ends: raises too low, raises off the beat, or the person stops."""

LATE_MARGIN = (0.75, 1.05)
"""A raise off the beat completes this many beats late (the tolerance is half a beat)."""
LOW_MARGIN = (0.28, 0.4)
"""A raise too low reaches this share of the best (the threshold is half)."""
VALID_FLOOR = 0.62
"""Fatigue never takes a valid raise below this share of the best of the first five."""


@dataclass(frozen=True)
class TrueRaise:
    start_s: float
    top_s: float
    lower_s: float
    end_s: float
    peak_deg: float        # pitch above standing on the board
    height_cm: float       # vertical heel displacement
    valid: bool            # on the beat and high enough
    fault: str | None      # "height" or "pace" for the failing raises


@dataclass
class TestTruth:
    """What happened in a simulated test, on the sensor clock."""

    meta: dict
    raises: list[TrueRaise] = field(default_factory=list)
    first_beat_s: float = 0.0
    beat_s: float = 1.0
    valid_reps: int = 0
    stop_reason: str = ""
    stop_s: float = 0.0    # when a correct judge ends the test

    @property
    def heights_cm(self) -> list[float]:
        return [r.height_cm for r in self.raises if r.valid]

    def shifted(self, offset_s: float) -> TestTruth:
        """The same test on a clock ``offset_s`` later (a leg later in a session)."""
        return replace(self, raises=[replace(r, start_s=r.start_s + offset_s,
                                             top_s=r.top_s + offset_s,
                                             lower_s=r.lower_s + offset_s,
                                             end_s=r.end_s + offset_s) for r in self.raises],
                       first_beat_s=self.first_beat_s + offset_s,
                       stop_s=self.stop_s + offset_s)

    def to_json(self) -> dict:
        return {"meta": dict(self.meta), "raises": [asdict(r) for r in self.raises],
                "first_beat_s": self.first_beat_s, "beat_s": self.beat_s,
                "valid_reps": self.valid_reps, "stop_reason": self.stop_reason,
                "stop_s": self.stop_s, "peak_height_cm": max(self.heights_cm, default=0.0),
                "total_cm": sum(self.heights_cm)}


@dataclass(frozen=True)
class SimulatedTest:
    block: SampleBlock
    truth: TestTruth


def _heel_cm(lever_cm: float, top_deg: float, base_deg: float) -> float:
    """Vertical heel travel between two absolute foot pitches (world frame, heel up +)."""
    return float(lever_cm * (np.sin(top_deg * DEG) - np.sin(base_deg * DEG)))


def simulate_test(seed: int, *, mount: str = "laces", incline_deg: float = 0.0,
                  stop: str | None = None, reps: int | None = None, chip: str = "mpu6050",
                  gyro: bool = False, warm_up: int = 10, bpm: float = 60.0,
                  rate_hz: float = 100.0, strength: float = 1.0,
                  beats: tuple[float | None, float] | None = None,
                  tail_s: float | None = None, foot_cm: float | None = None) -> SimulatedTest:
    """One leg's test; options left as None are drawn from the seed.

    ``reps`` is how many valid raises the person manages (drawn 8-35, times
    ``strength``, which also scales the height: an involved leg is weaker); ``stop``
    how the test ends (:data:`STOPS`); ``warm_up`` puts that many raises on both feet
    to the beat and a pause before it (the guided test's warm-up). ``beats`` gives the first
    warm-up beat and the first test beat when a metronome sets them (the guided test
    on the simulated sensor): the person stands until then. ``tail_s`` is how long
    they stand after the test (drawn 4-8 s); ``foot_cm`` the foot's length (drawn 24-29 cm:
    give the first leg's for the other foot of the same person).
    """
    if stop is not None and stop not in STOPS:
        raise ValueError(f"stop must be one of {STOPS}, got {stop!r}")
    if not 0.0 <= incline_deg <= 20.0:
        raise ValueError(f"incline_deg must be in [0, 20], got {incline_deg}")
    model = _sensor(chip, rate_hz, None, None)
    person, clock_rng, mount_rng, sensor_rng = np.random.default_rng(seed).spawn(4)
    lever = _lever(mount_rng, mount)
    drawn_foot_cm = float(person.uniform(24.0, 29.0))     # drawn either way: same stream
    foot_cm = drawn_foot_cm if foot_cm is None else float(foot_cm)
    lever_m = 0.0073 * foot_cm
    stop = stop or str(person.choice(STOPS))
    drawn = int(person.integers(8, 36))
    reps = max(5, round(drawn * strength)) if reps is None else reps
    if reps < 5:
        raise ValueError(f"reps must be at least 5 (the best of the first five), got {reps}")
    best_deg = float(person.uniform(24.0, 36.0)) * min(1.0, 0.5 + 0.5 * strength)
    beat_s = 60.0 / bpm
    s = Script(person, load_stage(3), lever_m, pitch_deg=-incline_deg)
    s.stand(s.u(3.0, 5.0))
    warm_beat, test_beat = beats if beats is not None else (None, None)

    def one(start_s: float, peak_deg: float, up_s: float, down_s: float) -> TrueRaise:
        s.now = max(start_s, s.now + 0.02)    # a raise starts once the last has ended
        start, top, lower, end = s.raise_heel(up_s, max(0.05, 2 * beat_s - up_s - down_s
                                                        - s.u(0.0, 0.1)),
                                              down_s, peak_deg - incline_deg,
                                              -incline_deg, back_to_level=False)
        height = _heel_cm(100 * lever_m, peak_deg - incline_deg, -incline_deg)
        return TrueRaise(start, top, lower, end, peak_deg, height, True, None)

    if warm_up:     # both feet, easy raises to the beat, then onto one leg
        start = s.now if warm_beat is None else warm_beat
        for k in range(warm_up):
            one(start + 2 * k * beat_s + s.u(0.0, 0.1), best_deg * s.u(0.75, 0.9),
                0.8 * beat_s, 0.8 * beat_s)
        s.stand(s.u(3.0, 5.0))
    if test_beat is not None and test_beat < s.now + 1.5:
        raise ValueError(f"the first test beat at {test_beat} s leaves no time to get ready")
    s.balance.move(s.now, 1.0, 1.0)
    if test_beat is None:
        s.stand(s.u(2.0, 4.0))
    first_beat = s.now if test_beat is None else test_beat
    truth = TestTruth({"seed": seed, "mount": mount, "incline_deg": incline_deg,
                       "chip": chip, "gyro": gyro, "foot_cm": foot_cm,
                       "lever_cm": 100 * lever_m, "bpm": bpm, "warm_up": warm_up,
                       "best_deg": best_deg}, first_beat_s=first_beat, beat_s=beat_s)
    lag = 0.0
    drift = s.u(-0.01, 0.02) * beat_s               # beats of lag gained per raise
    floor = VALID_FLOOR + s.u(0.0, 0.15)
    k = 0
    for k in range(reps):
        fade = 1.0 if k < 5 else 1.0 - (1.0 - floor) * (k - 4) / max(1, reps - 5)
        peak = best_deg * (s.u(0.97, 1.0) if k < 5 else fade * s.u(0.98, 1.02))
        lag = float(np.clip(lag + drift + s.u(-0.06, 0.06) * beat_s,
                            -0.2 * beat_s, 0.25 * beat_s))
        up = s.u(0.75, 0.95) * beat_s
        truth.raises.append(one(first_beat + 2 * k * beat_s + lag, peak, up,
                                s.u(0.75, 0.95) * beat_s))
    truth.valid_reps = reps
    best = max(r.height_cm for r in truth.raises[:5])
    if stop == "stopped":       # gives up: no raise in the next two cycles
        truth.stop_s = first_beat + (2 * (reps + 1) + 2.5) * beat_s
        s.stand(s.u(1.0, 2.0))
    else:
        for j in (reps, reps + 1):
            if stop == "height":
                share = s.u(*LOW_MARGIN)
                peak = float(np.degrees(np.arcsin(
                    share * best / (100 * lever_m) - np.sin(incline_deg * DEG)))) + incline_deg
                late = lag
            else:
                peak, late = best_deg * floor * s.u(0.95, 1.05), s.u(*LATE_MARGIN) * beat_s
            raise_ = one(first_beat + 2 * j * beat_s + late, peak, s.u(0.75, 0.95) * beat_s,
                         s.u(0.75, 0.95) * beat_s)
            truth.raises.append(TrueRaise(**{**asdict(raise_), "valid": False,
                                             "fault": stop}))
        last = truth.raises[-1]
        truth.stop_s = (last.end_s if stop == "height"
                        else first_beat + (2 * (reps + 1) + 2.5) * beat_s)
    truth.stop_reason = "pace" if stop == "stopped" else stop
    s.balance.move(s.now + 0.2, 1.0, 0.0)
    s.idle()
    s.stand(s.u(4.0, 8.0) if tail_s is None else tail_s)
    block, _, rotation, _ = _measure(s, (clock_rng, mount_rng, sensor_rng), rate_hz, model,
                                     lever, gyro, None, single_leg=True)
    truth.meta["mount_rotation"] = rotation.tolist()
    truth.meta["duration_s"] = s.now
    return SimulatedTest(block, truth)


def simulate_guided(seed: int, protocol: TestProtocol, legs: Sequence[str],
                    involved: str | None, *, mount: str = "laces", incline_deg: float = 0.0,
                    warm_up: bool = True, rest_s: float | None = None, chip: str = "mpu6050",
                    gyro: bool = False) -> tuple[SampleBlock, list[TestTruth]]:
    """A person doing the guided test as :class:`~..heelrise.guided.GuidedTest` leads it.

    They keep its schedule (stand, warm up, the first leg's beats, the rest, a few
    raises on both feet, the next leg's beats), clip the sensor to the other shoe during
    the rest (a new mounting), and the involved leg is the weaker one. Returns the
    stream and each leg's truth, on the stream's clock.
    """
    rest_s = protocol.rest_between_legs_s if rest_s is None else rest_s
    parts: list[SampleBlock] = []
    truths: list[TestTruth] = []
    offset = 0.0
    draw = np.random.default_rng(seed)
    fresh = int(draw.integers(12, 36))            # the uninvolved leg's raises
    weaker = max(5, round(fresh * draw.uniform(0.55, 0.9)))
    foot_cm = None                                # one person: both feet the same length
    for i, leg in enumerate(legs):
        raises = (protocol.warm_up_raises if warm_up else 0) if i == 0 else RELEARN_RAISES
        plan = leg_schedule(protocol, 0.0, raises)
        beats = (plan.warm_up_first_beat_s, plan.test_first_beat_s)
        sim = simulate_test(seed + 1000 * i, mount=mount, incline_deg=incline_deg, chip=chip,
                            gyro=gyro, warm_up=raises,
                            bpm=protocol.bpm, strength=0.75 if leg == involved else 1.0,
                            reps=weaker if leg == involved else fresh,
                            beats=beats, tail_s=rest_s + 8.0, foot_cm=foot_cm)
        block, truth = sim.block, sim.truth
        foot_cm = truth.meta["foot_cm"]
        if i < len(legs) - 1:
            block = block[: int(np.searchsorted(block.t, truth.stop_s + rest_s))]
        parts.append(SampleBlock(block.t + offset, block.accel_g, block.gyro_dps))
        truths.append(truth.shifted(offset))
        offset += truth.stop_s + rest_s
    return SampleBlock.concat(parts), truths


class SimulatedTestSource(SimulatedSource):
    """A simulated person doing the guided test, replayed as a sensor would deliver it.

    ``truths`` holds each leg's answer key; other options go to :func:`simulate_guided`.
    """

    def __init__(self, seed: int, protocol: TestProtocol, legs: Sequence[str],
                 involved: str | None, *, block_size: int = 10, speed: float | None = 1.0,
                 **options: object) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        block, self.truths = simulate_guided(seed, protocol, legs, involved, **options)
        self.simulation = SimulatedTest(block, self.truths[0])
        self.block_size = block_size
        self.speed = speed
        self._closed = False
