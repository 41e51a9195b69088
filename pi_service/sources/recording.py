"""Recordings: sessions saved as CSV, read back as a sample stream.

A recording is how a session is kept, shared with a clinician, replayed into
the pipeline and turned into a test case, so a bad file must say exactly what
is wrong and where (``file:line: fault``), and reading one must never lose what
came before a bad line: the reader validates as it streams, yielding every good
block before it raises. Format (DESIGN.md): a header row with ``t,ax,ay,az``
and optionally ``gx,gy,gz`` in any order (other columns ignored), ``t`` in
seconds on the sensor clock, accelerations in g, angular rates in deg/s;
``.csv.gz`` is read and written compressed.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..samples import SampleBlock
from .base import paced

TIME = "t"
ACCEL = ("ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
UNIT_CHECK_ROWS = 100           # rows whose median |a| and time step are checked at once
UNIT_TAIL_ROWS = 50             # rows after a change of unit that must bear it out
MAX_STEP_S = 0.5                # a longer typical step: t is not in seconds
TIME_UNIT_JUMP = 100.0          # typical steps this many times longer: t changed its unit
GRAVITY_G = (0.4, 3.0)          # plausible median |a| in g, walking and offsets included
GRAVITY_MPS2 = (6.0, 14.0)      # the same in m/s²: a file written in the wrong unit


def _open(path: Path, mode: str) -> io.TextIOBase:
    # reading skips the byte-order mark a spreadsheet may put before the header
    encoding = "utf-8-sig" if mode == "r" else "utf-8"
    if path.name.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding=encoding, newline="")
    return open(path, mode, encoding=encoding, newline="")


class RecordingReader:
    """Streams a recording as sample blocks, checking every line as it reaches it.

    Opens the file at once (so a missing file fails at the call), reads lazily,
    and raises :class:`InputError` at the first bad line after yielding every
    block before it. A context manager with an idempotent ``close()``.
    """

    def __init__(self, path: str | Path, block_size: int = 4096) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.path = Path(path)
        self.block_size = block_size
        try:
            self._file = _open(self.path, "r")
        except OSError as exc:
            raise InputError(self.path, f"cannot read: {exc.strerror or exc}") from None
        self._closed = False
        self._blocks = self._read()

    def __iter__(self) -> Iterator[SampleBlock]:
        return self

    def __next__(self) -> SampleBlock:
        if self._closed:
            raise StopIteration
        block = next(self._blocks)
        if self._closed:    # closed by a signal handler while this block was read
            self.close()
        return block

    def close(self) -> None:
        self._closed = True
        try:
            self._blocks.close()
        except ValueError:  # "generator already executing": __next__ finishes the job
            return
        self._file.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, fault: str, line: int | None) -> InputError:
        return InputError(self.path, fault, line=line)

    def _columns(self, header: list[str]) -> tuple[list[str], list[int]]:
        """The columns we use and where they are in each row."""
        names = [h.strip().lower() for h in header]
        wanted = [TIME, *ACCEL]
        if any(g in names for g in GYRO):
            wanted += GYRO
        for name in wanted:
            if name not in names:
                extra = " (a gyro needs gx, gy and gz)" if name in GYRO else ""
                raise self._fail(f"missing column '{name}'{extra}; header is "
                                 f"'{','.join(header)}'", 1)
            if names.count(name) > 1:
                raise self._fail(f"column '{name}' appears twice", 1)
        return wanted, [names.index(name) for name in wanted]

    def _check_units(self, window: list[tuple[int, list[float]]], step_s: float | None,
                     min_tail: int) -> tuple[int, float | None, InputError | None]:
        """Check a window of rows for g and seconds.

        The first window decides the time step the rest is held to. A unit that
        changes mid-file (a logger switched to m/s², t to milliseconds) is refused
        at the line it changes, so the reps before it are kept, never turned silently
        into none. A change is only believed when at least ``min_tail`` rows follow it
        (a heel strike reads 9 g for a sample or two). Returns ``(good rows, time step,
        the fault at the first bad row)``.
        """
        lines = [line for line, _ in window]
        data = np.asarray([values for _, values in window])
        with np.errstate(invalid="ignore", over="ignore"):
            size = np.linalg.norm(data[:, 1:4], axis=1)
        size[~np.isfinite(size)] = np.nan
        if step_s is None:
            with np.errstate(invalid="ignore"):     # inf - inf: a bad t, left out below
                steps = np.diff(data[:, 0])
            steps = steps[np.isfinite(steps) & (steps > 0)]
            step = float(np.median(steps)) if len(steps) else None
            if step is not None and step > MAX_STEP_S:
                unit = "microseconds" if step > 1000 * MAX_STEP_S else "milliseconds"
                return 0, None, self._fail(f"t steps by {step:g} between samples: t looks "
                                           f"like it is in {unit}, expected seconds", lines[0])
            magnitude = float(np.nanmedian(size)) if np.isfinite(size).any() else 1.0
            if GRAVITY_MPS2[0] <= magnitude <= GRAVITY_MPS2[1]:
                return 0, None, self._fail(f"accelerations look like m/s² (|a| ≈ "
                                           f"{magnitude:.2f}), expected g", lines[0])
            if not GRAVITY_G[0] <= magnitude <= GRAVITY_G[1]:
                return 0, None, self._fail(
                    f"gravity magnitude implausible: median |a| ≈ {magnitude:.3g} g over the "
                    f"first {len(window)} samples, expected ≈ 1 g", lines[0])
            self._last_t = float(data[-1, 0])
            return len(window), step, None
        # later windows: where does a new unit take over, if it does? From the first row
        # after which most rows are in it (a heel strike may read 9 g for a sample)
        mps2 = (size >= GRAVITY_MPS2[0]) & (size <= GRAVITY_MPS2[1])
        with np.errstate(invalid="ignore"):
            slow = np.diff(data[:, 0], prepend=self._last_t) > TIME_UNIT_JUMP * step_s
        self._last_t = float(data[-1, 0])
        for flags, fault in ((mps2, "accelerations turn to m/s² here (|a| ≈ {:.2f}), expected "
                                    "g"),
                             (slow, "t turns to steps of {:g} here (it stepped by "
                                    f"{step_s:g} before): is it in milliseconds now?")):
            tail = np.arange(len(flags), 0, -1)
            share = np.cumsum(flags[::-1])[::-1] / tail
            switch = np.flatnonzero(flags & (share >= 0.8) & (tail >= min_tail))
            if len(switch):
                k = int(switch[0])
                value = (float(np.nanmedian(size[k:])) if flags is mps2
                         else float(np.median(np.diff(data[k:, 0]))))
                return k, step_s, self._fail(fault.format(value), lines[k])
        return len(window), step_s, None

    def _block(self, rows: list[list[float]]) -> SampleBlock:
        data = np.asarray(rows, dtype=np.float64)
        return SampleBlock(data[:, 0], data[:, 1:4], data[:, 4:7] if data.shape[1] == 7 else None)

    def _rows(self, reader: Iterator[list[str]], columns: list[str], where: list[int],
              width: int) -> Iterator[tuple[int, list[float]]]:
        """Each row's line number and values; a malformed one, or time going back, raises.

        Values that are not finite or absurdly large are passed on: the pipeline drops
        them as bad samples and says how many, where one such value must not cost the
        whole file. Equal timestamps are passed on too (host-stamped files have them).
        """
        prev_t, prev_text = -math.inf, ""
        for row in reader:
            self._line = line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue    # blank lines carry nothing
            if len(row) != width:
                raise self._fail(f"expected {width} cells, got {len(row)}", line)
            values = []
            for name, i in zip(columns, where, strict=True):
                text = row[i].strip()
                try:
                    value = float(text)
                except ValueError:
                    fault = (f"column '{name}' is empty" if not text
                             else f"column '{name}': '{text}' is not a number")
                    raise self._fail(fault, line) from None
                values.append(value)
            t_text = row[where[0]].strip()
            if values[0] < prev_t:
                raise self._fail(f"time goes backwards: t={t_text} after t={prev_text}", line)
            if math.isfinite(values[0]):
                prev_t, prev_text = values[0], t_text
            yield line, values

    def _read(self) -> Iterator[SampleBlock]:
        self._line = 0
        try:
            reader = csv.reader(self._file)
            header = next(reader, None)
            self._line = 1
            if header is None or not any(h.strip() for h in header):
                raise self._fail("empty file: expected a header row 't,ax,ay,az'", 1)
            columns, where = self._columns(header)
            good = self._rows(reader, columns, where, len(header))
            rows: list[list[float]] = []
            step_s: float | None = None
            fault: InputError | None = None
            seen = False
            window: list[tuple[int, list[float]]] = []
            while True:
                # rows are checked for their units a window at a time, and held back until
                # enough rows after them show whether a unit changed there; a bad line ends
                # the file, and the rows before it still go on
                try:
                    for item in good:
                        window.append(item)
                        if len(window) == UNIT_CHECK_ROWS:
                            break
                except InputError as exc:
                    fault = exc
                if not window:
                    break
                seen = True
                end = fault is not None or len(window) < UNIT_CHECK_ROWS
                ok, step_s, bad_unit = self._check_units(
                    window, step_s, UNIT_TAIL_ROWS if not end else min(UNIT_TAIL_ROWS, 20))
                fault = bad_unit or fault
                done = fault is not None or end
                release = ok if bad_unit or done else min(ok, len(window) - UNIT_TAIL_ROWS)
                for _, values in window[:release]:
                    rows.append(values)
                    if len(rows) == self.block_size:
                        yield self._block(rows)
                        rows = []
                window = window[release:]
                if done:
                    break
            if rows:
                yield self._block(rows)
            if fault:
                raise fault
            if not seen:
                raise self._fail("header but no samples", 2)
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            raise self._fail(f"cannot read: {exc}", self._line + 1) from None
        finally:
            self._file.close()   # read to the end (or the error): the file is done with


def iter_recording(path: str | Path, block_size: int = 4096) -> RecordingReader:
    """Stream a recording in blocks of ``block_size`` samples (see RecordingReader)."""
    return RecordingReader(path, block_size)


def read_recording(path: str | Path) -> SampleBlock:
    """A whole recording as one block."""
    with RecordingReader(path, block_size=1 << 16) as reader:
        return SampleBlock.concat(list(reader))


def write_recording(path: str | Path, block: SampleBlock) -> None:
    """Write a block as a recording; with gyro columns when the block has a gyro."""
    write_rows(path, block.t, block.accel_g, block.gyro_dps)


def write_rows(path: str | Path, t: np.ndarray, accel_g: np.ndarray,
               gyro_dps: np.ndarray | None = None) -> None:
    """Write columns as a recording, whatever they hold.

    Unlike a :class:`SampleBlock`, the columns are not checked: tests and benchmarks use
    this to write the files real loggers produce, such as repeated host timestamps or a
    stray ``nan``.
    """
    columns = [TIME, *ACCEL]
    data = [np.asarray(t, dtype=float)[:, None], accel_g]
    formats = ["%.6f"] * 4
    if gyro_dps is not None:
        columns += GYRO
        data.append(gyro_dps)
        formats += ["%.4f"] * 3
    with _open(Path(path), "w") as f:
        f.write(",".join(columns) + "\n")
        np.savetxt(f, np.hstack(data), fmt=formats, delimiter=",")


class RecordingSource:
    """A recording replayed as a sensor (a :class:`Source`).

    ``speed`` None delivers blocks as fast as they are taken (analysis, tests);
    a number paces them on the recording's own clock (1.0 = real time).
    """

    def __init__(self, path: str | Path, block_size: int = 10,
                 speed: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.path = Path(path)
        self.speed = speed
        self._reader = RecordingReader(self.path, block_size)

    def __iter__(self) -> Iterator[SampleBlock]:
        if self.speed is None:
            return iter(self._reader)
        return paced(self._reader, self.speed)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> RecordingSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
