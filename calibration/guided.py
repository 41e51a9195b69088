"""The guided calibration as a state machine: sample blocks in, what to tell the person out.

Pure, like the pipeline: no clock, no I/O, decided from the samples and their times, so
the live sensor (wired or wireless), a recording and a simulated person all go through
exactly this, and the command (:mod:`.command`) only prints what it says. The steps:

1. *faces* (optional, sensor in hand): each face up in turn, still; offset and scale
   per axis (:mod:`.faces`). Every later reading is corrected with them.
2. *stand*: the sensor clipped on, standing still; the latest still standing before
   the first raise is the baseline, held to the chip's datasheet (:mod:`.standing`).
3. *raises*: slow, full raises, found by the pipeline itself (so a raise is what the
   coach will count); a quick one or a partial one is not counted and says why. Their
   samples give the axis and the person's range (:mod:`.raises`).
4. *stand again*: still once more; a level that moved means the sensor moved on the shoe.

The result is a :class:`~pi_service.pipeline.calibration.Calibration` with the lever
from the person's foot, and a list of :class:`~.standing.Finding` for them to read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pi_service.pipeline import Calibration, Partial, Pipeline, Rep
from pi_service.pipeline.calibration import DEFAULT_LEVER_CM
from pi_service.samples import SampleBlock
from pi_service.stages import load_stage

from . import faces as six
from . import raises as fit_raises
from . import standing
from .standing import Finding, Still, StillFinder

SHIFT_DEG = 3.0
"""Standing level this much apart before and after the raises: the sensor moved."""
SPREAD_DEG = 8.0
"""Raises about axes this far apart: the sensor wobbles on the shoe (or the foot rolls)."""
MIN_UP_S = 1.0
"""A rise quicker than this is not slow: its own acceleration bends the reading."""
REMIND_S = 20.0
"""Sensor seconds without progress before the prompt is repeated."""
MARGIN_S = 0.5
"""Samples kept either side of a raise for its fit."""
CHUNK = 10
"""Samples taken at a time (a live sensor's block)."""
MAX_LEVELS = 4
"""Candidate levels followed at once before the first raise (each its own pipeline)."""


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


class CalibrationError(ValueError):
    """The calibration cannot be finished (the message says why, in one line)."""


@dataclass(frozen=True)
class Say:
    """One line for the person: a ``prompt`` (what to do), ``progress`` or a ``warning``."""

    text: str
    kind: str = "prompt"


class GuidedCalibration:
    """Guides one calibration; feed it every block, print what it says.

    Parameters
    ----------
    lever_cm : float
        Heel to the ball of the foot (:func:`.shoe.lever_cm`).
    faces : bool
        Start with the six-face accelerometer calibration.
    raises : int
        Slow raises wanted.
    chip_name : str, optional
        The chip, for its datasheet figures; may be set later (a wireless clip-on names
        its chip in its status), it is read when the findings are made.
    still_s : float
        Still this long is a still standing (or face).
    """

    def __init__(self, *, lever_cm: float = DEFAULT_LEVER_CM, faces: bool = False,
                 raises: int = 3, chip_name: str | None = None, still_s: float = 2.0) -> None:
        if raises < 1:
            raise ValueError(f"raises must be >= 1, got {raises}")
        self.lever_cm = lever_cm
        self.wanted = raises
        self.chip_name = chip_name
        self.step = "faces" if faces else "stand"
        self.findings: list[Finding] = []
        self.correction: six.AccelCorrection | None = None
        self.calibration: Calibration | None = None
        self._still = StillFinder(still_s)
        self._faces: dict[str, np.ndarray] = {}
        self._pipeline: Pipeline | None = None
        self._blocks: list[SampleBlock] = []
        self._baseline: Still | None = None
        self._levels: list[tuple[Still, Pipeline]] = []   # candidates, before a raise
        self._raises: list[tuple[float, float]] = []
        self._clipped = 0
        self._since: float | None = None        # sensor time of the last progress

    @property
    def done(self) -> bool:
        return self.step == "done"

    def start(self) -> list[Say]:
        """What to say before the first sample."""
        return [Say(self._prompt())]

    def _prompt(self) -> str:
        if self.step == "faces":
            left = [f for f in six.FACES if f not in self._faces]
            return ("Lay the sensor still on a table on each of its six faces in turn, a few "
                    f"seconds each ({len(left)} to go: {', '.join(left)} up).")
        if self.step == "stand":
            return ("Clip the sensor on the shoe, then stand still on both feet, weight even, "
                    "for two seconds.")
        if self.step == "raises":
            return (f"Now {self.wanted - len(self._raises)} slow, full heel raises: about 3 s "
                    "up, a moment at the top, 3 s down, as high as is comfortable.")
        return "Stand still once more, for two seconds."

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, block: SampleBlock) -> list[Say]:
        """One block from the sensor; what to tell the person now.

        A block is taken a few samples at a time, so what is found does not depend on how
        the source cut the stream (a recording comes in thousands of samples a block).
        """
        out: list[Say] = []
        for part in block.split(CHUNK):
            out += self._feed(part)
        return out

    def _feed(self, block: SampleBlock) -> list[Say]:
        if not len(block) or self.done:
            return []
        self._clipped += standing.clipped(block)
        if self.correction is not None:
            block = SampleBlock(block.t, self.correction.apply(block.accel_g), block.gyro_dps)
        if self._since is None:
            self._since = float(block.t[0])
        out = self._faces_step(block) if self.step == "faces" else self._on_foot(block)
        if out:
            self._since = float(block.t[-1])
        elif block.t[-1] - self._since > REMIND_S:
            self._since = float(block.t[-1])
            out = [Say("Still waiting. " + self._prompt())]
        return out

    def finish(self) -> list[Say]:
        """The stream ended (a recording): finish what can be finished."""
        out: list[Say] = []
        if self.step == "raises":
            if self._raises:
                out += self._events(self._pipeline.finish())
            else:
                for still, pipeline in list(self._levels):
                    out += self._adopt(still, pipeline, pipeline.finish())
        if self.step == "stand again":
            out.append(Say("no standing still after the raises: could not check that the "
                           "sensor stayed put", "warning"))
            out += self._conclude(None)
        if not self.done:
            raise CalibrationError(self._unfinished())
        return out

    def _unfinished(self) -> str:
        if self.step == "faces":
            left = [f for f in six.FACES if f not in self._faces]
            return f"the six faces were not all done ({', '.join(left)} missing)"
        if self.step == "stand":
            return "no still standing found: stand still for two seconds first"
        return (f"found {len(self._raises)} of {self.wanted} slow, full raises: record "
                "standing still, then the raises")

    def _faces_step(self, block: SampleBlock) -> list[Say]:
        still = self._still.feed(block)
        if still is None:
            return []
        face = six.face_of(still.accel_g)
        if face is None:
            return [Say("That is not flat on a face: lay it flat, one face up.", "progress")]
        if face in self._faces:
            return [Say(f"{face} up again: turn it so another face is up.", "progress")]
        self._faces[face] = still.accel_g
        if len(self._faces) < len(six.FACES):
            return [Say(f"{face} up: got it ({len(self._faces)}/6).", "progress"),
                    Say(self._prompt())]
        try:
            self.correction = six.solve(self._faces)
        except six.FacesError as exc:
            self._faces = {}
            return [Say(f"the faces do not fit a still sensor ({exc}): once more.", "warning"),
                    Say(self._prompt())]
        c = self.correction
        self.step = "stand"
        self._still = StillFinder(self._still.still_s, armed=False)   # it lies on a face yet
        offset = ", ".join(f"{1000 * v:+.0f}" for v in c.offset_g)
        scale = ", ".join(f"{v:.3f}" for v in c.scale)
        return [Say(f"Six faces: offsets {offset} mg, sensitivities {scale}.", "progress"),
                Say(self._prompt())]

    def _on_foot(self, block: SampleBlock) -> list[Say]:
        out: list[Say] = []
        self._blocks.append(block)
        still = self._still.feed(block)
        if self.step == "raises":
            out += self._raising(block)
        elif self.step == "stand again" and still is not None:
            out += self._conclude(still)
        if self.step in ("stand", "raises") and not self._raises and still is not None and all(
                _angle_deg(still.accel_g, s.accel_g) > SHIFT_DEG for s, _ in self._levels):
            # a still standing in a new orientation, before the first raise, may be the level:
            # the sensor rests on a table first, pauses in the hand, is clipped on anew; the
            # one the first slow raise is seen from is it. (The pipeline would not notice a
            # sensor turned smoothly from a table to the shoe, so each gets its own.)
            pipeline = Pipeline(load_stage(2))
            since = SampleBlock.concat(self._blocks)
            events = pipeline.feed(since[int(np.searchsorted(since.t, still.start_s)):])
            self._levels = [*self._levels[-(MAX_LEVELS - 1):], (still, pipeline)]
            if self._baseline is None:
                self.step = "raises"
                out += [Say("Standing still: got it.", "progress"), Say(self._prompt())]
            self._baseline = still
            out += self._adopt(still, pipeline, events)
        self._trim()
        return out

    def _raising(self, block: SampleBlock) -> list[Say]:
        if self._raises:
            return self._events(self._pipeline.feed(block))
        out: list[Say] = []
        for still, pipeline in list(self._levels):
            out += self._adopt(still, pipeline, pipeline.feed(block))
            if self._raises:
                break
        return out

    def _adopt(self, still: Still, pipeline: Pipeline, events: list) -> list[Say]:
        """Before the first raise: a level whose pipeline saw a slow raise is the level."""
        if self._raises:
            return []
        if not any(isinstance(e, Rep) and e.start_s is not None and e.end_s is not None
                   and (e.up_s is None or e.up_s >= MIN_UP_S) for e in events):
            # only the latest level speaks of quick or small raises (once, not per level)
            return self._events(events) if still is self._baseline else []
        self._baseline, self._pipeline, self._levels = still, pipeline, []
        return self._events(events)

    def _events(self, events: list) -> list[Say]:
        out = []
        for event in events:
            if isinstance(event, Partial):
                out.append(Say(f"That raise was small ({event.peak_deg:.0f} deg): as high as "
                               "is comfortable.", "progress"))
            if not isinstance(event, Rep) or self.step != "raises":
                continue
            if event.start_s is None or event.end_s is None:
                out.append(Say("The sensor dropped samples during that raise: once more.",
                               "progress"))
            elif event.up_s is not None and event.up_s < MIN_UP_S:
                out.append(Say(f"That one was quick ({event.up_s:.1f} s up): slowly, about "
                               "3 s up. Not counted.", "progress"))
            elif self._pipeline is not None:
                self._raises.append((event.start_s, event.end_s))
                height = self.lever_cm * math.sin(math.radians(max(event.peak_deg, 0.0)))
                out.append(Say(f"raise {len(self._raises)}: {event.peak_deg:.0f} deg "
                               f"({height:.1f} cm)", "progress"))
                if len(self._raises) == self.wanted:
                    self.step = "stand again"
                    self._still = StillFinder(self._still.still_s)
                    out.append(Say(self._prompt()))
        return out

    def _trim(self) -> None:
        """Keep only what the fit needs: from the earliest level still in play (or the last
        10 s before there is one)."""
        starts = [s.start_s for s, _ in self._levels]
        if self._baseline is not None:
            starts.append(self._baseline.start_s)
        keep_from = min(starts) - 1.0 if starts else self._blocks[-1].t[-1] - 10.0
        while len(self._blocks) > 1 and self._blocks[0].t[-1] < keep_from:
            self._blocks.pop(0)

    # -- the result -------------------------------------------------------------------------

    def _conclude(self, again: Still | None) -> list[Say]:
        base = self._baseline
        samples = SampleBlock.concat(self._blocks)
        windows = []
        for start, end in self._raises:
            keep = (samples.t >= start - MARGIN_S) & (samples.t <= end + MARGIN_S)
            if np.count_nonzero(keep) < 10:
                raise CalibrationError("the samples of a raise were lost: calibrate again")
            windows.append(SampleBlock(samples.t[keep], samples.accel_g[keep]))
        result = fit_raises.fit(base.accel_g, windows)
        findings = standing.check(base, self.chip_name, corrected=self.correction is not None)
        if again is not None:
            shift = _angle_deg(base.accel_g, again.accel_g)
            if shift > SHIFT_DEG:
                findings.append(Finding("shifted", f"standing level moved {shift:.1f} deg "
                                        "during the raises: the sensor shifted on the shoe; "
                                        "clip it tight and calibrate again"))
        if result.spread_deg > SPREAD_DEG:
            findings.append(Finding("axis", f"the raises turned the sensor about axes up to "
                                    f"{result.spread_deg:.0f} deg apart: it may be loose on "
                                    "the shoe, or the foot rolled"))
        if self._clipped:
            findings.append(Finding("saturated", f"{self._clipped} samples at the sensor's "
                                    "full scale: knocks, or a range too small for them"))
        self.findings = findings
        fatal = [f for f in findings if f.fatal]
        if fatal:
            raise CalibrationError(fatal[0].message)
        c = self.correction
        self.calibration = Calibration(
            baseline_g=tuple(float(v) for v in base.accel_g),
            raise_axis=tuple(float(v) for v in result.axis),
            typical_peak_deg=result.typical_deg, lever_cm=self.lever_cm,
            accel_offset_g=None if c is None else c.offset_g,
            accel_scale=None if c is None else c.scale)
        self.step = "done"
        peaks = ", ".join(f"{p:.0f}" for p in result.peaks_deg)
        return [Say(f"Calibrated: raises of {peaks} deg, typical {result.typical_deg:.1f} deg "
                    f"({self.lever_cm * math.sin(math.radians(result.typical_deg)):.1f} cm).",
                    "progress"),
                *(Say(f.message, "warning") for f in findings)]
