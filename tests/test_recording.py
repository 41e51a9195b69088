"""Recordings: round trips, streaming, and one-line errors that say where a file is bad."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from pi_service.errors import InputError
from pi_service.samples import SampleBlock
from pi_service.sources.perturb import write_ms_time, write_unit_change
from pi_service.sources.recording import (
    RecordingSource,
    iter_recording,
    read_recording,
    write_recording,
)


def _block(n: int = 300, gyro: bool = False, seed: int = 0) -> SampleBlock:
    """Standing samples with noise: gravity mostly on z, as a real file starts."""
    rng = np.random.default_rng(seed)
    t = 12.5 + np.cumsum(rng.uniform(0.008, 0.012, n))
    accel = np.array([0.05, -0.02, 0.98]) + rng.normal(0, 0.003, (n, 3))
    rate = rng.normal(0, 2.0, (n, 3)) if gyro else None
    return SampleBlock(t, accel, rate)


def _rows(n: int, start_s: float = 0.0) -> list[str]:
    return [f"{start_s + 0.01 * i:.2f},0.01,0.02,0.99" for i in range(n)]


def _write(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("gyro", [False, True])
@pytest.mark.parametrize("name", ["rec.csv", "rec.csv.gz"])
def test_round_trip(tmp_path, gyro, name):
    block = _block(gyro=gyro)
    path = tmp_path / name
    write_recording(path, block)
    back = read_recording(path)
    np.testing.assert_allclose(back.t, block.t, atol=5e-7)
    np.testing.assert_allclose(back.accel_g, block.accel_g, atol=5e-7)
    if gyro:
        np.testing.assert_allclose(back.gyro_dps, block.gyro_dps, atol=5e-5)
    else:
        assert back.gyro_dps is None
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as f:
            assert f.readline().strip() == ("t,ax,ay,az,gx,gy,gz" if gyro else "t,ax,ay,az")


def test_streaming_in_blocks_equals_reading_whole(tmp_path):
    path = tmp_path / "rec.csv.gz"
    write_recording(path, _block(n=1003, gyro=True))
    whole = read_recording(path)
    with iter_recording(path, block_size=64) as reader:
        blocks = list(reader)
    assert [len(b) for b in blocks] == [64] * 15 + [43]
    joined = SampleBlock.concat(blocks)
    np.testing.assert_array_equal(joined.t, whole.t)
    np.testing.assert_array_equal(joined.accel_g, whole.accel_g)
    np.testing.assert_array_equal(joined.gyro_dps, whole.gyro_dps)


def test_column_order_is_free_and_extra_columns_are_ignored(tmp_path):
    path = _write(tmp_path / "odd.csv", [
        "\ufeffaz, t ,note,AX,ay",      # as a spreadsheet saves it: BOM, spaces, capitals
        *[f"0.99,{0.01 * i:.2f},hello,0.01,0.02" for i in range(60)],
        "",          # a trailing blank line is harmless
    ])
    block = read_recording(path)
    assert len(block) == 60 and block.gyro_dps is None
    np.testing.assert_allclose(block.accel_g[0], [0.01, 0.02, 0.99])
    np.testing.assert_allclose(block.t[:3], [0.0, 0.01, 0.02])


GOOD = _rows(60)

BAD = [
    # (lines, line, fault)
    (["t,ax,ay", *(r.rsplit(",", 1)[0] for r in GOOD)], 1,
     "missing column 'az'; header is 't,ax,ay'"),
    (["t,ax,ay,az,gx,gy", *(r + ",1,2" for r in GOOD)], 1,
     "missing column 'gz' (a gyro needs gx, gy and gz); header is 't,ax,ay,az,gx,gy'"),
    (["t,ax,ay,az", *GOOD[:10], "0.10,0.01,abc,0.99", *GOOD[11:]], 12,
     "column 'ay': 'abc' is not a number"),
    (["t,ax,ay,az", *GOOD[:20], "0.20,0.01,,0.99", *GOOD[21:]], 22, "column 'ay' is empty"),
    (["t,ax,ay,az", *GOOD[:5], "0.05,0.01,0.99", *GOOD[6:]], 7, "expected 4 cells, got 3"),
    (["t,ax,ay,az", *GOOD[:5], "0.05,0.01,0.02,0.99,7", *GOOD[6:]], 7,
     "expected 4 cells, got 5"),
    (["t,ax,ay,az", *GOOD[:40], "0.35,0.01,0.02,0.99", *GOOD[41:]], 42,
     "time goes backwards: t=0.35 after t=0.39"),
    ([], 1, "empty file: expected a header row 't,ax,ay,az'"),
    (["t,ax,ay,az"], 2, "header but no samples"),
    (["t,ax,ay,az", *(f"{0.01 * i:.2f},0.1,0.2,9.8" for i in range(60))], 2,
     "accelerations look like m/s² (|a| ≈ 9.80), expected g"),
    (["t,ax,ay,az", *(f"{0.01 * i:.2f},0.0,0.0,0.3" for i in range(60))], 2,
     "gravity magnitude implausible: median |a| ≈ 0.3 g over the first 60 samples, "
     "expected ≈ 1 g"),
    (["t,ax,ay,az", *(f"{10 * i},0.01,0.02,0.99" for i in range(60))], 2,
     "t steps by 10 between samples: t looks like it is in milliseconds, expected seconds"),
]


@pytest.mark.parametrize(("lines", "line", "fault"), BAD, ids=[b[2][:30] for b in BAD])
def test_bad_input_gives_one_line_naming_file_line_and_fault(tmp_path, lines, line, fault):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_recording(path)
    assert str(caught.value) == f"{path}:{line}: {fault}"
    assert "\n" not in str(caught.value)
    assert (caught.value.line, caught.value.fault) == (line, fault)


def test_unreadable_values_and_shared_stamps_are_passed_on_for_the_pipeline(tmp_path):
    """One absurd value must not cost a file: the pipeline drops and counts it."""
    path = _write(tmp_path / "odd.csv", ["t,ax,ay,az", *GOOD[:30], "0.30,nan,0.02,0.99",
                                         "0.31,0.01,inf,0.99", "0.32,1e308,0.02,0.99",
                                         "0.32,0.01,0.02,0.99", *GOOD[33:]])
    block = read_recording(path)
    assert len(block) == 61
    assert np.isnan(block.accel_g[30, 0]) and np.isinf(block.accel_g[31, 1])
    assert block.t[32] == block.t[33] == pytest.approx(0.32)


@pytest.mark.parametrize("after", [150, 2345])
def test_a_unit_that_changes_mid_file_is_refused_where_it_changes(tmp_path, after):
    block = _block(n=3000)
    path = tmp_path / "mps.csv"
    write_unit_change(path, block, after)
    got = []
    with pytest.raises(InputError) as caught:
        for b in iter_recording(path, block_size=64):
            got.append(b)
    assert caught.value.line == after + 2          # the header is line 1
    assert "m/s²" in caught.value.fault
    assert sum(len(b) for b in got) == after       # everything before it is kept


def test_time_in_milliseconds_is_refused(tmp_path):
    path = tmp_path / "ms.csv"
    write_ms_time(path, _block(n=300))
    with pytest.raises(InputError, match=r"ms\.csv:2: t steps by 10(\.\d+)? between samples: t "
                                         r"looks like it is in milliseconds"):
        read_recording(path)


def test_time_turning_to_milliseconds_mid_file_is_refused_there(tmp_path):
    path = _write(tmp_path / "tms.csv", ["t,ax,ay,az", *_rows(500),
                                         *(f"{5000 + 10 * i},0.01,0.02,0.99" for i in range(500))])
    got = []
    with pytest.raises(InputError, match=r"tms\.csv:502: t turns to steps of 10 here"):
        for b in iter_recording(path, block_size=64):
            got.append(b)
    assert sum(len(b) for b in got) == 500


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: cannot read: No such file"):
        iter_recording(tmp_path / "nope.csv")


def test_blocks_before_a_bad_line_are_delivered(tmp_path):
    path = _write(tmp_path / "late.csv",
                  ["t,ax,ay,az", *_rows(100), "1.00,0.01,oops,0.99", *_rows(50, 1.01)])
    got = []
    with pytest.raises(InputError, match=r"late\.csv:102: column 'ay': 'oops'"):
        for block in iter_recording(path, block_size=10):
            got.append(block)
    assert sum(len(b) for b in got) == 100
    assert SampleBlock.concat(got).t[-1] == pytest.approx(0.99)


def test_a_bad_line_among_the_first_rows_still_delivers_those_before_it(tmp_path):
    path = _write(tmp_path / "early.csv", ["t,ax,ay,az", *_rows(25), "0.25,0.01,0.02"])
    got = []
    with pytest.raises(InputError, match=r"early\.csv:27: expected 4 cells, got 3"):
        for block in iter_recording(path, block_size=10):
            got.append(block)
    assert [len(b) for b in got] == [10, 10, 5]


def test_truncated_gzip_keeps_what_was_recorded(tmp_path):
    path = tmp_path / "cut.csv.gz"
    write_recording(path, _block(n=20000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(InputError, match=r"cut\.csv\.gz:\d+: cannot read"):
        for block in iter_recording(path, block_size=100):
            got.append(block)
    assert 5000 < sum(len(b) for b in got) < 20000


def test_recording_source_replays_blocks_and_closes_idempotently(tmp_path):
    path = tmp_path / "rec.csv"
    block = _block(n=95)
    write_recording(path, block)
    with RecordingSource(path) as source:
        blocks = list(source)
    assert [len(b) for b in blocks] == [10] * 9 + [5]
    np.testing.assert_allclose(SampleBlock.concat(blocks).t, block.t, atol=5e-7)
    source.close()

    paced = RecordingSource(path, block_size=50, speed=1e6)
    assert sum(len(b) for b in paced) == 95
    paced.close()

    stopped = RecordingSource(path)
    taken = []
    for b in stopped:
        taken.append(b)
        stopped.close()
    assert len(taken) == 1
