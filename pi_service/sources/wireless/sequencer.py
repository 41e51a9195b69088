"""Frames from the broker, in any order and any state, into one clean sample stream.

Pure: bytes and arrival times in, sample blocks out, no I/O and no clock, so it is
tested (and fuzzed) directly. What can happen to QoS 0 frames, and what it does:

- lost (a sequence number never comes): frames after it wait ``reorder_s`` for it,
  then go on; the hole is a reported :class:`Gap`, never an invented sample;
- duplicated or late (already passed): dropped and counted, never a double sample;
- reordered within ``reorder_s``: put back in order;
- a board reboot (a new boot id): a new clock epoch, placed after the old one by
  the arrival times, so time never runs backwards; frames of a finished epoch that
  turn up later are dropped;
- malformed (not a version-1 frame): rejected, counted by reason, logged.

Sample times are the sensor's own (``index * period`` of the frame) plus an offset
per epoch; a :class:`~pi_service.sources.wireless.clock.ClockMap` per epoch maps them
to the Pi's monotonic clock for wall-clock stamps.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ...samples import SampleBlock
from .clock import ClockMap
from .frame import FLAG_GYRO, FLAG_RESTART, HEADER_BYTES, FrameError, unpack_header

log = logging.getLogger(__name__)

MAX_HELD = 256          # frames held waiting for a missing one, at most
MAX_EPOCHS = 8          # epochs remembered for mapping times and refusing stale frames
LOG_FIRST = 5           # malformed frames logged per reason before only every 100th


@dataclass(frozen=True)
class Gap:
    """Samples the Pi never got: between two sample times, how many, and why."""

    after_s: float      # the last sample before the gap (sensor clock of the stream)
    before_s: float     # the first sample after it
    samples: int        # how many sample periods are missing (estimated across a reboot)
    reason: str         # "frames lost", "board buffer full", "sensor restart", "reboot"


@dataclass
class _Frame:
    flags: int
    seq: int
    index: int
    period_ns: int
    n: int
    ring_dropped: int
    accel_scale: float
    gyro_scale: float
    payload: bytes
    arrival_s: float


@dataclass
class _Epoch:
    boot_id: int
    anchor_index: int           # t(i) = anchor_t + (i - anchor_index) * period_s
    anchor_t: float
    period_ns: int
    next_seq: int
    next_index: int
    ring_dropped: int
    clock: ClockMap
    last_t: float | None = None
    last_arrival: float = 0.0
    held: dict[int, _Frame] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)   # numbers given up as lost (bounded)

    first_t: float = 0.0     # the epoch's first sample time

    def t(self, index: int) -> float:
        return self.anchor_t + (index - self.anchor_index) * self.period_ns * 1e-9


class FrameSequencer:
    """Turns frame payloads into sample blocks on one increasing clock.

    Parameters
    ----------
    reorder_s : float
        How long frames after a missing one wait for it (Pi seconds).
    clock_window_s : float
        The clock map's window (see ClockMap).
    """

    def __init__(self, reorder_s: float = 0.3, clock_window_s: float = 5.0) -> None:
        self.reorder_s = reorder_s
        self.clock_window_s = clock_window_s
        self.stats: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.gaps: list[Gap] = []
        self._epochs: list[_Epoch] = []
        self._retired: set[int] = set()

    # -- in --------------------------------------------------------------------------

    def feed(self, payload: bytes, arrival_s: float) -> list[SampleBlock]:
        """One frame as it arrived; the blocks it completes, in order."""
        try:
            flags, boot, seq, index, period_ns, n, dropped, sa, sg = unpack_header(payload)
        except FrameError as exc:
            self._reject(exc.reason, str(exc))
            return []
        frame = _Frame(flags, seq, index, period_ns, n, dropped, sa, sg, bytes(payload),
                       arrival_s)
        epoch = self._epoch_for(boot, frame)
        if epoch is None:
            return []
        if seq < epoch.next_seq or seq in epoch.held:
            # a number given up as lost that turns up after all: too late to splice in
            self.stats["late" if seq in epoch.skipped else "duplicate"] += 1
            return []
        epoch.held[seq] = frame
        return self._release(epoch, arrival_s)

    def poll(self, now_s: float) -> list[SampleBlock]:
        """Release frames that waited long enough for a missing one (call now and then)."""
        return self._release(self._epochs[-1], now_s) if self._epochs else []

    # -- out -------------------------------------------------------------------------

    @property
    def last_t(self) -> float | None:
        return self._epochs[-1].last_t if self._epochs else None

    def to_pi(self, t_s: float) -> float | None:
        """A stream time mapped to the Pi's monotonic clock (None before any frame)."""
        for epoch in reversed(self._epochs):
            if epoch.clock.ready and (epoch is self._epochs[0] or t_s >= epoch.first_t):
                return epoch.clock(t_s)
        return None

    # -- inside ----------------------------------------------------------------------

    def _reject(self, reason: str, detail: str) -> None:
        self.malformed[reason] += 1
        count = self.malformed[reason]
        if count <= LOG_FIRST or count % 100 == 0:
            log.warning("wireless frame rejected (%s, %d so far)", detail, count)

    def _epoch_for(self, boot: int, frame: _Frame) -> _Epoch | None:
        current = self._epochs[-1] if self._epochs else None
        if current is not None and current.boot_id == boot:
            return current
        if boot in self._retired:
            self.stats["stale"] += 1
            return None
        if current is None:
            anchor_t = frame.index * frame.period_ns * 1e-9
        else:
            self._flush(current)
            period_s = frame.period_ns * 1e-9
            prev_t = current.last_t if current.last_t is not None else current.anchor_t
            elapsed = frame.arrival_s - current.last_arrival - (frame.n - 1) * period_s
            anchor_t = prev_t + max(period_s, elapsed)
            missing = max(1, round((anchor_t - prev_t) / period_s) - 1)
            self._gap(prev_t, anchor_t, missing, "reboot")
            self._retired.add(current.boot_id)
            log.info("the clip-on rebooted (boot id %08x): a new clock epoch", boot)
        epoch = _Epoch(boot, frame.index, anchor_t, frame.period_ns, frame.seq, frame.index,
                       frame.ring_dropped, ClockMap(self.clock_window_s), first_t=anchor_t)
        self._epochs.append(epoch)
        del self._epochs[:-MAX_EPOCHS]
        return epoch

    def _flush(self, epoch: _Epoch) -> None:
        """An epoch is over: what it still holds is lost (its samples could not go after
        the next epoch's)."""
        if epoch.held:
            self.stats["frames_dropped_at_reboot"] += len(epoch.held)
            epoch.held.clear()

    def _release(self, epoch: _Epoch, now_s: float) -> list[SampleBlock]:
        out = []
        while epoch.held:
            frame = epoch.held.pop(epoch.next_seq, None)
            if frame is None:
                oldest = min(f.arrival_s for f in epoch.held.values())
                if now_s - oldest < self.reorder_s and len(epoch.held) < MAX_HELD:
                    break
                skip_to = min(epoch.held)
                self.stats["frames_lost"] += skip_to - epoch.next_seq
                if len(epoch.skipped) > 4096:
                    epoch.skipped.clear()
                epoch.skipped.update(range(epoch.next_seq, min(skip_to, epoch.next_seq + 256)))
                epoch.next_seq = skip_to
                continue
            epoch.next_seq = frame.seq + 1
            block = self._samples(epoch, frame)
            if block is not None:
                out.append(block)
        return out

    def _samples(self, epoch: _Epoch, frame: _Frame) -> SampleBlock | None:
        raw = np.frombuffer(frame.payload, dtype="<i2", count=6 * frame.n,
                            offset=HEADER_BYTES).reshape(frame.n, 6)
        skip = epoch.next_index - frame.index
        if skip > 0:   # overlaps what was already given: never a double sample
            self.stats["samples_overlapping"] += min(skip, frame.n)
            if skip >= frame.n:
                return None
            raw = raw[skip:]
        first = max(frame.index, epoch.next_index)
        if frame.period_ns != epoch.period_ns:   # the board found its IMU anew at another rate
            prev = epoch.last_t if epoch.last_t is not None else epoch.anchor_t
            epoch.anchor_t = prev + max(1, first - epoch.next_index + 1) * frame.period_ns * 1e-9
            epoch.anchor_index, epoch.period_ns = first, frame.period_ns
        t = epoch.t(first) + np.arange(len(raw)) * (frame.period_ns * 1e-9)
        if epoch.last_t is not None and first > epoch.next_index:
            dropped = (frame.ring_dropped - epoch.ring_dropped) % 65536
            reason = "sensor restart" if frame.flags & FLAG_RESTART and not dropped \
                else "board buffer full" if dropped else "frames lost"
            self._gap(epoch.last_t, float(t[0]), first - epoch.next_index, reason)
        epoch.ring_dropped = frame.ring_dropped
        epoch.next_index = first + len(raw)
        epoch.last_t = float(t[-1])
        epoch.last_arrival = frame.arrival_s
        epoch.clock.add(epoch.last_t, frame.arrival_s)
        self.stats["frames"] += 1
        self.stats["samples"] += len(raw)
        gyro = raw[:, 3:] * frame.gyro_scale if frame.flags & FLAG_GYRO else None
        return SampleBlock(t, raw[:, :3] * frame.accel_scale, gyro)

    def _gap(self, after_s: float, before_s: float, samples: int, reason: str) -> None:
        gap = Gap(after_s, before_s, samples, reason)
        self.gaps.append(gap)
        del self.gaps[:-1000]
        self.stats["gaps"] += 1
        log.warning("wireless gap of %d samples (%.2f s) after t=%.2f s: %s",
                    samples, before_s - after_s, after_s, reason)
