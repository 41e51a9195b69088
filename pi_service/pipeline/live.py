"""The live pipeline: sample blocks in, phase changes, cues, reps, holds and sets out.

Pure and deterministic — no clock, no I/O — so the service, the CLI's offline
analysis, the tests and the benchmarks all run exactly the same code, and a
recording gives the same reps whether it is fed one sample at a time or whole.
"""

from __future__ import annotations

from ..protocol import Stage
from ..samples import SampleBlock
from .calibration import DEFAULT_LEVER_CM, Calibration, prior_peak_deg
from .events import Event, Phase
from .phases import PhaseDetector
from .pitch import PitchTracker


class Pipeline:
    """Turns one sensor's sample stream into events, judged against ``stage``.

    Parameters
    ----------
    stage : Stage
        Tempo targets for verdicts, target reps and the rest that ends a set.
    calibration : Calibration, optional
        Skips self-calibration (no standing still needed at the start).
    hold_stage : Stage, optional
        The isometric stage whose hold range holds are judged against; a hold
        is a hold whatever the stage. Defaults to ``stage`` if it is isometric,
        otherwise only the stage's own ``hold_min_s`` applies.

    Raises
    ------
    CalibrationError
        From :meth:`feed` or :meth:`finish`, when the stream does not start
        with about a second of standing still and no calibration was given.
    """

    def __init__(self, stage: Stage, calibration: Calibration | None = None, *,
                 hold_stage: Stage | None = None) -> None:
        self.stage = stage
        self._given = calibration
        if hold_stage is None and stage.isometric:
            hold_stage = stage
        self.hold_range_s = ((hold_stage.hold_min_s, hold_stage.hold_max_s)
                             if hold_stage is not None else (stage.hold_min_s, None))
        self._pitch = PitchTracker(calibration)
        self._detector: PhaseDetector | None = None

    @property
    def phase(self) -> Phase:
        return Phase.REST if self._detector is None else self._detector.phase

    @property
    def calibration(self) -> Calibration | None:
        """What has been learned about the sensor and person, once the raise axis is known."""
        axis = self._pitch.raise_axis
        if axis is None:
            return None
        detector = self._detector
        typical = (detector.typical_deg if detector is not None and detector.learned
                   else self._given.typical_peak_deg if self._given is not None else None)
        return Calibration(
            baseline_g=tuple(float(v) for v in self._pitch.baseline_g),
            raise_axis=tuple(float(v) for v in axis),
            typical_peak_deg=typical,
            lever_cm=self._lever_cm,
        )

    @property
    def _lever_cm(self) -> float:
        return self._given.lever_cm if self._given is not None else DEFAULT_LEVER_CM

    def feed(self, block: SampleBlock) -> list[Event]:
        """Process a block (any size); returns the events it completed, in time order."""
        if len(block) == 0:
            return []
        return self._run(self._pitch.feed(block))

    def finish(self) -> list[Event]:
        """End of stream: complete what can be completed and close the open set."""
        events = self._run(self._pitch.flush())
        if self._detector is not None:
            events += self._detector.finish()
        return events

    def _run(self, samples: tuple | None) -> list[Event]:
        if samples is None:
            return []
        if self._detector is None:
            given = self._given
            learned = given is not None and given.typical_peak_deg is not None
            typical = given.typical_peak_deg if learned else prior_peak_deg(self._lever_cm)
            self._detector = PhaseDetector(
                self.stage, typical, learned, self.hold_range_s, self._pitch.rate_hz,
                self._pitch.lowpass.delay_s, self._lever_cm, self._pitch.refine_axis)
        return self._detector.process(*samples)
