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
import itertools
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
UNIT_CHECK_ROWS = 50            # rows whose median |a| tells g from m/s²
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

    def _check_units(self, rows: list[list[float]], first_line: int) -> None:
        """Tell g from m/s² by the size of gravity in the first rows."""
        accel = np.asarray(rows[:UNIT_CHECK_ROWS])[:, 1:4]
        magnitude = float(np.median(np.linalg.norm(accel, axis=1)))
        if GRAVITY_MPS2[0] <= magnitude <= GRAVITY_MPS2[1]:
            raise self._fail(f"accelerations look like m/s² (|a| ≈ {magnitude:.2f}), "
                             "expected g", first_line)
        if not GRAVITY_G[0] <= magnitude <= GRAVITY_G[1]:
            raise self._fail(f"gravity magnitude implausible: median |a| ≈ {magnitude:.3g} g "
                             f"over the first {min(len(rows), UNIT_CHECK_ROWS)} samples, "
                             "expected ≈ 1 g", first_line)

    def _block(self, rows: list[list[float]]) -> SampleBlock:
        data = np.asarray(rows, dtype=np.float64)
        return SampleBlock(data[:, 0], data[:, 1:4], data[:, 4:7] if data.shape[1] == 7 else None)

    def _rows(self, reader: Iterator[list[str]], columns: list[str], where: list[int],
              width: int) -> Iterator[tuple[int, list[float]]]:
        """Each good row's line number and values; the first bad one raises."""
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
                if not math.isfinite(value):
                    raise self._fail(f"column '{name}': '{text}' is not a finite number", line)
                values.append(value)
            t_text = row[where[0]].strip()
            if values[0] <= prev_t:
                how = "repeats" if values[0] == prev_t else "goes backwards"
                raise self._fail(f"time {how}: t={t_text} after t={prev_text}", line)
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
            # the first rows decide the unit; a bad line among them still lets the
            # good rows before it through, as it would anywhere later in the file
            head: list[list[float]] = []
            first_line, fault = 0, None
            try:
                for line, values in good:
                    first_line = first_line or line
                    head.append(values)
                    if len(head) == UNIT_CHECK_ROWS:
                        break
            except InputError as exc:
                fault = exc
            if not head:
                raise fault or self._fail("header but no samples", 2)
            self._check_units(head, first_line)
            rows: list[list[float]] = []
            rest = () if fault else (values for _, values in good)
            for values in itertools.chain(head, rest):
                rows.append(values)
                if len(rows) == self.block_size:
                    yield self._block(rows)
                    rows = []
            if rows:
                yield self._block(rows)
            if fault:
                raise fault
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
