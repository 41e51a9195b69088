"""The ``heelraise`` command: start, analyze, simulate, demo, run, sensors and the log's.

Each command imports what it needs when it runs, so ``heelraise --help`` and
the light commands stay quick on a Pi Zero. Every error a person can cause is
caught here and printed as one line; only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from .arguments import configure_run, number, seed, speed, whole
from .errors import HeelRaiseError


def _stage_arg(parser: argparse.ArgumentParser, default: int | None = 2) -> None:
    parser.add_argument("--stage", type=whole(1, 99), default=default, metavar="N",
                        help="rehab stage 1-4 the reps are judged against (default %(default)s)")
    parser.add_argument("--stages-file", metavar="TOML",
                        help="protocol data file (default: the packaged stages.toml)")


def _fmt(value: float | None, unit: str = "s", width: int = 5) -> str:
    """A figure, or a "?" where a gap hid it."""
    return f"{value:{width}.1f}{unit}" if value is not None else f"{'?':>{width}}{unit}"


def print_table(result: dict, out: TextIO | None = None) -> None:
    """The per-rep table a person reads: phase times, peak, verdict."""
    out = out if out is not None else sys.stdout
    reps = result["reps"]
    print(f"{'rep':>4} {'start':>8} {'up':>6} {'hold':>6} {'down':>6} {'peak':>6} "
          f"{'bottom':>7} {'height':>7}  verdict", file=out)
    for i, rep in enumerate(reps, 1):
        print(f"{i:>4} {_fmt(rep['start_s'], 's', 7)} {_fmt(rep['up_s'])} "
              f"{_fmt(rep['hold_s'])} {_fmt(rep['down_s'])} {rep['peak_deg']:>5.1f}° "
              f"{_fmt(rep['bottom_deg'], '°', 6)} {rep.get('height_cm', 0.0):>5.1f}cm  "
              f"{rep['verdict']}", file=out)
    for s, set_ in enumerate(result["sets"], 1):
        holds = f", {set_['holds']} hold(s)" if set_.get("holds") else ""
        print(f"set {s}: {set_['reps']} reps{holds}, "
              f"{set_['start_s']:.1f}-{set_['end_s']:.1f} s", file=out)
    for hold in result["holds"]:
        if hold["hold_s"] is None:
            print(f"hold: at {hold['start_s']:.1f} s, cut short by a gap (length unknown)",
                  file=out)
        else:
            print(f"hold: {hold['hold_s']:.1f} s at {hold['start_s']:.1f} s "
                  f"({hold.get('verdict', 'ok').replace('_', ' ')})", file=out)
    if result["partials"]:
        print(f"partial raises (not counted): {len(result['partials'])}", file=out)
    for gap in result.get("gaps", []):
        after = "; the analysis started afresh after it" if gap["restarted"] else ""
        print(f"gap: no samples from {gap['start_s']:.2f} to {gap['end_s']:.2f} s{after}",
              file=out)
    for warning in result.get("warnings", []):
        print(f"warning: {warning['message']}", file=out)
    if not reps and not result["holds"]:
        print("no reps found", file=out)


def cmd_analyze(args: argparse.Namespace) -> int:
    from .pipeline import SampleError, analyze
    from .sources.recording import iter_recording
    from .stages import load_stage

    stage = load_stage(args.stage, args.stages_file)
    calibration = None
    if args.calibration:
        from calibration.file import load_calibration

        calibration = load_calibration(args.calibration)
    try:
        result = analyze(iter_recording(args.file), stage, calibration,
                         hold_stage=load_stage(1, args.stages_file)).to_json()
    except SampleError as exc:
        raise HeelRaiseError(f"{args.file}: {exc}") from None
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    else:
        print_table(result)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from calibration.command import run

    return run(args, say=lambda line: print(line, flush=True))


def cmd_simulate(args: argparse.Namespace) -> int:
    from .sources.simulator import simulate, write_simulation

    if args.heel_rise_test:
        return _simulate_heel_rise_test(args)
    sim = simulate(args.stage, args.seed, rate_hz=args.rate, chip=args.chip, mount=args.mount,
                   walking=args.walking, heel_drop=args.heel_drop, gyro=args.gyro)
    write_simulation(args.out, sim)
    truth = sim.truth.to_json()
    print(f"wrote {args.out}: {len(sim.block)} samples, {len(truth['reps'])} reps, "
          f"{len(truth['holds'])} holds, {len(truth['sets'])} sets")
    return 0


def _simulate_heel_rise_test(args: argparse.Namespace) -> int:
    """One leg's simulated heel-rise test (warm-up, then as many raises as possible) and
    its answer key, for ``heelraise heel-rise-test --recording``."""
    from .sources.heelrise_sim import simulate_test
    from .sources.recording import write_recording
    from .sources.simulator import truth_path

    sim = simulate_test(args.seed, mount=args.mount, incline_deg=args.incline, stop=args.stop,
                        chip=args.chip, gyro=args.gyro, rate_hz=args.rate)
    write_recording(args.out, sim.block)
    truth = sim.truth.to_json()
    truth_path(args.out).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(sim.block)} samples, a heel-rise test of "
          f"{truth['valid_reps']} valid raises (stopped on {truth['stop_reason']}), "
          f"truth in {truth_path(args.out)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .console import LiveConsole
    from .pipeline import Pipeline
    from .sources.simulator import SimulatedSource
    from .stages import load_stage

    stage = load_stage(args.stage, args.stages_file)
    pipeline = Pipeline(stage, hold_stage=load_stage(1, args.stages_file))
    console = LiveConsole(stage)
    print(f"Simulated stage {stage.number} ({stage.name}) session at {args.speed:g}x speed; "
          "Ctrl-C to stop.", flush=True)
    with SimulatedSource(stage.number, args.seed, speed=args.speed) as source:
        try:
            for block in source:
                for event in pipeline.feed(block):
                    console.on_event(event)
        except KeyboardInterrupt:
            pass
    for event in pipeline.finish():
        console.on_event(event)
    console.summary()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .service import run_service

    return run_service(args)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from .log.web import main as dashboard_main

    return dashboard_main(args.extra)


def cmd_sensors(args: argparse.Namespace) -> int:
    from .sources.i2c import sensors_main

    return sensors_main(args.bus)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heelraise", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="find reps, phases, holds and sets in a recording")
    p.add_argument("file", help="recording CSV (t,ax,ay,az[,gx,gy,gz]), may be .csv.gz")
    _stage_arg(p)
    p.add_argument("--calibration", metavar="FILE", help="calibration file for this sensor")
    p.add_argument("--json", action="store_true", help="print the JSON of DESIGN.md")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("calibrate", help="calibrate a sensor and mounting: live, or "
                                          "from a recording; --check verifies a file")
    from calibration.command import configure as configure_calibrate

    configure_calibrate(p)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("simulate", help="write a simulated session and its ground truth")
    p.add_argument("--stage", type=whole(1, 99), default=2, metavar="N")
    p.add_argument("--out", required=True, metavar="FILE", help="CSV (or .csv.gz) to write")
    p.add_argument("--seed", type=seed, default=1)
    p.add_argument("--rate", type=number(1, 2000), default=100.0, metavar="HZ")
    p.add_argument("--chip", choices=("mpu6050", "lsm6dsox"), default="mpu6050")
    p.add_argument("--mount", choices=("laces", "heel"), default="laces")
    p.add_argument("--walking", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--heel-drop", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--gyro", action="store_true", help="include gyro columns")
    p.add_argument("--heel-rise-test", action="store_true",
                   help="one leg's heel-rise endurance test instead of a training session")
    p.add_argument("--incline", type=number(0, 20), default=0.0, metavar="DEG",
                   help="with --heel-rise-test: the board under the forefoot")
    p.add_argument("--stop", choices=("height", "pace", "stopped"),
                   help="with --heel-rise-test: how the test ends (default: from the seed)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="play a simulated session live in the terminal")
    _stage_arg(p)
    p.add_argument("--speed", type=speed, default=1.0, help="play faster (e.g. 10)")
    p.add_argument("--seed", type=seed, default=1)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("start", help="the whole product: broker, coach, log and dashboard, "
                                      "until Ctrl-C")
    from . import product

    product.configure_start(p)
    p.set_defaults(func=product.run_start)

    p = sub.add_parser("run", help="the service: sensor -> reps -> LED and MQTT")
    configure_run(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dashboard", add_help=False,
                       help="serve the web dashboard and its pain/stiffness entry")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("heel-rise-test", help="the clinical heel-rise test, guided (or a "
                                               "recorded one with --recording)")
    from .heelrise import command as heel_rise_test

    heel_rise_test.configure(p)
    p.set_defaults(func=heel_rise_test.run)

    p = sub.add_parser("sensors", help="scan the I2C bus for a supported IMU")
    p.add_argument("--bus", type=whole(0, 255), default=1, help="I2C bus number (default 1)")
    p.set_defaults(func=cmd_sensors)

    from .log import commands as log_commands

    for name, help_text in (("log", "store every set published over MQTT"),
                            ("progress", "where the rehab stands, and what to do next"),
                            ("pain", "record pain during exercise (0-10)"),
                            ("stiffness", "record next-morning stiffness (0-10)"),
                            ("activity", "record the day's walking and standing (0-10)"),
                            ("strike", "strike a set logged by mistake from the history"),
                            ("export", "export the training log as CSV or JSON")):
        p = sub.add_parser(name, help=help_text)
        getattr(log_commands, f"configure_{name}")(p)
        p.set_defaults(func=getattr(log_commands, f"run_{name}"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # `heelraise dashboard ...` hands its options to the dashboard server's own parser
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "dashboard":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except HeelRaiseError as exc:
        print(f"heelraise: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

