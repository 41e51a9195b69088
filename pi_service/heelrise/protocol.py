"""The heel-rise test's protocol, read from the clinician-editable ``heelrise.toml``.

Both termination thresholds, the metronome, the warm-up, the rest between legs and the
norms shown beside a result are data, so a clinic that runs the test differently
edits a file, not the code; a bad value is one line naming the file, line and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..datafile import load_toml
from ..schema import integer, number, string, table


@dataclass(frozen=True)
class TestProtocol:
    """How the test is run and judged (see heelrise.toml for each figure's meaning)."""

    bpm: float = 60.0
    count_in_beats: int = 4
    warm_up_raises: int = 10
    rest_between_legs_s: float = 120.0
    height_share: float = 0.5
    best_of_first: int = 5
    pace_tolerance_beats: float = 0.5
    misses_to_stop: int = 2
    norms_source: str = ""
    median_reps_men: float = 24.0
    median_reps_women: float = 21.0
    path: str = "<heelrise.toml>"

    @property
    def beat_s(self) -> float:
        """Seconds between beats."""
        return 60.0 / self.bpm


SCHEMA = table("the heel-rise test protocol", {
    "metronome": table("[metronome]", {
        "bpm": number("beats a minute (a raise takes two)", 20, 240),
        "count_in_beats": integer("beats played before the first raise is due", 0, 16),
    }),
    "warm_up": table("[warm_up]", {"raises": integer("bilateral warm-up raises", 0, 50)}),
    "rest": table("[rest]", {"between_legs_s": number("rest before the other leg", 0, 3600)}),
    "stop": table("[stop]", {
        "height_share": number("share of the best height a raise must reach", 0.05, 1),
        "best_of_first": integer("the best of this many first raises", 1, 50),
        "pace_tolerance_beats": number("how far off its beat a raise may end", 0.05, 2),
        "misses_to_stop": integer("consecutive misses that end the test", 1, 10),
    }),
    "norms": table("[norms]", {
        "source": string("where the norms come from", max_len=400),
        "median_reps_men": number("healthy men's median raises", 0, 500),
        "median_reps_women": number("healthy women's median raises", 0, 500),
    }),
})
"""The shape of ``heelrise.toml``; a fault names the file, the line and the key."""


def load_test_protocol(path: str | Path | None = None) -> TestProtocol:
    """Read the test protocol; the packaged ``heelrise.toml`` when ``path`` is None."""
    where, raw = load_toml(path, SCHEMA, "heelrise.toml")
    stop, norms = raw["stop"], raw["norms"]
    return TestProtocol(
        bpm=float(raw["metronome"]["bpm"]), count_in_beats=raw["metronome"]["count_in_beats"],
        warm_up_raises=raw["warm_up"]["raises"],
        rest_between_legs_s=float(raw["rest"]["between_legs_s"]),
        height_share=float(stop["height_share"]), best_of_first=stop["best_of_first"],
        pace_tolerance_beats=float(stop["pace_tolerance_beats"]),
        misses_to_stop=stop["misses_to_stop"], norms_source=norms["source"],
        median_reps_men=float(norms["median_reps_men"]),
        median_reps_women=float(norms["median_reps_women"]), path=str(where))
