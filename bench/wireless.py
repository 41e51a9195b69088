"""The wireless clip-on: frame size and airtime, board-to-rep latency, loss across an
outage, battery life. The firmware runs under MicroPython (its WebAssembly port) with
the fake board of tests/micropython/board, against a real Mosquitto on loopback.

    .venv/bin/python bench/wireless.py [--latency-s 70] [--outage-s 10]

Airtime and battery life are computed from what the firmware really sends (bytes and
writes counted at its socket) with the radio and current assumptions printed beside
them; latency and loss are measured with the board in real time (its clock follows
the host's), the Pi side being WirelessSource and the live pipeline.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from clip_rig import DEVICE, Recorder, run_clip  # noqa: E402
from fake_i2c import quantise  # noqa: E402
from mpy_harness import missing  # noqa: E402

from pi_service.broker import LocalBroker  # noqa: E402
from pi_service.pipeline import Pipeline, Rep  # noqa: E402
from pi_service.samples import SampleBlock  # noqa: E402
from pi_service.sources.simulator import simulate  # noqa: E402
from pi_service.sources.wireless.frame import HEADER_BYTES, unpack_header  # noqa: E402
from pi_service.sources.wireless.source import WirelessSource  # noqa: E402
from pi_service.stages import load_stage  # noqa: E402

RATE_HZ = 100.0

# 802.11n 2.4 GHz, one spatial stream (the Pico W's CYW43439), per data frame: HT-mixed
# preamble, QoS MAC header + CCMP + FCS + LLC/SNAP, IPv4 + TCP with timestamps; then
# SIFS and a legacy ACK at 24 Mbit/s; DIFS and a mean backoff (7.5 slots of 9 us) before.
PREAMBLE_US, MAC_BYTES, IP_TCP_BYTES = 36.0, 54, 52
ACK_US, SIFS_US, DIFS_US, BACKOFF_US = 28.0, 16.0, 34.0, 67.5
SEGMENTS_PER_FRAME = 2      # umqtt writes header and payload apart; Nagle may send two
PI_ACK_EVERY = 2            # the Pi's TCP acknowledges every second segment
# Currents (assumed, at the battery): a Pico W associated to Wi-Fi in power-save, kept
# awake by 5 packets a second, running the MicroPython loop; extra while transmitting;
# the IMUs' datasheet figures for accel + gyro at 100 Hz.
BOARD_MA, TX_EXTRA_MA = 45.0, 200.0
IMU_MA = {"MPU-6050": 3.9, "LSM6DSOX": 0.55}
CELLS_MAH, USABLE = (500, 1000), 0.8


def session():
    """One stage-2 set (15 raises): the sensor's rows, replayed at 100 Hz, and the row
    where each true rep ends."""
    sim = simulate(2, 7, gyro=True, n_sets=1, walking=False)
    rows = np.hstack([sim.block.accel_g, sim.block.gyro_dps])
    ends = np.searchsorted(sim.block.t, [r.end_s for r in sim.truth.reps])
    return rows, ends


def movement(seconds: float) -> np.ndarray:
    return session()[0][: int(seconds * RATE_HZ)]


def airtime(report: dict, frames: int) -> dict:
    seconds = report["seconds"]
    frame_bytes = report["bytes_sent"] / max(frames, 1)
    segments_s = frames / seconds * SEGMENTS_PER_FRAME
    out = {"frames_per_s": frames / seconds, "mqtt_bytes_per_s": report["bytes_sent"] / seconds,
           "mqtt_bytes_per_frame": frame_bytes}
    for name, mbps in (("MCS7 72.2 Mbit/s", 72.2), ("MCS0 6.5 Mbit/s", 6.5)):
        per_seg = (report["bytes_sent"] / seconds / segments_s + IP_TCP_BYTES + MAC_BYTES)
        tx_us = DIFS_US + BACKOFF_US + PREAMBLE_US + 8 * per_seg / mbps + SIFS_US + ACK_US
        ack_us = DIFS_US + BACKOFF_US + PREAMBLE_US + 8 * (IP_TCP_BYTES + MAC_BYTES) / mbps \
            + SIFS_US + ACK_US
        tx_s = segments_s * tx_us * 1e-6
        rx_s = segments_s / PI_ACK_EVERY * ack_us * 1e-6
        out[name] = {"tx_duty": tx_s, "channel_duty": tx_s + rx_s}
    return out


def battery(tx_duty: float) -> list[tuple[str, float, float]]:
    rows = []
    for chip, imu_ma in IMU_MA.items():
        mean_ma = BOARD_MA + TX_EXTRA_MA * tx_duty + imu_ma
        rows.append((chip, mean_ma, *[USABLE * c / mean_ma for c in CELLS_MAH]))
    return rows


def first_row(frames: list[bytes], rows: np.ndarray) -> int:
    """Which motion row the board's sample 0 was (the FIFO starts a sample or two in)."""
    head = np.frombuffer(frames[0], "<i2", count=6, offset=HEADER_BYTES)
    for r in range(10):
        want = [quantise(v, 8192) for v in rows[r, :3].astype("<f4")]
        if list(head[:3]) == want:
            return r - unpack_header(frames[0])[3]
    raise AssertionError("the first frame matches none of the first motion rows")


def latency(broker: LocalBroker, seconds: float) -> dict:
    rows, ends = session()
    rows = rows[: int(seconds * RATE_HZ)]
    ends = ends[ends < len(rows) - 300]   # reps that can come out before the stream ends
    reps: list[tuple[float, float]] = []   # (host epoch when the rep came out, rep end_s)
    rec = Recorder(broker)
    with WirelessSource(DEVICE, broker.host, broker.port, poll_s=0.02) as source:
        pipeline = Pipeline(load_stage(2))

        def consume() -> None:
            for block in source:
                if len(block):
                    for event in pipeline.feed(block):
                        if isinstance(event, Rep):
                            reps.append((time.time(), event.end_s))

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        report = run_clip(broker, motion=rows, realtime=True,
                          events=[[len(rows) / RATE_HZ + 1, "stop"]], timeout_s=seconds + 60)
        time.sleep(1.0)
        source.close()
        reader.join(5)
    rec.settle()
    frames = rec.frames()
    rec.close()
    epoch_ns, virtual_us = report["epoch_at"]
    offset = first_row(frames, rows)

    def felt(row: int) -> float:   # host epoch when the board's IMU felt motion row ``row``
        return epoch_ns / 1e9 + report["motion_t0_s"] + row / RATE_HZ - virtual_us / 1e6

    # The pipeline alone on the same samples, fed one at a time with no transport: when
    # (in sample time) each Rep comes out, relative to the true end of the rep.
    core_reps = []
    live = Pipeline(load_stage(2))
    stream = SampleBlock(np.arange(len(rows)) / RATE_HZ, rows[:, :3], rows[:, 3:])
    for one in stream.split(1):
        core_reps += [(float(one.t[-1]), e.end_s) for e in live.feed(one) if isinstance(e, Rep)]
    # each true rep's end, to the first Rep event whose end is within 1.5 s of it
    lat, core = [], []
    for row in ends:
        t_true = (row - offset) / RATE_HZ
        out = [o for o, end in reps if abs(end - t_true) < 1.5]
        alone = [o for o, end in core_reps if abs(end - row / RATE_HZ) < 1.5]
        if out and alone:
            lat.append(out[0] - felt(int(row)))
            core.append(alone[0] - row / RATE_HZ)
    return {"reps": len(reps), "true_reps": len(ends), "latency_s": np.array(lat),
            "core_s": np.array(core), "report": report, "frames": len(frames)}


def outage(outage_s: float, ring_s: float) -> dict:
    with LocalBroker() as broker:
        rec = Recorder(broker)
        rec.client.reconnect_delay_set(1, 1)
        rows = movement(outage_s + 20)

        def cut() -> None:
            while not rec.frames():
                time.sleep(0.05)
            time.sleep(5)
            broker.stop()
            time.sleep(outage_s)
            broker.start()

        threading.Thread(target=cut, daemon=True).start()
        report = run_clip(broker, motion=rows, realtime=True, settings={"RING_S": ring_s},
                          events=[[outage_s + 20, "stop"]], timeout_s=outage_s + 80)
        rec.settle(1.0)
        heads = [unpack_header(p) for p in rec.frames()]
        rec.close()
    got = sum(h[5] for h in heads)
    end = heads[-1][3] + heads[-1][5]
    return {"made": report["samples_made"], "received": got, "span": end,
            "lost_in_span": end - got, "ring_dropped": heads[-1][6]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-s", type=float, default=135.0,
                        help="seconds of a stage-2 set streamed in real time")
    parser.add_argument("--outage-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    why = missing()
    if why:
        print(f"cannot run: {why}")
        return 1

    with LocalBroker() as broker:
        rec = Recorder(broker)
        report = run_clip(broker, motion=movement(60), events=[[60, "stop"]])
        rec.settle()
        frames = rec.frames()
        rec.close()
    sizes = sorted({len(f) for f in frames})
    air = airtime(report, len(frames))
    print("== frame size and airtime, 100 Hz, 0.2 s frames (60 s streamed) ==")
    print(f"frame payload {sizes} bytes; {air['frames_per_s']:.2f} frames/s; MQTT stream "
          f"{air['mqtt_bytes_per_s']:.0f} B/s ({air['mqtt_bytes_per_frame']:.0f} B per frame"
          f" with status and pings)")
    for rate in ("MCS7 72.2 Mbit/s", "MCS0 6.5 Mbit/s"):
        a = air[rate]
        print(f"airtime at {rate}: transmitting {a['tx_duty']:.3%} of the time, channel busy "
              f"{a['channel_duty']:.3%} (with the Pi's TCP ACKs)")

    print("\n== battery life (estimate: the assumptions are in bench/wireless.py) ==")
    tx = air["MCS0 6.5 Mbit/s"]["tx_duty"]
    print(f"board {BOARD_MA} mA associated + {TX_EXTRA_MA} mA extra while transmitting "
          f"({tx:.3%} at MCS0, the worse case) + IMU; {USABLE:.0%} of the cell usable")
    for chip, mean_ma, *hours in battery(tx):
        cells = ", ".join(f"{c} mAh: {h:.1f} h" for c, h in zip(CELLS_MAH, hours, strict=True))
        print(f"  {chip:9} {mean_ma:5.1f} mA mean -> {cells}")

    print(f"\n== latency: sample on the board -> its rep on the Pi ({args.latency_s:g} s, "
          "real time) ==")
    with LocalBroker() as broker:
        lat = latency(broker, args.latency_s)
    s = lat["latency_s"]
    if len(s):
        core, added = lat["core_s"], s - lat["core_s"]
        print(f"{len(s)} of {lat['true_reps']} reps matched ({lat['reps']} found); from the "
              "rep's true end being felt by the IMU to the Pi's Rep event:")
        for name, x in (("end to end", s), ("the pipeline alone, same samples", core),
                        ("what the wireless path adds", added)):
            print(f"  {name:34} p50 {np.percentile(x, 50):+.3f} s, p95 "
                  f"{np.percentile(x, 95):+.3f} s, max {x.max():+.3f} s")
    else:
        print("no reps came out: latency not measured")

    print(f"\n== samples lost across a {args.outage_s:g} s broker outage (real Mosquitto "
          "stopped and started) ==")
    for ring_s in (30.0, 5.0):
        o = outage(args.outage_s, ring_s)
        print(f"ring {ring_s:g} s: {o['received']} of {o['span']} samples in the stream arrived,"
              f" {o['lost_in_span']} lost (board dropped {o['ring_dropped']} frames from its "
              f"full ring); board made {o['made']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
