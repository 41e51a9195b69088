"""Footprint on a Pi: how fast ``heelraise --help`` answers and how much memory each part holds.

    .venv/bin/python bench/footprint.py [--runs 15] [--settle 20]

Targets (issue 10): ``heelraise --help`` under 0.2 s; the service (``heelraise run``) and
the log (``heelraise log``) each at most 80 MB resident. ``--help`` is timed as whole
processes (the median of ``--runs``); the service, the log and ``heelraise start`` (all
parts in one process) run against a private Mosquitto for ``--settle`` seconds of a
simulated session, then their resident set (VmRSS), its peak (VmHWM) and what of it is
shared library and file pages (RssFile) are read from /proc. What the service's imports
cost is measured in fresh interpreters, one module each. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pi_service.broker import LocalBroker

HEELRAISE = str(Path(sys.executable).with_name("heelraise"))
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "GPIOZERO_PIN_FACTORY": "mock"}
TARGET_HELP_S = 0.2
TARGET_MB = 80
IMPORTS = ("numpy", "scipy.signal", "imufusion", "paho.mqtt.client", "gpiozero",
           "pi_service.pipeline.live", "pi_service.service", "pi_service.log.subscriber")


def help_seconds(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([HEELRAISE, "--help"], env=ENV, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def memory_mb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssFile"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def import_mb(module: str) -> int:
    code = f"import resource, {module}; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         check=True).stdout
    return int(out) // 1024


def parts(settle_s: float) -> dict[str, dict[str, int]]:
    with LocalBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        common = ["--port", str(broker.port)]
        procs = {
            "service (`heelraise run`, simulator)": [
                HEELRAISE, "run", *common, "--speed", "5", "--quiet", "--device", "bench",
                "--state-dir", tmp],
            "log (`heelraise log`)": [HEELRAISE, "log", *common, "--db", f"{tmp}/log.sqlite3"],
            "everything (`heelraise start`)": [HEELRAISE, "start", "--speed", "5", "--http",
                                               "0"],
        }
        running = {name: subprocess.Popen(cmd, env={**ENV, "HOME": tmp}, cwd=tmp,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for name, cmd in procs.items()}
        time.sleep(settle_s)
        result = {name: memory_mb(proc.pid) for name, proc in running.items()}
        for proc in running.values():
            proc.terminate()
        for proc in running.values():
            proc.wait(timeout=30)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--settle", type=float, default=20.0)
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    seconds = help_seconds(args.runs)
    print("\n| what | figure | target | |\n|---|---|---|---|")
    print(f"| `heelraise --help` (median of {args.runs}) | {seconds:.3f} s | < "
          f"{TARGET_HELP_S} s | {'met' if seconds < TARGET_HELP_S else 'MISSED'} |")
    for name, mb in parts(args.settle).items():
        target = "-" if "start" in name else f"<= {TARGET_MB} MB"
        verdict = "" if "start" in name else ("met" if mb["VmRSS"] <= TARGET_MB else "MISSED")
        print(f"| {name}: resident (peak; of it files) | {mb['VmRSS']} MB ({mb['VmHWM']}; "
              f"{mb['RssFile']}) | {target} | {verdict} |")
    print("\n| import alone | peak resident |\n|---|---|")
    for module in IMPORTS:
        print(f"| `{module}` | {import_mb(module)} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
