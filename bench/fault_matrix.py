"""The fault matrix: sets completed, stored, lost and duplicated under each fault.

Everything is the real thing: Debian's Mosquitto on the shipped config (its
persistence, autosave, limits, logins and ACL; tests/shipped.py), ``heelraise run``
and ``heelraise log`` as their own processes, killed with real signals, the service
on the Pi's ``confirm = "log"``. The sensor fault runs the service in-process on
the register-level fake MPU-6050 (tests/fake_i2c.py) playing a simulated session.

A set is *completed* once the service has committed it to its outbox: every set id
seen in the outbox (read after each kill) or in the log. *Stored* is a distinct
set id in the log; *lost* = completed - stored after the last drain; *duplicated*
counts a set (session, index) stored under more than one id, or an id twice.

    .venv/bin/python bench/fault_matrix.py [--kills 50] [--only NAME]

Prints the table for bench/RESULTS.md; exits 1 if any set is lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import shipped  # noqa: E402
from fake_i2c import FakeBus, FakeClock, FakeMPU6050  # noqa: E402

from pi_service.samples import SampleBlock  # noqa: E402
from pi_service.sources.recording import write_recording  # noqa: E402

DEVICE = "bench"
USERS = (DEVICE, "heelraise-log")
ENV = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "OPENBLAS_NUM_THREADS": "1",
       "PYTHONPATH": str(ROOT)}


class Rig:
    """One broker, one service config and outbox, one log database, in ``work``."""

    def __init__(self, broker: shipped.ShippedBroker, work: Path) -> None:
        self.broker, self.work = broker, work
        work.mkdir(parents=True, exist_ok=True)
        self.db = work / "log.sqlite3"
        self.outbox = work / "outbox.sqlite3"
        self.completed: set[str] = set()
        secret = work / "device.password"
        secret.write_text(broker.passwords[DEVICE] + "\n")
        log_secret = work / "log.password"
        log_secret.write_text(broker.passwords["heelraise-log"] + "\n")
        self.log_secret = log_secret
        self.config = work / "heelraise.toml"
        self.config.write_text(
            f'device = "{DEVICE}"\nstate_dir = "{work}"\n[broker]\nhost = "127.0.0.1"\n'
            f'port = {broker.port}\nusername = "{DEVICE}"\npassword_file = "{secret}"\n'
            'start_local = "never"\nconfirm = "log"\n')
        self.still = work / "still.csv"
        t = np.arange(0, 2, 0.01)
        write_recording(self.still, SampleBlock(t, np.tile([0.0, 0.0, 1.0], (len(t), 1))))
        self.service: subprocess.Popen | None = None
        self.log: subprocess.Popen | None = None

    # -- processes ---------------------------------------------------------------------
    def start_service(self, seed: int, speed: float) -> None:
        self.service = subprocess.Popen(
            [sys.executable, "-m", "pi_service.cli", "run", "--config", str(self.config),
             "--quiet", "--source", "simulator", "--seed", str(seed), "--speed", str(speed)],
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_service(self, signum: int = signal.SIGTERM) -> None:
        if self.service is not None:
            self.service.send_signal(signum)
            self.service.wait(timeout=60)
            self.service = None
        self.snapshot()

    def resend(self) -> None:
        """A short run of the service that makes no set: it sends what is unconfirmed."""
        subprocess.run([sys.executable, "-m", "pi_service.cli", "run", "--config",
                        str(self.config), "--quiet", "--recording", str(self.still)],
                       env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120, check=True)
        self.snapshot()

    def start_log(self) -> None:
        self.log = subprocess.Popen(
            [sys.executable, "-m", "pi_service.cli", "log", "--db", str(self.db),
             "--host", "127.0.0.1", "--port", str(self.broker.port), "--username",
             "heelraise-log", "--password-file", str(self.log_secret), "--no-discovery"],
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.work)
        time.sleep(1.0)

    def stop_log(self, signum: int = signal.SIGTERM) -> None:
        if self.log is not None:
            self.log.send_signal(signum)
            self.log.wait(timeout=60)
            self.log = None

    def kill_broker(self, down_s: float = 1.0) -> None:
        self.broker.broker.kill()
        time.sleep(down_s)
        self.broker.broker.start()

    # -- counting ----------------------------------------------------------------------
    def snapshot(self) -> None:
        """Every set id in the outbox now is a completed set (read with the service dead)."""
        if self.outbox.exists():
            with sqlite3.connect(self.outbox) as db:
                for (payload,) in db.execute("SELECT payload FROM outbox"):
                    self.completed.add(json.loads(payload)["id"])

    def committed(self) -> int:
        """How many sets and holds the service ever committed (the outbox's own counter)."""
        with sqlite3.connect(self.outbox) as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return 0 if row is None else row[0]

    def stored(self) -> list[tuple[str, str, int | str]]:
        """(id, session, index) of every stored set and hold, simulated or not."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT id, session, set_index FROM sets UNION ALL "
                              "SELECT id, session, time FROM holds").fetchall()

    def drain(self, timeout_s: float = 60) -> None:
        """Log up, service resends, until the outbox is empty (or time is up)."""
        if self.log is None:
            self.start_log()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.resend()
            time.sleep(1.0)
            with sqlite3.connect(self.outbox) as db:
                if not db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]:
                    break
        self.stop_log()

    def integrity(self) -> str:
        results = []
        for path in (self.outbox, self.db):
            if path.exists():
                with sqlite3.connect(path) as db:
                    results.append(db.execute("PRAGMA integrity_check").fetchone()[0])
        return "/".join(results)

    def result(self, name: str, notes: str = "") -> dict:
        rows = self.stored()
        ids = {r[0] for r in rows}
        self.completed |= ids
        keys = [(r[1], r[2]) for r in rows]
        duplicated = (len(rows) - len(ids)) + (len(keys) - len(set(keys)))
        committed = self.committed()
        if committed != len(self.completed):   # an id committed that no snapshot saw
            notes += f" (outbox committed {committed}, ids seen {len(self.completed)})"
        return {"fault": name, "completed": max(committed, len(self.completed)),
                "stored": len(ids), "lost": max(committed, len(self.completed)) - len(
                    self.completed & ids), "duplicated": duplicated, "notes": notes.strip()}

    def close(self) -> None:
        for proc in (self.service, self.log):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


# -- the faults -------------------------------------------------------------------------

def broker_killed(rig: Rig, log_online: bool, rng: random.Random, sessions: int = 3) -> dict:
    rig.start_log()
    if not log_online:
        rig.stop_log()          # the broker keeps its session; the log is away
    kills = 0
    for seed in range(11, 11 + sessions):
        rig.start_service(seed=seed, speed=25)
        for _ in range(2):
            time.sleep(rng.uniform(2, 5))
            rig.kill_broker(down_s=rng.uniform(0.2, 2))
            kills += 1
        rig.service.wait(timeout=300)
        rig.service = None
        rig.snapshot()
        if not log_online:
            rig.kill_broker()   # and once more right after the last sets: unsaved
            kills += 1
    rig.drain()
    return rig.result(f"broker `kill -9` x{kills}, log {'online' if log_online else 'offline'}",
                      f"{sessions} sessions")


def service_killed(rig: Rig, kills: int, rng: random.Random) -> dict:
    rig.start_log()
    for i in range(kills):
        rig.start_service(seed=100 + i, speed=200)
        time.sleep(rng.uniform(0.3, 4.0))
        rig.stop_service(signal.SIGKILL)
    rig.drain()
    return rig.result(f"service SIGKILLed at random points x{kills}",
                      "each run a new session (seed), killed 0.3-4 s in")


def log_down_and_back(rig: Rig, rng: random.Random, sessions: int = 3) -> dict:
    rig.start_log()
    for seed in range(21, 21 + sessions):
        rig.start_service(seed=seed, speed=25)
        for signum in (signal.SIGKILL, signal.SIGTERM):
            time.sleep(rng.uniform(2, 4))
            rig.stop_log(signum)
            time.sleep(rng.uniform(1, 3))
            rig.start_log()
        rig.service.wait(timeout=300)
        rig.service = None
        rig.snapshot()
    rig.drain()
    return rig.result(f"log down and back x{2 * sessions} (SIGKILL, SIGTERM)",
                      f"{sessions} sessions")


def power_loss(rig: Rig, rng: random.Random, times: int = 5) -> dict:
    checks = []
    for i in range(times):
        rig.start_log()
        rig.start_service(seed=31 + i, speed=100)
        time.sleep(rng.uniform(1.5, 5))
        for proc in (rig.service, rig.log):          # everything at once, mid-write
            proc.kill()
        rig.broker.broker.kill()
        for proc in (rig.service, rig.log):
            proc.wait()
        rig.service = rig.log = None
        checks.append(rig.integrity())
        rig.snapshot()
        rig.broker.broker.start()
    rig.drain()
    checks.append(rig.integrity())
    bad = [c for c in checks if c != "ok/ok"]
    return rig.result(f"power loss x{times} (broker, service, log SIGKILLed together)",
                      f"integrity_check {'ok' if not bad else bad} on outbox and log, "
                      f"{len(checks)} times")


def sensor_unplugged(rig: Rig) -> dict:
    """In-process: fake MPU-6050 playing a simulated session, unplugged mid-set, back."""
    from pi_service.config import ServiceConfig
    from pi_service.feedback import FeedbackConfig, open_feedback
    from pi_service.publish import Publisher
    from pi_service.service import Service
    from pi_service.sources.i2c import I2CSource
    from pi_service.sources.simulator import simulate
    from pi_service.stages import load_stage

    sim = simulate(2, 41, 100.0)
    t0 = 1000.0

    def motion(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = np.clip(t - t0, sim.block.t[0], sim.block.t[-1])
        accel = np.column_stack([np.interp(rel, sim.block.t, sim.block.accel_g[:, k])
                                 for k in range(3)])
        return accel, np.zeros((len(t), 3))

    clock = FakeClock(t0)
    bus = FakeBus(clock)
    bus.attach(0x68, FakeMPU6050(motion))
    end = t0 + float(sim.block.t[-1])
    plan = [(t0 + float(s.start_s) + 8.0, "unplug") for s in sim.truth.sets[:2]]
    plan = sorted(plan + [(at + 6.0, "replug") for at, _ in plan])

    def sleep(dt_s: float) -> None:
        clock.advance(dt_s)
        while plan and clock() >= plan[0][0]:
            getattr(bus, plan.pop(0)[1])(0x68)
        if clock() >= end:
            service.stopping = True

    rig.start_log()
    stage = load_stage(2)
    source = I2CSource(bus, chip="mpu6050", clock=clock, sleep=sleep)
    feedback = open_feedback(FeedbackConfig.from_dict({"enabled": False}, "bench"), stage)
    with Publisher(DEVICE, "127.0.0.1", rig.broker.port, rig.outbox, username=DEVICE,
                   password=rig.broker.passwords[DEVICE], confirm="log",
                   source=source.kind) as publisher:
        deadline = time.monotonic() + 10
        while not publisher.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        service = Service(ServiceConfig(device=DEVICE), stage, feedback, publisher, None,
                          source.kind)
        service.run(source)
        publisher.wait_confirmed(30)
    source.close()
    rig.snapshot()
    rig.drain()
    return rig.result("sensor unplugged and back x2, mid-set (fake MPU-6050)",
                      f"the session has {len(sim.truth.sets)} sets; an unplug mid-set "
                      "splits or closes it")


def run(name: str, fault: Callable[[Rig], dict], scratch: Path) -> dict:
    with shipped.shipped_broker(USERS) as broker:
        rig = Rig(broker, scratch / name)
        try:
            started = time.monotonic()
            row = fault(rig)
            row["seconds"] = round(time.monotonic() - started)
            return row
        finally:
            rig.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="service kills (default 50)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--only", help="run one fault (its key below)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    faults = {
        "broker-online": lambda rig: broker_killed(rig, True, rng),
        "broker-offline": lambda rig: broker_killed(rig, False, rng),
        "service-killed": lambda rig: service_killed(rig, args.kills, rng),
        "log-down": lambda rig: log_down_and_back(rig, rng),
        "power-loss": lambda rig: power_loss(rig, rng),
        "sensor": sensor_unplugged,
    }
    chosen = {args.only: faults[args.only]} if args.only else faults
    rows = []
    with tempfile.TemporaryDirectory(prefix="heelraise-faults-") as scratch:
        for name, fault in chosen.items():
            rows.append(run(name, fault, Path(scratch)))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| fault | completed | stored | lost | duplicated | s | notes |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['fault']} | {r['completed']} | {r['stored']} | {r['lost']} | "
              f"{r['duplicated']} | {r['seconds']} | {r['notes']} |")
    return 1 if any(r["lost"] or r["duplicated"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
