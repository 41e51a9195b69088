"""The live pipeline: sample blocks in, phase changes, cues, reps, holds, sets and gaps out.

Pure and deterministic — no clock, no I/O — so the service, the CLI's offline
analysis, the tests and the benchmarks all run exactly the same code, and a
recording gives the same events whether it is fed one sample at a time or whole.
"""

from __future__ import annotations

from ..protocol import Stage
from ..samples import SampleBlock
from .calibration import DEFAULT_LEVER_CM, Calibration, prior_peak_deg
from .condition import Quality
from .events import Event, Gap, Phase
from .params import DetectorParams
from .phases import PhaseDetector
from .pitch import PitchTracker


class Pipeline:
    """Turns one sensor's sample stream into events, judged against ``stage``.

    Parameters
    ----------
    stage : Stage
        Tempo targets for verdicts, target reps and the rest that ends a set.
    calibration : Calibration, optional
        Skips self-calibration (no standing still or raise needed first).
    hold_stage : Stage, optional
        The isometric stage whose hold range holds are judged against; a hold
        is a hold whatever the stage. Defaults to ``stage`` if it is isometric,
        otherwise only the stage's own ``hold_min_s`` applies.
    params : DetectorParams, optional
        The detector's tunables.
    """

    def __init__(self, stage: Stage, calibration: Calibration | None = None, *,
                 hold_stage: Stage | None = None, params: DetectorParams | None = None) -> None:
        self.stage = stage
        self.params = params = params or DetectorParams()
        self._given = calibration
        if hold_stage is None and stage.isometric:
            hold_stage = stage
        self.hold_range_s = ((hold_stage.hold_min_s, hold_stage.hold_max_s)
                             if hold_stage is not None else (stage.hold_min_s, None))
        self._pitch = PitchTracker(params, calibration)
        self._detector: PhaseDetector | None = None

    @property
    def phase(self) -> Phase:
        return Phase.REST if self._detector is None else self._detector.phase

    @property
    def state(self) -> str:
        """"calibrating" (no still standing yet), "learning" (raise direction not yet
        known) or "ready"."""
        if not self._pitch.posture.stood:
            return "calibrating"
        ref = self._pitch.reference
        return "ready" if ref is not None and ref.axis is not None else "learning"

    @property
    def quality(self) -> Quality:
        """What had to be mended in the stream: bad samples, repeated stamps."""
        return self._pitch.conditioner.quality

    @property
    def fused(self) -> bool:
        """Whether the gyro is fused with the accelerometer."""
        return self._pitch.fused

    @property
    def calibration(self) -> Calibration | None:
        """What has been learned about the sensor and person, once the raise axis is known.

        The level was learned from readings corrected by the given calibration's
        accelerometer offset and scale, so those go on with it.
        """
        ref = self._pitch.reference
        if ref is None or ref.axis is None:
            return None
        detector = self._detector
        typical = (detector.typical_deg if detector is not None and detector.learned
                   else self._given.typical_peak_deg if self._given is not None else None)
        return Calibration(
            baseline_g=tuple(float(v) for v in ref.baseline_g),
            raise_axis=tuple(float(v) for v in ref.axis),
            typical_peak_deg=typical,
            lever_cm=self._lever_cm,
            accel_offset_g=None if self._given is None else self._given.accel_offset_g,
            accel_scale=None if self._given is None else self._given.accel_scale,
        )

    @property
    def _lever_cm(self) -> float:
        return self._given.lever_cm if self._given is not None else DEFAULT_LEVER_CM

    def feed(self, block: SampleBlock) -> list[Event]:
        """Process a block (any size); returns the events it completed, in order.

        A calibration with the accelerometer's own offset and scale corrects every
        reading first, so everything downstream sees the corrected sensor.
        """
        if len(block) == 0:
            return []
        if self._given is not None and self._given.accel_offset_g is not None:
            block = SampleBlock(block.t, self._given.correct_accel(block.accel_g),
                                block.gyro_dps)
        return self._run(self._pitch.feed(block))

    def finish(self) -> list[Event]:
        """End of stream: complete what can be completed and close the open set."""
        events = self._run(self._pitch.finish())
        if self._detector is not None:
            events += self._detector.finish()
        return events

    def _run(self, items: list) -> list[Event]:
        events: list[Event] = []
        for item in items:
            if isinstance(item, Gap):
                events += [item] if self._detector is None else self._detector.gap(item)
                continue
            if self._detector is None:
                given = self._given
                learned = given is not None and given.typical_peak_deg is not None
                typical = given.typical_peak_deg if learned else prior_peak_deg(self._lever_cm)
                self._detector = PhaseDetector(self.stage, self.params, typical, learned,
                                               self.hold_range_s, self._lever_cm,
                                               self._pitch.delay_s)
            events += self._detector.process(item)
        return events
