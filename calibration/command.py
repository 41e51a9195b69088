"""``heelraise calibrate``: the guided calibration on the live sensor or a recording, and
``--check``, which holds a calibration file to a fresh standing sample.

The edge of :mod:`.guided`: it opens the source as ``heelraise run`` does
(``open_source``: the wired sensor, the wireless clip-on, the simulator or a recording),
names its chip for the datasheet checks, prints what the guide says, and writes the
file. Everything heavy is imported when the command runs, so ``heelraise --help`` stays
quick.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from typing import Any

CHECK_DEG = 3.0
"""A fresh standing this far from the calibrated one: the sensor sits differently now."""
CHECK_G = 0.03
"""A fresh |a| this far from the calibrated one: another sensor, range or correction."""


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's options (the sensor's are ``heelraise run``'s)."""
    from pi_service.arguments import configure_sensor

    parser.add_argument("file", nargs="?",
                        help="recording that starts standing still, then slow raises (with "
                             "--faces: the six faces first); without it: guided, live")
    parser.add_argument("--out", metavar="FILE", help="calibration file to write")
    parser.add_argument("--check", metavar="FILE",
                        help="verify this calibration file against a fresh standing sample")
    parser.add_argument("--faces", action="store_true",
                        help="start with the six-face accelerometer calibration (offset and "
                             "scale per axis), the sensor in hand")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--shoe-size", metavar="SIZE",
                      help='your shoe size, for heights in cm: "EU 42", "UK 8", "US 9", '
                           '"US 8W", "270mm" (a bare number is EU)')
    size.add_argument("--foot-cm", type=float, metavar="CM",
                      help="your foot's length, heel to longest toe, instead of --shoe-size")
    parser.add_argument("--raises", type=int, default=3, metavar="N",
                        help="slow raises to do (default %(default)s)")
    parser.add_argument("--chip", metavar="NAME",
                        help="the IMU of a recording, for its datasheet checks "
                             "(mpu6050, lsm6dsox); live sensors name themselves")
    configure_sensor(parser)


def run(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """Calibrate (0), or with ``--check`` verify (0 matches, 1 does not); errors raise."""
    from pi_service.errors import HeelRaiseError

    if (args.out is None) == (args.check is None):
        raise HeelRaiseError("calibrate: give --out FILE to calibrate, or --check FILE to "
                             "verify a calibration")
    if args.check is not None:
        return check(args, say)
    from .file import save_calibration
    from .guided import CalibrationError, GuidedCalibration

    guide = GuidedCalibration(lever_cm=_lever_cm(args), faces=args.faces, raises=args.raises)
    try:
        _drive(args, guide, say)
    except CalibrationError as exc:
        raise HeelRaiseError(f"{args.file or 'calibrate'}: {exc}; no calibration written") \
            from None
    save_calibration(guide.calibration, args.out)
    say(f"calibration written to {args.out}")
    return 0


def _lever_cm(args: argparse.Namespace) -> float:
    from pi_service.errors import HeelRaiseError
    from pi_service.pipeline.calibration import DEFAULT_LEVER_CM

    from . import shoe

    try:
        if args.shoe_size is not None:
            return shoe.lever_cm(shoe.foot_cm(args.shoe_size))
        if args.foot_cm is not None:
            return shoe.lever_cm(args.foot_cm)
    except ValueError as exc:
        raise HeelRaiseError(f"calibrate: {exc}") from None
    return DEFAULT_LEVER_CM


def _drive(args: argparse.Namespace, guide: Any, say: Callable[[str], None]) -> None:
    guide_through(guide, _blocks(args, say), say)


def guide_through(guide: Any, blocks: Iterable[tuple[Any, Callable[[], str | None]]],
                  say: Callable[[str], None]) -> None:
    """Feed ``guide`` (a :class:`.guided.GuidedCalibration`) the blocks until it is done,
    saying what it says; each block comes with a way to name the sensor's chip."""
    for line in guide.start():
        say(line.text)
    for block, chip in blocks:
        if guide.chip_name is None:
            guide.chip_name = chip()
        for line in guide.feed(block):
            say(("warning: " if line.kind == "warning" else "") + line.text)
        if guide.done:
            return
    for line in guide.finish():
        say(("warning: " if line.kind == "warning" else "") + line.text)


def from_source(source: Any, say: Callable[[str], None], name: str = "live",
                chip: str | None = None) -> Iterable[tuple[Any, Callable[[], str | None]]]:
    """The blocks of a live source (what ``open_source`` gives: wired, wireless, simulated),
    skipping the empty ones it yields while the sensor is away."""
    said_waiting = False
    for block in source:
        if not len(block):
            if not getattr(source, "connected", True) and not said_waiting:
                say(f"waiting for the {name} sensor...")
                said_waiting = True
            continue
        yield block, lambda: chip or _chip_of(source)


def _blocks(args: argparse.Namespace, say: Callable[[str], None],
            ) -> Iterable[tuple[Any, Callable[[], str | None]]]:
    """Blocks from a recording, or from the configured source live, each with a way to name
    the chip (a wireless clip-on names it in its status, once that has arrived)."""
    from pi_service.errors import HeelRaiseError
    from pi_service.pipeline import SampleError

    if args.file is not None:
        from pi_service.sources.recording import iter_recording

        try:
            for block in iter_recording(args.file):
                yield block, lambda: args.chip
        except SampleError as exc:
            raise HeelRaiseError(f"{args.file}: {exc}") from None
        return
    from pi_service.service import config_from_args, open_source

    config = config_from_args(args)
    source, name = open_source(config)
    with source:
        yield from from_source(source, say, name, args.chip)


def _chip_of(source: Any) -> str | None:
    """The chip a source reads, as far as it says: the wired one by its kind, the clip-on
    in its status, the simulator in its truth."""
    status = getattr(source, "sensor_status", None)
    if status:
        return status.get("chip")
    simulation = getattr(source, "simulation", None)
    if simulation is not None:
        return simulation.truth.meta.get("chip")
    kind = getattr(source, "kind", None)
    return kind if kind not in ("i2c", "wireless", "recording") else None


def check(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """Hold a calibration file to a fresh standing: 0 if it still fits this sensor, 1 if not."""
    import numpy as np

    from pi_service.errors import HeelRaiseError
    from pi_service.samples import SampleBlock

    from . import standing
    from .file import load_calibration

    calibration = load_calibration(args.check)
    finder = standing.StillFinder()
    say("Stand still on both feet, weight even, for two seconds.")
    still, chip = None, None
    for block, name in _blocks(args, say):
        still = finder.feed(SampleBlock(block.t, calibration.correct_accel(block.accel_g),
                                        block.gyro_dps))
        if still is not None:
            chip = name()
            break
    if still is None:
        raise HeelRaiseError(f"{args.file or 'calibrate'}: no still standing found to check "
                             f"{args.check} against")
    base = np.asarray(calibration.baseline_g)
    fresh = still.accel_g
    cos = float(base @ fresh / (np.linalg.norm(base) * np.linalg.norm(fresh)))
    turned = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
    size, was = float(np.linalg.norm(fresh)), float(np.linalg.norm(base))
    faults = []
    if turned > CHECK_DEG:
        faults.append(f"the sensor sits {turned:.1f} deg differently than when it was "
                      "calibrated (clipped on anew, or moved)")
    if abs(size - was) > CHECK_G:
        faults.append(f"standing still it reads {size:.3f} g where the calibration read "
                      f"{was:.3f} g (another sensor, or its range changed)")
    for finding in standing.check(still, chip, corrected=calibration.accel_offset_g is not None):
        say(f"warning: {finding.message}")
    if faults:
        for fault in faults:
            say(f"{args.check} does not fit: {fault}")
        say(f"calibrate again: heelraise calibrate --out {args.check}")
        return 1
    say(f"{args.check} fits: standing {turned:.1f} deg from its calibrated level, "
        f"{size:.3f} g (calibrated {was:.3f} g)")
    return 0
